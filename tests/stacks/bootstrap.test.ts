import { Testing } from 'cdktf';
import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket/index.js';
import { S3BucketLifecycleConfiguration } from '@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration/index.js';
import { S3BucketOwnershipControls } from '@cdktf/provider-aws/lib/s3-bucket-ownership-controls/index.js';
import { S3BucketPublicAccessBlock } from '@cdktf/provider-aws/lib/s3-bucket-public-access-block/index.js';
import { S3BucketServerSideEncryptionConfigurationA } from '@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration/index.js';
import { S3BucketVersioningA } from '@cdktf/provider-aws/lib/s3-bucket-versioning/index.js';
import { TerraformStack } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { HardenedBucket } from '../../stacks/constructs/hardened-bucket.js';
import { StackError } from '../../stacks/errors.js';
import { MODELS, resourceList, synthFile } from './helpers.js';

describe('bootstrap stack', () => {
  const s = synthFile(MODELS.example);
  const tf = s.json.bootstrap;
  const text = s.text.bootstrap;

  it('keeps its own state in a local file at the repository root until migrated', () => {
    expect(tf.terraform.backend).toEqual({ local: { path: '../../../terraform.bootstrap.tfstate' } });
  });

  it('moves onto the state bucket with locking once migrated', () => {
    const migrated = synthFile(MODELS.example, { bootstrapBackend: 's3' }).json.bootstrap;
    expect(migrated.terraform.backend).toEqual({
      s3: {
        bucket: 'davidcockson-tfstate',
        key: 'davidcockson-platform/bootstrap.tfstate',
        region: 'us-east-1',
        encrypt: true,
        use_lockfile: true,
      },
    });
  });

  it('creates the state bucket from the model, protected from destroy', () => {
    expect(
      Testing.toHaveResourceWithProperties(text, S3Bucket.tfResourceType, {
        bucket: 'davidcockson-tfstate',
        lifecycle: { prevent_destroy: true },
      }),
    ).toBe(true);
    expect(resourceList(tf, S3Bucket.tfResourceType)).toHaveLength(1);
  });

  it('hardens it: versioning, SSE, public access blocks, BucketOwnerEnforced', () => {
    expect(
      Testing.toHaveResourceWithProperties(text, S3BucketVersioningA.tfResourceType, { versioning_configuration: { status: 'Enabled' } }),
    ).toBe(true);
    expect(
      Testing.toHaveResourceWithProperties(text, S3BucketServerSideEncryptionConfigurationA.tfResourceType, {
        rule: [{ apply_server_side_encryption_by_default: { sse_algorithm: 'AES256' }, bucket_key_enabled: true }],
      }),
    ).toBe(true);
    expect(
      Testing.toHaveResourceWithProperties(text, S3BucketPublicAccessBlock.tfResourceType, {
        block_public_acls: true,
        block_public_policy: true,
        ignore_public_acls: true,
        restrict_public_buckets: true,
      }),
    ).toBe(true);
    expect(
      Testing.toHaveResourceWithProperties(text, S3BucketOwnershipControls.tfResourceType, {
        rule: { object_ownership: 'BucketOwnerEnforced' },
      }),
    ).toBe(true);
  });

  it('expires superseded versions per the model and aborts stale multipart uploads', () => {
    expect(
      Testing.toHaveResourceWithProperties(text, S3BucketLifecycleConfiguration.tfResourceType, {
        rule: [
          {
            id: 'retention',
            status: 'Enabled',
            filter: [{ prefix: '' }],
            noncurrent_version_expiration: [{ noncurrent_days: 90, newer_noncurrent_versions: 10 }],
            abort_incomplete_multipart_upload: [{ days_after_initiation: 7 }],
            expiration: [{ expired_object_delete_marker: true }],
          },
        ],
      }),
    ).toBe(true);
  });

  it('denies every request made without TLS', () => {
    const [policy] = resourceList(tf, 'aws_s3_bucket_policy');
    const doc = JSON.parse(String(policy!.policy)) as { Statement: Record<string, unknown>[] };
    expect(doc.Statement).toEqual([
      {
        Sid: 'DenyInsecureTransport',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:*',
        Resource: [expect.stringMatching(/^\$\{aws_s3_bucket\.tfstate_bucket_[A-F0-9]+\.arn\}$/), expect.stringMatching(/\.arn\}\/\*$/)],
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
    ]);
    expect(policy!.depends_on).toEqual([expect.stringMatching(/^aws_s3_bucket_public_access_block\./)]);
  });

  it('runs the AWS provider in the model region', () => {
    expect(Testing.toHaveProviderWithProperties(text, 'aws', { region: 'us-east-1' })).toBe(true);
  });
});

describe('HardenedBucket props', () => {
  const stackWith = (props: Partial<ConstructorParameters<typeof HardenedBucket>[2]>): void => {
    const app = Testing.app();
    const stack = new TerraformStack(app, 'test');
    new HardenedBucket(stack, 'b', { bucketName: 'fine-name', noncurrentDays: 30, abortMultipartDays: 7, ...props });
  };

  it('rejects what S3 would reject, every problem at once', () => {
    let caught: unknown;
    try {
      stackWith({ bucketName: 'Bad_Name', noncurrentDays: 0, noncurrentNewerVersions: 101 });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(StackError);
    const err = caught as StackError;
    expect(err.code).toBe('STACK_PROPS_INVALID');
    expect(err.message).toContain('bucket name "Bad_Name"');
    expect(err.message).toContain('noncurrentDays is 0');
    expect(err.message).toContain('noncurrentNewerVersions is 101');
  });

  it('accepts a valid bucket', () => {
    expect(() => stackWith({})).not.toThrow();
  });
});
