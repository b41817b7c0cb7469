import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync, rmdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import { PlatformError, type Platform } from '../model/index.js';
import { GENERATORS } from './registry.js';
import type { Artifact, Generator } from './types.js';

/** Run every generator and collect artifacts, sorted by path. Two generators writing one path is a bug. */
export function generateAll(p: Platform, generators: readonly Generator[] = GENERATORS): Artifact[] {
  const owner = new Map<string, string>();
  const all: Artifact[] = [];
  for (const g of generators) {
    let artifacts: Artifact[];
    try {
      artifacts = g.generate(p);
    } catch (e) {
      if (e instanceof PlatformError) throw e;
      throw PlatformError.create('RENDER_FAILED', { name: g.name, reason: (e as Error).stack ?? String(e) }, { cause: e });
    }
    for (const a of artifacts) {
      const prior = owner.get(a.path);
      if (prior)
        throw new PlatformError('RENDER_FAILED', `generators "${prior}" and "${g.name}" both write ${a.path}`, {
          hint: 'give each artifact one owner',
        });
      owner.set(a.path, g.name);
      all.push(a);
    }
  }
  return all.sort((a, b) => (a.path < b.path ? -1 : 1));
}

export type FileStatus = 'created' | 'changed' | 'unchanged' | 'removed';
export interface FileReport {
  path: string;
  bytes: number;
  status: FileStatus;
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, e.name);
      if (e.isDirectory()) walk(full);
      else out.push(relative(dir, full));
    }
  };
  walk(dir);
  return out.sort();
}

function readOrUndefined(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Compare artifacts with what `outDir` holds: one report per file, including files no generator owns. */
export function plan(outDir: string, artifacts: readonly Artifact[]): Array<FileReport & { content?: string; old?: string }> {
  const wanted = new Set(artifacts.map((a) => a.path));
  const reports: Array<FileReport & { content?: string; old?: string }> = artifacts.map((a) => {
    const old = readOrUndefined(join(outDir, a.path));
    const status: FileStatus = old === undefined ? 'created' : old === a.content ? 'unchanged' : 'changed';
    return { path: a.path, bytes: Buffer.byteLength(a.content), status, content: a.content, ...(old !== undefined ? { old } : {}) };
  });
  for (const f of listFiles(outDir)) {
    if (!wanted.has(f)) {
      const old = readFileSync(join(outDir, f), 'utf8');
      reports.push({ path: f, bytes: 0, status: 'removed', old });
    }
  }
  return reports.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** Write only what changed; remove files no generator owns. */
export function writePlan(outDir: string, reports: ReturnType<typeof plan>): void {
  for (const r of reports) {
    const file = join(outDir, r.path);
    if (r.status === 'created' || r.status === 'changed') {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, r.content!);
    } else if (r.status === 'removed') {
      rmSync(file);
      pruneEmptyDirs(dirname(file), outDir);
    }
  }
}

function pruneEmptyDirs(dir: string, stop: string): void {
  let d = dir;
  while (d.startsWith(stop) && d !== stop && readdirSync(d).length === 0) {
    rmdirSync(d);
    d = dirname(d);
  }
}

/** Unified diff of every stale file, as `render --check` prints it. */
export function staleDiff(reports: ReturnType<typeof plan>): string {
  return reports
    .filter((r) => r.status !== 'unchanged')
    .map((r) =>
      createTwoFilesPatch(`a/generated/${r.path}`, `b/generated/${r.path}`, r.old ?? '', r.content ?? '', undefined, undefined, {
        context: 3,
      }),
    )
    .join('');
}
