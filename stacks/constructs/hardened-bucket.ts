import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket/index.js';
import { S3BucketLifecycleConfiguration } from '@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration/index.js';
import { S3BucketOwnershipControls } from '@cdktf/provider-aws/lib/s3-bucket-ownership-controls/index.js';
import { S3BucketPolicy } from '@cdktf/provider-aws/lib/s3-bucket-policy/index.js';
import { S3BucketPublicAccessBlock } from '@cdktf/provider-aws/lib/s3-bucket-public-access-block/index.js';
import { S3BucketServerSideEncryptionConfigurationA } from '@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration/index.js';
import { S3BucketVersioningA } from '@cdktf/provider-aws/lib/s3-bucket-versioning/index.js';
import { Construct } from 'constructs';
import { BucketNameSchema } from '../../model/schema.js';
import { checkProps } from '../errors.js';
import { policyDocument } from '../literal.js';

export interface HardenedBucketProps {
  readonly bucketName: string;
  /** Superseded versions expire after this many days. */
  readonly noncurrentDays: number;
  /** Newest superseded versions kept regardless of age. */
  readonly noncurrentNewerVersions?: number;
  /** Current objects expire after this many days; absent keeps them. */
  readonly currentDays?: number;
  readonly abortMultipartDays: number;
  /** Keep the bucket when the stack is destroyed (the state bucket). */
  readonly preventDestroy?: boolean;
}

/**
 * An S3 bucket nobody can make public: versioned, encrypted at rest (SSE-S3), every public access
 * block on, ACLs disabled (BucketOwnerEnforced), TLS-only by bucket policy, and a lifecycle that
 * expires superseded versions and aborts abandoned multipart uploads.
 */
export class HardenedBucket extends Construct {
  readonly bucket: S3Bucket;
  readonly versioning: S3BucketVersioningA;
  readonly encryption: S3BucketServerSideEncryptionConfigurationA;
  readonly publicAccessBlock: S3BucketPublicAccessBlock;
  readonly ownership: S3BucketOwnershipControls;
  readonly policy: S3BucketPolicy;
  readonly lifecycle: S3BucketLifecycleConfiguration;

  constructor(scope: Construct, id: string, props: HardenedBucketProps) {
    super(scope, id);
    const positive = (n: number | undefined, what: string): string[] =>
      n === undefined || (Number.isInteger(n) && n > 0) ? [] : [`${what} is ${n}; expected a whole number of days above 0`];
    checkProps(this, [
      ...(BucketNameSchema.safeParse(props.bucketName).success ? [] : [`bucket name "${props.bucketName}" is not a name S3 accepts`]),
      ...positive(props.noncurrentDays, 'noncurrentDays'),
      ...positive(props.currentDays, 'currentDays'),
      ...positive(props.abortMultipartDays, 'abortMultipartDays'),
      ...(props.noncurrentNewerVersions === undefined || (props.noncurrentNewerVersions >= 0 && props.noncurrentNewerVersions <= 100)
        ? []
        : [`noncurrentNewerVersions is ${props.noncurrentNewerVersions}; S3 allows 0-100`]),
    ]);

    this.bucket = new S3Bucket(this, 'bucket', {
      bucket: props.bucketName,
      lifecycle: props.preventDestroy ? { preventDestroy: true } : undefined,
    });
    this.ownership = new S3BucketOwnershipControls(this, 'ownership', {
      bucket: this.bucket.id,
      rule: { objectOwnership: 'BucketOwnerEnforced' },
    });
    this.publicAccessBlock = new S3BucketPublicAccessBlock(this, 'public-access-block', {
      bucket: this.bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    this.versioning = new S3BucketVersioningA(this, 'versioning', {
      bucket: this.bucket.id,
      versioningConfiguration: { status: 'Enabled' },
    });
    this.encryption = new S3BucketServerSideEncryptionConfigurationA(this, 'encryption', {
      bucket: this.bucket.id,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' }, bucketKeyEnabled: true }],
    });
    this.policy = new S3BucketPolicy(this, 'tls-only', {
      bucket: this.bucket.id,
      policy: policyDocument({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'DenyInsecureTransport',
            Effect: 'Deny',
            Principal: '*',
            Action: 's3:*',
            Resource: [this.bucket.arn, `${this.bucket.arn}/*`],
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
        ],
      }),
      // A bucket policy put before the public access block could be judged public and refused.
      dependsOn: [this.publicAccessBlock],
    });
    this.lifecycle = new S3BucketLifecycleConfiguration(this, 'lifecycle', {
      bucket: this.bucket.id,
      rule: [
        {
          id: 'retention',
          status: 'Enabled',
          filter: [{ prefix: '' }],
          noncurrentVersionExpiration: [{ noncurrentDays: props.noncurrentDays, newerNoncurrentVersions: props.noncurrentNewerVersions }],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: props.abortMultipartDays }],
          // Without a current-object expiry, still clear delete markers left with no versions behind them.
          expiration: [props.currentDays !== undefined ? { days: props.currentDays } : { expiredObjectDeleteMarker: true }],
        },
      ],
      // Lifecycle rules on versions only make sense once versioning is on.
      dependsOn: [this.versioning],
    });
  }

  get arn(): string {
    return this.bucket.arn;
  }

  /** ARN pattern of every object in the bucket. */
  get objectsArn(): string {
    return `${this.bucket.arn}/*`;
  }
}
