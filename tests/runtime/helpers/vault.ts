import { readFileSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFrontmatter } from '../../../runtime/src/vault/frontmatter.js';
import type { WorkerConfig } from '../../../runtime/src/worker/index.js';

/* Temp vaults for queue, job and worker tests: real folders, real files. */

/** The model's worker settings as rendered (caps, timeouts, lease), under the test timings. */
const RENDERED_WORKER = (
  JSON.parse(readFileSync(join(import.meta.dirname, '../../../generated/runtime/runtime.json'), 'utf8')) as {
    vault: { worker: WorkerConfig['vault']['worker'] };
  }
).vault.worker;

export const FOLDERS = {
  queue: '_queue',
  active: '_active',
  completed: '_completed',
  failed: '_failed',
  outputs: 'runner-outputs',
  skills: 'skills',
} as const;

export interface TempVault {
  root: string;
  vault: string;
  dataDir: string;
  dir(f: keyof typeof FOLDERS): string;
  /** Writes a job file into the queue, its mtime `ageMs` in the past (old enough to claim by default). */
  drop(name: string, content: string, ageMs?: number): Promise<string>;
  list(f: keyof typeof FOLDERS): Promise<string[]>;
  read(f: keyof typeof FOLDERS, name: string): Promise<string>;
  config(worker?: Partial<WorkerConfig['vault']['worker']>, routingDefault?: string): WorkerConfig;
  cleanup(): Promise<void>;
}

export async function makeVault(): Promise<TempVault> {
  const root = await mkdtemp(join(tmpdir(), 'vault-test-'));
  const vault = join(root, 'vault');
  const dataDir = join(root, 'data');
  for (const f of Object.values(FOLDERS)) await mkdir(join(vault, f), { recursive: true });
  await mkdir(dataDir, { recursive: true });
  const dir = (f: keyof typeof FOLDERS): string => join(vault, FOLDERS[f]);
  return {
    root,
    vault,
    dataDir,
    dir,
    async drop(name, content, ageMs = 60_000) {
      const p = join(dir('queue'), name);
      await writeFile(p, content);
      const t = new Date(Date.now() - ageMs);
      await utimes(p, t, t);
      return p;
    },
    async list(f) {
      return (await readdir(dir(f))).filter((n) => !n.startsWith('.')).sort();
    },
    read(f, name) {
      return readFile(join(dir(f), name), 'utf8');
    },
    config(worker = {}, routingDefault = 'qwen2.5:14b') {
      return {
        dataDir,
        routing: { default: routingDefault },
        vault: {
          path: vault,
          folders: { ...FOLDERS },
          worker: { ...RENDERED_WORKER, concurrency: 2, mtimeGuardMs: 200, rescanMs: 500, graceMs: 1_000, ...worker },
        },
      };
    },
    cleanup() {
      return rm(root, { recursive: true, force: true });
    },
  };
}

export { sleep, waitFor } from '../../helpers/wait.js';

/** A vault file's frontmatter and body, read with the runtime's own YAML-only parser. */
export function frontmatterOf(text: string | Buffer): { data: Record<string, unknown>; content: string } {
  const f = parseFrontmatter(text);
  return { data: f.data, content: f.body };
}
