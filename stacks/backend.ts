import { S3Backend, type TerraformStack } from 'cdktf';
import type { Platform } from '../model/schema.js';
import { stateKey, type StackName } from './naming.js';

/**
 * The S3 backend every stack but bootstrap uses (bootstrap too, once migrated): state in the
 * model's tfstate bucket under `stateKey`, encrypted, with Terraform's native S3 locking (a
 * `<key>.tflock` object next to the state, no DynamoDB table).
 */
export function platformBackend(stack: TerraformStack, p: Platform, name: StackName): S3Backend {
  const backend = new S3Backend(stack, { bucket: p.aws.buckets.tfstate.name, key: stateKey(p, name), region: p.aws.region, encrypt: true });
  // CDKTF 0.21's S3BackendConfig predates `use_lockfile` (Terraform 1.10+): this is the one override.
  backend.addOverride('use_lockfile', true);
  return backend;
}
