/*
 * The CDKTF app (`cdktf.json` runs it): loads the model, builds every stack, synthesizes.
 *
 *   PLATFORM_MODEL              the model file (default platform.yaml)
 *   CDKTF_OUTDIR                where to write (set by the cdktf CLI; default cdktf.out)
 *   PLATFORM_BOOTSTRAP_BACKEND  local (default, first bootstrap) or s3 (after --migrate-state)
 *
 * A model the stacks cannot express stops here, with its file:line:col problems, before
 * anything is written.
 */
import { resolve } from 'node:path';
import { loadPlatform } from '../model/load.js';
import { PlatformError } from '../model/errors.js';
import { buildPlatformApp, readDashboards } from './app.js';
import { StackError } from './errors.js';

function fail(e: unknown): never {
  if (e instanceof PlatformError || e instanceof StackError) {
    process.stderr.write(`${e.code}: ${e.message}\n  hint: ${e.hint}\n`);
  } else {
    process.stderr.write(`SYNTH_FAILED: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  }
  process.exit(1);
}

function main(): void {
  const root = process.cwd();
  const modelFile = process.env.PLATFORM_MODEL ?? 'platform.yaml';
  const backend = process.env.PLATFORM_BOOTSTRAP_BACKEND ?? 'local';
  if (backend !== 'local' && backend !== 's3') {
    throw new StackError('SYNTH_FAILED', `PLATFORM_BOOTSTRAP_BACKEND is "${backend}"`, {
      hint: 'set it to "local" (first bootstrap) or "s3"',
    });
  }
  const platform = loadPlatform(resolve(root, modelFile), modelFile);
  const { app } = buildPlatformApp({
    platform,
    outdir: process.env.CDKTF_OUTDIR ?? resolve(root, 'cdktf.out'),
    dashboards: readDashboards(resolve(root, 'generated/grafana/dashboards')),
    bootstrapBackend: backend,
    stateDir: root,
  });
  app.synth();
}

try {
  main();
} catch (e) {
  fail(e);
}
