import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { App } from 'cdktf';
import type { Platform } from '../model/schema.js';
import type { DashboardFile } from './constructs/grafana-dashboards.js';
import { BootstrapStack, type BootstrapBackend } from './stacks/bootstrap.js';
import { EdgeStack } from './stacks/edge.js';
import { HostsStack } from './stacks/hosts.js';
import { IdentitiesStack } from './stacks/identities.js';
import { ObservabilityStack } from './stacks/observability.js';
import { StorageStack } from './stacks/storage.js';

export interface PlatformAppProps {
  readonly platform: Platform;
  /** Where cdktf.out goes. */
  readonly outdir: string;
  readonly dashboards: readonly DashboardFile[];
  /** `local` (first bootstrap) or `s3` (after `--migrate-state`). */
  readonly bootstrapBackend: 'local' | 's3';
  /** Directory the local bootstrap state lives in (the repository root). */
  readonly stateDir: string;
}

export interface PlatformStacks {
  readonly bootstrap: BootstrapStack;
  readonly storage: StorageStack;
  readonly identities: IdentitiesStack;
  readonly edge: EdgeStack;
  readonly hosts: HostsStack;
  readonly observability: ObservabilityStack;
}

/** Builds every stack from the model; nothing is written until `app.synth()`. */
export function buildPlatformApp(props: PlatformAppProps): { app: App; stacks: PlatformStacks } {
  const app = new App({ outdir: props.outdir, stackTraces: false });
  const p = props.platform;
  // Relative to the stack's working directory (<outdir>/stacks/bootstrap), so the synthesized
  // config does not depend on where the repository is checked out.
  const localState = relative(resolve(props.outdir, 'stacks', 'bootstrap'), resolve(props.stateDir, 'terraform.bootstrap.tfstate'));
  const backend: BootstrapBackend = props.bootstrapBackend === 's3' ? { kind: 's3' } : { kind: 'local', path: localState };
  const stacks: PlatformStacks = {
    bootstrap: new BootstrapStack(app, 'bootstrap', { platform: p, backend }),
    storage: new StorageStack(app, 'storage', { platform: p }),
    identities: new IdentitiesStack(app, 'identities', { platform: p }),
    edge: new EdgeStack(app, 'edge', { platform: p }),
    hosts: new HostsStack(app, 'hosts', { platform: p }),
    observability: new ObservabilityStack(app, 'observability', { platform: p, dashboards: props.dashboards }),
  };
  return { app, stacks };
}

/** The generated dashboards, sorted by name; none when the folder does not exist yet. */
export function readDashboards(dir: string): DashboardFile[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ name: f.slice(0, -'.json'.length), json: readFileSync(join(dir, f), 'utf8') }));
}
