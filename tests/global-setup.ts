import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/*
 * Tests spawn the runtime as production starts it (runtime/bin/runtime.js -> runtime/dist/), so
 * the compiled CLI must match the sources under test: rebuild it when any of its inputs changed.
 */
export default function setup(): void {
  const root = join(import.meta.dirname, '..');
  const r = spawnSync(process.execPath, [join(root, 'scripts/build.mjs'), '--if-stale', 'runtime'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0)
    throw new Error(`scripts/build.mjs runtime failed (exit ${r.status ?? r.signal}): the runtime CLI tests need runtime/dist`);
}
