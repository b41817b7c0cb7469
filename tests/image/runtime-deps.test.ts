import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';
// @ts-expect-error -- a plain ESM script of the build, no type declarations
import { runtimeDeployManifest, runtimeExternals } from '../../scripts/runtime-deps.mjs';

/*
 * scripts/runtime-deps.mjs: the manifest and lock the image installs its node_modules from. No
 * podman needed: this checks the cut against the repository's own lock, entry by entry.
 */

interface LockEntry {
  version: string;
  integrity?: string;
  resolved?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
}
interface Deploy {
  manifest: { dependencies: Record<string, string> };
  lock: { lockfileVersion: number; packages: Record<string, LockEntry> };
}

const repoLock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
const runtimePkg = JSON.parse(readFileSync(join(ROOT, 'runtime/package.json'), 'utf8')) as { dependencies: Record<string, string> };
const deploy = (runtimeDeployManifest as () => Deploy)();
const externals = (runtimeExternals as () => string[])();

describe('scripts/runtime-deps.mjs', () => {
  it("names exactly the bundle's externals, each a runtime dependency, at the lockfile's version", () => {
    // The native addon and the packages that load prebuilt binaries by relative path.
    expect(externals).toEqual(expect.arrayContaining(['better-sqlite3', 'sqlite-vec', 'onnxruntime-node', '@huggingface/transformers']));
    expect(Object.keys(deploy.manifest.dependencies).sort()).toEqual([...externals].sort());
    for (const name of externals) {
      expect(runtimePkg.dependencies, name).toHaveProperty(name);
      expect(deploy.manifest.dependencies[name], name).toBe(repoLock.packages[`node_modules/${name}`]!.version);
    }
    expect(deploy.lock.packages['']!.dependencies).toEqual(deploy.manifest.dependencies);
  });

  it("holds the repository lock's own entries (version, integrity) and every package they need, nothing else", () => {
    const entries = Object.entries(deploy.lock.packages).filter(([k]) => k !== '');
    for (const [path, entry] of entries) {
      const source = repoLock.packages[path] ?? repoLock.packages[`runtime/${path}`];
      expect(source, path).toBeDefined();
      expect(entry.version, path).toBe(source!.version);
      expect(entry.integrity, path).toBe(source!.integrity);
      // A production-only tree: no entry is dev, so `npm ci --omit=dev` installs them all.
      expect(entry.dev, path).toBeUndefined();
      expect(entry.devOptional, path).toBeUndefined();
    }
    // Closed: every dependency resolves inside the cut the way Node resolves it (nearest
    // node_modules up the path), bar optional ones the lock leaves out.
    const has = (p: string): boolean => p in deploy.lock.packages;
    const resolve = (from: string, name: string): string | undefined => {
      for (let base = from; ;) {
        const candidate = `${base ? `${base}/` : ''}node_modules/${name}`;
        if (has(candidate)) return candidate;
        if (!base) return undefined;
        const i = base.lastIndexOf('/node_modules/');
        base = i < 0 ? '' : base.slice(0, i);
      }
    };
    const reached = new Set<string>();
    const walk = (path: string): void => {
      if (reached.has(path)) return;
      reached.add(path);
      const e = deploy.lock.packages[path]!;
      for (const n of Object.keys(e.dependencies ?? {})) {
        const to = resolve(path, n);
        expect(to, `${path} -> ${n}`).toBeDefined();
        walk(to!);
      }
      for (const n of [...Object.keys(e.optionalDependencies ?? {}), ...Object.keys(e.peerDependencies ?? {})]) {
        const to = resolve(path, n);
        if (to) walk(to);
        else if (e.peerDependencies?.[n] !== undefined && !e.peerDependenciesMeta?.[n]?.optional)
          expect.fail(`${path} needs its peer ${n}, which the cut does not hold`);
      }
    };
    for (const name of externals) walk(`node_modules/${name}`);
    // Nothing unreachable from the externals.
    expect(entries.map(([k]) => k).filter((k) => !reached.has(k))).toEqual([]);
    // And none of what the bundle holds.
    for (const bundled of ['fastify', 'zod', '@opentelemetry/api', 'neo4j-driver', '@modelcontextprotocol/sdk'])
      expect(has(`node_modules/${bundled}`), bundled).toBe(false);
  });
});
