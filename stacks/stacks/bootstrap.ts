import { AwsProvider } from '@cdktf/provider-aws/lib/provider/index.js';
import { LocalBackend, TerraformOutput, TerraformStack } from 'cdktf';
import type { Construct } from 'constructs';
import type { Platform } from '../../model/schema.js';
import { platformBackend } from '../backend.js';
import { HardenedBucket } from '../constructs/hardened-bucket.js';

export type BootstrapBackend = { readonly kind: 'local'; readonly path: string } | { readonly kind: 's3' };

export interface BootstrapStackProps {
  readonly platform: Platform;
  /**
   * Where this stack keeps its own state. `local` the first time (the bucket does not exist yet),
   * then `s3` once `cdktf deploy bootstrap --migrate-state` has moved it into the bucket.
   */
  readonly backend: BootstrapBackend;
}

/** The Terraform state bucket every other stack keeps its state in. */
export class BootstrapStack extends TerraformStack {
  readonly stateBucket: HardenedBucket;

  constructor(scope: Construct, id: string, props: BootstrapStackProps) {
    super(scope, id);
    const p = props.platform;
    if (props.backend.kind === 'local') new LocalBackend(this, { path: props.backend.path });
    else platformBackend(this, p, 'bootstrap');
    new AwsProvider(this, 'aws', { region: p.aws.region, defaultTags: [{ tags: { platform: p.name, stack: id, 'managed-by': 'cdktf' } }] });

    const b = p.aws.buckets.tfstate;
    this.stateBucket = new HardenedBucket(this, 'tfstate', {
      bucketName: b.name,
      noncurrentDays: b.retention.noncurrentDays,
      noncurrentNewerVersions: b.retention.noncurrentNewerVersions,
      currentDays: b.retention.currentDays,
      abortMultipartDays: b.retention.abortMultipartDays,
      // Losing this bucket loses every stack's state.
      preventDestroy: true,
    });
    new TerraformOutput(this, 'state_bucket', {
      value: this.stateBucket.bucket.bucket,
      description: 'bucket holding the state of every other stack',
    });
  }
}
