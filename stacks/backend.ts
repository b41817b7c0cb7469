import { S3Backend, type TerraformStack } from 'cdktf';

export interface PlatformBackendProps {
  /** The state bucket (made by the bootstrap stack). */
  readonly bucket: string;
  readonly key: string;
  readonly region: string;
}

/**
 * The S3 backend every stack but bootstrap uses: encrypted state, and Terraform's native S3
 * locking (a `<key>.tflock` object next to the state, no DynamoDB table).
 */
export function platformBackend(stack: TerraformStack, props: PlatformBackendProps): S3Backend {
  const backend = new S3Backend(stack, { bucket: props.bucket, key: props.key, region: props.region, encrypt: true });
  // CDKTF 0.21's S3BackendConfig predates `use_lockfile` (Terraform 1.10+): this is the one override.
  backend.addOverride('use_lockfile', true);
  return backend;
}
