#!/usr/bin/env node
/*
 * The runtime's npm dependencies at run time: the packages the esbuild bundle (scripts/build.mjs)
 * leaves external, and nothing else. Everything else the runtime imports is inside runtime/dist.
 *
 *   node scripts/runtime-deps.mjs OUTDIR
 *
 * writes OUTDIR/package.json, naming exactly those packages at the versions package-lock.json
 * holds, and OUTDIR/package-lock.json, the repository lock cut down to what they need (the same
 * entries, versions and integrity hashes; flags recomputed for a production-only tree). `npm ci
 * --omit=dev` in OUTDIR then installs the runtime's node_modules, for the image's runtime stage.
 * The externals are computed as the bundle computes them, from the installed packages, so run it
 * after `npm install`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const readJson = (file) => JSON.parse(readFileSync(join(ROOT, file), 'utf8'));

/**
 * The runtime's dependencies the bundle cannot hold: those that ship a native addon (a
 * binding.gyp), and those that load prebuilt binaries by a path relative to themselves
 * (sqlite-vec's vec0.so, onnxruntime-node's .node and .so files, transformers' lazy loading of it).
 */
export function runtimeExternals() {
  const pkg = readJson('runtime/package.json');
  const deps = Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies });
  const native = deps.filter((d) => {
    const dir = [join(ROOT, 'runtime/node_modules', d), join(ROOT, 'node_modules', d)].find((p) => existsSync(join(p, 'package.json')));
    if (!dir) throw new Error(`runtime dependency ${d} is not installed: run \`make install\``);
    return existsSync(join(dir, 'binding.gyp')) || readJson(relative(ROOT, join(dir, 'package.json'))).gypfile === true;
  });
  const prebuilt = ['sqlite-vec', 'onnxruntime-node', '@huggingface/transformers'].filter((d) => deps.includes(d));
  return [...new Set([...native, ...prebuilt])].sort();
}

/** Where `name` resolves from the package at lock path `from`, Node's way: nearest node_modules up. */
function resolveIn(packages, from, name) {
  let base = from;
  for (;;) {
    const candidate = `${base ? `${base}/` : ''}node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!base) return undefined;
    const i = base.lastIndexOf('/node_modules/');
    base = i < 0 ? '' : base.slice(0, i);
  }
}

/** The deploy manifest and lock for `names`, resolved from the runtime workspace (lock path `runtime`). */
export function runtimeDeployManifest(names = runtimeExternals()) {
  const lock = readJson('package-lock.json');
  const runtimePkg = readJson('runtime/package.json');
  const { packages } = lock;
  /** lock path -> { optional: every path to it is optional } */
  const reached = new Map();
  const queue = [];
  const visit = (path, optional) => {
    const seen = reached.get(path);
    if (seen && (seen.optional === false || optional)) return;
    reached.set(path, { optional: Boolean(seen ? seen.optional && optional : optional) });
    queue.push(path);
  };
  const roots = {};
  for (const name of names) {
    const path = resolveIn(packages, 'runtime', name);
    if (!path) throw new Error(`runtime-deps: ${name} is not in package-lock.json: run \`npm install\``);
    roots[name] = packages[path].version;
    visit(path, false);
  }
  while (queue.length) {
    const path = queue.shift();
    const entry = packages[path];
    const optionalHere = reached.get(path).optional;
    const edges = [
      ...Object.keys(entry.dependencies ?? {}).map((n) => [n, false]),
      ...Object.keys(entry.optionalDependencies ?? {}).map((n) => [n, true]),
      ...Object.keys(entry.peerDependencies ?? {}).map((n) => [n, entry.peerDependenciesMeta?.[n]?.optional === true]),
    ];
    for (const [name, optionalEdge] of edges) {
      const target = resolveIn(packages, path, name);
      if (!target) {
        if (optionalEdge) continue;
        throw new Error(`runtime-deps: ${path} needs ${name}, which package-lock.json does not hold`);
      }
      visit(target, optionalHere || optionalEdge);
    }
  }
  // The runtime workspace's own nested packages move to the top of the deploy tree.
  const out = {};
  for (const [path, { optional }] of [...reached].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const to = path.startsWith('runtime/node_modules/') ? path.slice('runtime/'.length) : path;
    if (out[to]) throw new Error(`runtime-deps: ${path} and another version of it both land at ${to}`);
    const { dev: _dev, devOptional: _devOptional, optional: _optional, peer: _peer, extraneous: _extraneous, ...rest } = packages[path];
    out[to] = { ...rest, ...(optional ? { optional: true } : {}) };
  }
  const manifest = {
    name: '@platform/runtime-deps',
    version: runtimePkg.version,
    private: true,
    description: "The runtime image's npm dependencies: what the runtime bundle leaves external (scripts/runtime-deps.mjs).",
    engines: runtimePkg.engines,
    dependencies: roots,
  };
  const deployLock = {
    name: manifest.name,
    version: manifest.version,
    lockfileVersion: lock.lockfileVersion,
    requires: true,
    packages: { '': { name: manifest.name, version: manifest.version, dependencies: roots, engines: runtimePkg.engines }, ...out },
  };
  return { manifest, lock: deployLock };
}

if (import.meta.main) {
  const outDir = process.argv[2];
  if (!outDir) {
    process.stderr.write('usage: node scripts/runtime-deps.mjs OUTDIR\n');
    process.exit(2);
  }
  try {
    const { manifest, lock } = runtimeDeployManifest();
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    writeFileSync(join(outDir, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
    const count = Object.keys(lock.packages).length - 1;
    process.stderr.write(`runtime-deps: ${Object.keys(manifest.dependencies).join(', ')} (${count} packages in all) -> ${outDir}\n`);
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}
