#!/usr/bin/env node
/*
 * Compiles the TypeScript entry points to JavaScript with esbuild, so they start with plain `node`:
 *
 *   runtime  runtime/src/cli.ts -> runtime/dist/cli.js (+ chunks/, one per lazily imported service)
 *   render   render/cli.ts      -> .build/render.mjs   (one file, dependencies included)
 *
 *   node scripts/build.mjs [--if-stale] [runtime] [render]     (no target: both)
 *
 * The runtime bundles what it imports from the repository, from workspace packages and from npm,
 * except packages with native addons (better-sqlite3: a .node file built for one Node ABI), which
 * stay external and load from node_modules. Bundling the npm dependencies is what makes start-up
 * cheap: the OpenTelemetry SDK alone is hundreds of modules to resolve and link one by one, and
 * the bundle keeps only the parts the runtime reaches (on this machine, CPU time to a ready worker
 * went from about 700 ms with every dependency external to about 250 ms). runtime/dist then needs
 * only the external packages at run time: scripts/runtime-deps.mjs writes a manifest and lock of
 * exactly those, which the image installs with `npm ci --omit=dev`.
 * The render CLI runs in the repository only and is bundled whole into one file.
 *
 * --if-stale builds a target only when one of the files its last build read (from esbuild's
 * metafile) is newer than that build, so callers can run this before every use.
 */
import { build } from 'esbuild';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runtimeExternals } from './runtime-deps.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const SELF = relative(ROOT, import.meta.filename);

/**
 * The runtime's dependencies that cannot be bundled (native addons, prebuilt binaries loaded by
 * relative path; scripts/runtime-deps.mjs says which), and their subpaths: they stay imports
 * resolved from node_modules at run time.
 */
function nativeExternals() {
  return runtimeExternals().flatMap((d) => [d, `${d}/*`]);
}

// CommonJS dependencies bundled into an ES module still call require() (node builtins, optional
// peers): give the module one, resolving from where the bundle lies.
const CJS_SHIM =
  "import { createRequire as __platformCreateRequire } from 'node:module'; const require = __platformCreateRequire(import.meta.url);";

const TARGETS = {
  runtime: {
    stamp: 'runtime/dist/cli.js',
    meta: '.build/runtime.meta.json',
    manifests: ['package.json', 'package-lock.json', 'runtime/package.json', 'scripts/runtime-deps.mjs'],
    options: () => ({
      entryPoints: { cli: join(ROOT, 'runtime/src/cli.ts') },
      outdir: join(ROOT, 'runtime/dist'),
      // Each service's modules land in their own chunk, loaded when `cli.ts` imports them.
      splitting: true,
      chunkNames: 'chunks/[name]-[hash]',
      external: nativeExternals(),
      banner: { js: CJS_SHIM },
    }),
    clean: 'runtime/dist',
  },
  render: {
    stamp: '.build/render.mjs',
    meta: '.build/render.meta.json',
    manifests: ['package.json', 'package-lock.json'],
    options: () => ({
      entryPoints: [join(ROOT, 'render/cli.ts')],
      outfile: join(ROOT, '.build/render.mjs'),
      banner: { js: CJS_SHIM },
    }),
  },
};

function isStale(t) {
  const stamp = join(ROOT, t.stamp);
  const meta = join(ROOT, t.meta);
  if (!existsSync(stamp) || !existsSync(meta)) return true;
  const built = statSync(stamp).mtimeMs;
  let inputs;
  try {
    inputs = Object.keys(JSON.parse(readFileSync(meta, 'utf8')).inputs);
  } catch {
    return true;
  }
  for (const f of [...inputs, ...t.manifests, SELF]) {
    const p = join(ROOT, f);
    if (!existsSync(p) || statSync(p).mtimeMs > built) return true;
  }
  return false;
}

async function buildTarget(name, t) {
  const t0 = performance.now();
  if (t.clean) rmSync(join(ROOT, t.clean), { recursive: true, force: true });
  const result = await build({
    absWorkingDir: ROOT,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    sourcemap: true,
    // Maps point at the sources in the repository; embedding them would triple dist/ for nothing.
    sourcesContent: false,
    // The platform's errors are matched by class and code, and stack traces should name functions.
    keepNames: true,
    metafile: true,
    logLevel: 'warning',
    ...t.options(),
  });
  mkdirSync(dirname(join(ROOT, t.meta)), { recursive: true });
  writeFileSync(join(ROOT, t.meta), JSON.stringify(result.metafile));
  const outputs = Object.entries(result.metafile.outputs).filter(([f]) => !f.endsWith('.map'));
  const bytes = outputs.reduce((n, [, o]) => n + o.bytes, 0);
  process.stderr.write(
    `build: ${name}: ${outputs.length} file(s), ${(bytes / 1024).toFixed(0)} KiB, in ${(performance.now() - t0).toFixed(0)} ms\n`,
  );
}

const args = process.argv.slice(2);
const ifStale = args.includes('--if-stale');
const names = args.filter((a) => a !== '--if-stale');
for (const n of names) {
  if (!(n in TARGETS)) {
    process.stderr.write(`build: unknown target "${n}" (targets: ${Object.keys(TARGETS).join(', ')})\n`);
    process.exit(2);
  }
}
try {
  for (const name of names.length > 0 ? names : Object.keys(TARGETS)) {
    const t = TARGETS[name];
    if (ifStale && !isStale(t)) continue;
    await buildTarget(name, t);
  }
} catch (e) {
  // esbuild has printed the located errors already.
  process.stderr.write(`build: failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}\n`);
  process.exit(1);
}
