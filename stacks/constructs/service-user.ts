import { IamPolicy } from '@cdktf/provider-aws/lib/iam-policy/index.js';
import { IamUser } from '@cdktf/provider-aws/lib/iam-user/index.js';
import { IamUserPolicyAttachment } from '@cdktf/provider-aws/lib/iam-user-policy-attachment/index.js';
import { Construct } from 'constructs';
import { NameSchema } from '../../model/schema.js';
import { checkProps } from '../errors.js';
import { policyDocument } from '../literal.js';
import type { HardenedBucket } from './hardened-bucket.js';

/** Bucket-level actions the hosts need: list and locate, nothing that changes the bucket. */
export const SERVICE_BUCKET_ACTIONS = ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'] as const;
/** Object-level actions: read, write, delete and multipart clean-up, by name. */
export const SERVICE_OBJECT_ACTIONS = [
  's3:AbortMultipartUpload',
  's3:DeleteObject',
  's3:GetObject',
  's3:GetObjectVersion',
  's3:ListMultipartUploadParts',
  's3:PutObject',
] as const;

export interface ServiceUserProps {
  readonly userName: string;
  /** The only buckets the user may touch. */
  readonly buckets: readonly HardenedBucket[];
}

/**
 * The IAM user the hosts use for snapshots and artifacts, with one managed policy that names each
 * bucket and each action. Access keys are made by hand (or by a rotation job), never by Terraform,
 * so no key ever lands in state.
 */
export class ServiceUser extends Construct {
  readonly user: IamUser;
  readonly policy: IamPolicy;

  constructor(scope: Construct, id: string, props: ServiceUserProps) {
    super(scope, id);
    checkProps(this, [
      ...(NameSchema.safeParse(props.userName).success ? [] : [`user name "${props.userName}" is not a lower-case name`]),
      ...(props.buckets.length > 0 ? [] : ['no buckets: a service user with nothing to reach has no reason to exist']),
    ]);

    this.user = new IamUser(this, 'user', { name: props.userName });
    this.policy = new IamPolicy(this, 'policy', {
      name: `${props.userName}-buckets`,
      description: `Object and list access to ${props.buckets.length} platform buckets, by name`,
      policy: policyDocument({
        Version: '2012-10-17',
        Statement: [
          { Sid: 'ListBuckets', Effect: 'Allow', Action: [...SERVICE_BUCKET_ACTIONS], Resource: props.buckets.map((b) => b.arn) },
          { Sid: 'ObjectAccess', Effect: 'Allow', Action: [...SERVICE_OBJECT_ACTIONS], Resource: props.buckets.map((b) => b.objectsArn) },
        ],
      }),
    });
    new IamUserPolicyAttachment(this, 'attachment', { user: this.user.name, policyArn: this.policy.arn });
  }
}
