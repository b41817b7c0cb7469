import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..');
export const EXAMPLE_MODEL = join(ROOT, 'platform.yaml');
export const exampleText = (): string => readFileSync(EXAMPLE_MODEL, 'utf8');

/** Upstream specs (compose spec, Qdrant OpenAPI) live beside the repository in shared/specs. */
export function sharedSpec(name: string): string {
  return join(process.env.SHARED_SPECS_DIR ?? join(ROOT, '../shared/specs'), name);
}

export function tempDir(prefix = 'platform-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** 1-based line number of the first line containing `needle` (after `after`, if given). */
export function lineOf(text: string, needle: string, after?: string): number {
  const lines = text.split('\n');
  const start = after === undefined ? 0 : lines.findIndex((l) => l.includes(after));
  const i = lines.findIndex((l, n) => n >= start && l.includes(needle));
  if (i < 0) throw new Error(`"${needle}" not found`);
  return i + 1;
}

/** Replace exactly one occurrence (the first after `after`), failing loudly if absent. */
export function edit(text: string, from: string, to: string, after?: string): string {
  const offset = after === undefined ? 0 : text.indexOf(after);
  const at = text.indexOf(from, offset < 0 ? 0 : offset);
  if (at < 0) throw new Error(`"${from}" not found`);
  return text.slice(0, at) + to + text.slice(at + from.length);
}

/** A TCP port on 127.0.0.1 that was free a moment ago, for a server a test starts. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
