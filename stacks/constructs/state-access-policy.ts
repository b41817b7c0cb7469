import { IamPolicy } from '@cdktf/provider-aws/lib/iam-policy/index.js';
import { Construct } from 'constructs';
import { BucketNameSchema } from '../../model/schema.js';
import { checkProps } from '../errors.js';
import { policyDocument } from '../literal.js';

export interface StateAccessPolicyProps {
  readonly policyName: string;
  /** The state bucket, by name: it belongs to the bootstrap stack, whose state is local. */
  readonly stateBucketName: string;
  /** Object keys of the remote states, e.g. "platform/storage.tfstate". */
  readonly stateKeys: readonly string[];
}

/**
 * What a deployer needs on the state bucket and nothing more: list the platform's prefix, read and
 * write each state object, and create and remove its `<key>.tflock` lock object (native S3 locking).
 * A managed policy for the operator to attach to whoever runs `cdktf deploy`.
 */
export class StateAccessPolicy extends Construct {
  readonly policy: IamPolicy;

  constructor(scope: Construct, id: string, props: StateAccessPolicyProps) {
    super(scope, id);
    checkProps(this, [
      ...(BucketNameSchema.safeParse(props.stateBucketName).success
        ? []
        : [`bucket name "${props.stateBucketName}" is not a name S3 accepts`]),
      ...(props.stateKeys.length > 0 ? [] : ['no state keys']),
      ...props.stateKeys
        .filter((k) => !k.endsWith('.tfstate') || k.includes('*'))
        .map((k) => `state key "${k}" must be one object ending in .tfstate`),
    ]);
    const bucketArn = `arn:aws:s3:::${props.stateBucketName}`;
    const prefixes = [...new Set(props.stateKeys.map((k) => k.slice(0, k.lastIndexOf('/') + 1)))];
    this.policy = new IamPolicy(this, 'policy', {
      name: props.policyName,
      description: 'Terraform state and lock objects of the platform stacks',
      policy: policyDocument({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'ListStatePrefix',
            Effect: 'Allow',
            Action: ['s3:ListBucket'],
            Resource: [bucketArn],
            Condition: { StringLike: { 's3:prefix': prefixes.map((p) => `${p}*`) } },
          },
          {
            Sid: 'ReadWriteState',
            Effect: 'Allow',
            Action: ['s3:GetObject', 's3:PutObject'],
            Resource: props.stateKeys.map((k) => `${bucketArn}/${k}`),
          },
          {
            Sid: 'LockFiles',
            Effect: 'Allow',
            Action: ['s3:DeleteObject', 's3:GetObject', 's3:PutObject'],
            Resource: props.stateKeys.map((k) => `${bucketArn}/${k}.tflock`),
          },
        ],
      }),
    });
  }
}
