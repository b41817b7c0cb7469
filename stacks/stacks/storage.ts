import { AwsProvider } from '@cdktf/provider-aws/lib/provider/index.js';
import { TerraformOutput, TerraformStack } from 'cdktf';
import type { Construct } from 'constructs';
import type { Bucket, Platform } from '../../model/schema.js';
import { platformBackend } from '../backend.js';
import { HardenedBucket } from '../constructs/hardened-bucket.js';
import { ServiceUser } from '../constructs/service-user.js';
import { StateAccessPolicy } from '../constructs/state-access-policy.js';
import { STACK_ORDER, stateKey } from '../naming.js';

export interface StorageStackProps {
  readonly platform: Platform;
}

const bucketProps = (b: Bucket) => ({
  bucketName: b.name,
  noncurrentDays: b.retention.noncurrentDays,
  noncurrentNewerVersions: b.retention.noncurrentNewerVersions,
  currentDays: b.retention.currentDays,
  abortMultipartDays: b.retention.abortMultipartDays,
});

/** The vault-snapshot and artifact buckets, the service user scoped to them, and state access. */
export class StorageStack extends TerraformStack {
  readonly vaultSnapshots: HardenedBucket;
  readonly artifacts: HardenedBucket;
  readonly serviceUser: ServiceUser;

  constructor(scope: Construct, id: string, props: StorageStackProps) {
    super(scope, id);
    const p = props.platform;
    platformBackend(this, p, 'storage');
    new AwsProvider(this, 'aws', { region: p.aws.region, defaultTags: [{ tags: { platform: p.name, stack: id, 'managed-by': 'cdktf' } }] });

    this.vaultSnapshots = new HardenedBucket(this, 'vault-snapshots', bucketProps(p.aws.buckets['vault-snapshots']));
    this.artifacts = new HardenedBucket(this, 'artifacts', bucketProps(p.aws.buckets.artifacts));
    this.serviceUser = new ServiceUser(this, 'service-user', {
      userName: p.aws.serviceUser,
      buckets: [this.vaultSnapshots, this.artifacts],
    });
    new StateAccessPolicy(this, 'state-access', {
      policyName: `${p.name}-terraform-state`,
      stateBucketName: p.aws.buckets.tfstate.name,
      stateKeys: STACK_ORDER.map((s) => stateKey(p, s)),
    });
    new TerraformOutput(this, 'service_user', {
      value: this.serviceUser.user.name,
      description: 'create its access key by hand; Terraform never holds it',
    });
  }
}
