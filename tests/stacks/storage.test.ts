import { Testing } from 'cdktf';
import { IamUser } from '@cdktf/provider-aws/lib/iam-user/index.js';
import { IamUserPolicyAttachment } from '@cdktf/provider-aws/lib/iam-user-policy-attachment/index.js';
import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket/index.js';
import { describe, expect, it } from 'vitest';
import { MODELS, refId, resources, resourceList, synthFile } from './helpers.js';

type PolicyDoc = { Statement: { Sid: string; Effect: string; Action: string[]; Resource: string[]; Condition?: unknown }[] };

describe('storage stack', () => {
  const s = synthFile(MODELS.example);
  const tf = s.json.storage;
  const text = s.text.storage;
  const bucketNameById = Object.fromEntries(
    Object.entries(resources(tf, S3Bucket.tfResourceType)).map(([id, b]) => [id, b.bucket as string]),
  );
  const policies = Object.fromEntries(
    resourceList(tf, 'aws_iam_policy').map((p) => [p.name as string, JSON.parse(p.policy as string) as PolicyDoc]),
  );

  it('keeps its state in the state bucket, encrypted, with native locking', () => {
    expect(tf.terraform.backend).toEqual({
      s3: {
        bucket: 'davidcockson-tfstate',
        key: 'davidcockson-platform/storage.tfstate',
        region: 'us-east-1',
        encrypt: true,
        use_lockfile: true,
      },
    });
  });

  it('creates the vault-snapshot and artifact buckets with the model retention', () => {
    expect(Object.values(bucketNameById).sort()).toEqual(['davidcockson-artifacts', 'davidcockson-vault-snapshots']);
    const lifecycles = resourceList(tf, 'aws_s3_bucket_lifecycle_configuration').map((l) => {
      const bucket = refId(l.bucket as string, 'aws_s3_bucket', 'id')!;
      return [bucketNameById[bucket], (l.rule as Record<string, unknown>[])[0]];
    });
    expect(Object.fromEntries(lifecycles)).toEqual({
      'davidcockson-vault-snapshots': {
        id: 'retention',
        status: 'Enabled',
        filter: [{ prefix: '' }],
        expiration: [{ days: 30 }],
        noncurrent_version_expiration: [{ noncurrent_days: 7 }],
        abort_incomplete_multipart_upload: [{ days_after_initiation: 7 }],
      },
      'davidcockson-artifacts': {
        id: 'retention',
        status: 'Enabled',
        filter: [{ prefix: '' }],
        expiration: [{ expired_object_delete_marker: true }],
        noncurrent_version_expiration: [{ noncurrent_days: 30 }],
        abort_incomplete_multipart_upload: [{ days_after_initiation: 7 }],
      },
    });
  });

  it('creates the service user with one policy attached', () => {
    expect(Testing.toHaveResourceWithProperties(text, IamUser.tfResourceType, { name: 'homelab-svc' })).toBe(true);
    expect(resourceList(tf, IamUserPolicyAttachment.tfResourceType)).toHaveLength(1);
    const [attachment] = resourceList(tf, IamUserPolicyAttachment.tfResourceType);
    expect(attachment).toEqual({
      user: expect.stringMatching(/^\$\{aws_iam_user\..*\.name\}$/),
      policy_arn: expect.stringMatching(/^\$\{aws_iam_policy\.service-user_policy_[A-F0-9]+\.arn\}$/),
    });
  });

  it('scopes the service user to exactly the two buckets, action by action', () => {
    const doc = policies['homelab-svc-buckets']!;
    const named = (arns: string[]) =>
      arns.map((a) => `${bucketNameById[refId(a, 'aws_s3_bucket', 'arn')!]}${a.endsWith('/*') ? '/*' : ''}`).sort();
    expect(doc.Statement.map((st) => st.Sid)).toEqual(['ListBuckets', 'ObjectAccess']);
    expect(doc.Statement[0]!.Action).toEqual(['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads']);
    expect(named(doc.Statement[0]!.Resource)).toEqual(['davidcockson-artifacts', 'davidcockson-vault-snapshots']);
    expect(doc.Statement[1]!.Action).toContain('s3:PutObject');
    expect(named(doc.Statement[1]!.Resource)).toEqual(['davidcockson-artifacts/*', 'davidcockson-vault-snapshots/*']);
  });

  it('grants state access to each state object and its .tflock lock object only', () => {
    const doc = policies['davidcockson-platform-terraform-state']!;
    const byId = Object.fromEntries(doc.Statement.map((st) => [st.Sid, st]));
    expect(byId.ListStatePrefix!.Resource).toEqual(['arn:aws:s3:::davidcockson-tfstate']);
    expect(byId.ListStatePrefix!.Condition).toEqual({ StringLike: { 's3:prefix': ['davidcockson-platform/*'] } });
    expect(byId.ReadWriteState!.Resource).toContain('arn:aws:s3:::davidcockson-tfstate/davidcockson-platform/edge.tfstate');
    expect(byId.LockFiles!.Action).toEqual(['s3:DeleteObject', 's3:GetObject', 's3:PutObject']);
    expect(byId.LockFiles!.Resource).toHaveLength(6);
    for (const r of byId.LockFiles!.Resource)
      expect(r).toMatch(/^arn:aws:s3:::davidcockson-tfstate\/davidcockson-platform\/[a-z]+\.tfstate\.tflock$/);
  });

  it('makes no access key, so no key is ever in state', () => {
    expect(resources(tf, 'aws_iam_access_key')).toEqual({});
  });
});
