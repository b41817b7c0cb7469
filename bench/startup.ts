/*
 * Start-up benchmark: `npx tsx bench/startup.ts` (part of `make bench`). Prints figures, asserts
 * nothing. Each figure is the median wall time of BENCH_RUNS (default 7) fresh processes:
 *
 *   1. `runtime worker` until ready: from spawn to the `worker started` log line, which the worker
 *      prints once its ledger, skills and queue watcher are up and the first health check is done.
 *      A temporary vault and data dir; every URL in runtime.json (Ollama hosts, hosted providers,
 *      the OTLP endpoint) points at one loopback HTTP server in this process, so nothing off the
 *      machine is contacted. Telemetry stays on: loading the OpenTelemetry SDK is part of start-up.
 *   2. `render --check` on the example model, whole process.
 *
 * "before" runs the TypeScript sources through tsx, as the repository did (the runtime's bin shim
 * registered tsx in-process; `make render` ran the tsx CLI). "after" runs the compiled JavaScript
 * with plain node: runtime/bin/runtime.js -> runtime/dist/, and .build/render.mjs.
 * Each series starts with one uncounted warm-up run, so both sides start with warm caches (tsx's
 * transform cache; the V8 compile cache that runtime/bin/runtime.js enables). CPU time is the
 * process's user + system time from /proc: on a shared machine wall time measures the neighbours
 * too, CPU time much less so. BENCH_NODE=/path/to/node measures under another Node binary.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import type { RuntimeConfigFile } from '@platform/contract';

const ROOT = resolve(import.meta.dirname, '..');
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 7) || 7);
const NODE = process.env.BENCH_NODE || process.execPath;
const TARGET_MS = 500;

// The runtime's former bin shim, verbatim in effect: tsx registered in-process, then the TS CLI.
const TSX_RUNTIME = `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))};
register();
const { main } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'runtime/src/cli.ts')).href)});
process.exit(await main(process.argv.slice(1), process.env));`;

const RUNTIME = {
  before: ['--input-type=module', '-e', TSX_RUNTIME],
  after: [join(ROOT, 'runtime/bin/runtime.js')],
};
const RENDER = {
  before: [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'render/cli.ts'), '--check'],
  after: [join(ROOT, '.build/render.mjs'), '--check'],
};

/** Clock ticks per second for /proc times (USER_HZ: 100 on Linux). */
const HZ = 100;

/** CPU time (user + system, ms) of a live process, from /proc/<pid>/stat. */
function cpuOf(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / HZ;
}

/** CPU time (ms) of this process's reaped children, from /proc/self/stat (cutime + cstime). */
function childrenCpu(): number {
  const s = readFileSync('/proc/self/stat', 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[13]) + Number(f[14])) * 1000) / HZ;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Answers every request with 200 `{}` (Ollama version and tags, OTLP exports), loopback only. */
async function loopbackSink(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"version":"0.0.0","models":[]}'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

function writeConfig(dir: string, sink: string): string {
  const c = JSON.parse(readFileSync(join(ROOT, 'generated/runtime/runtime.json'), 'utf8')) as RuntimeConfigFile;
  for (const host of Object.keys(c.ollamaHosts)) c.ollamaHosts[host] = sink;
  for (const p of ['groq', 'gemini', 'anthropic'] as const) c.providers[p].baseUrl = sink;
  c.telemetry.otlpEndpoint = sink;
  c.vault.path = join(dir, 'vault');
  // The worker's status port: a free one on loopback (WORKER_LISTEN_HOST below).
  c.ports.metrics = 0;
  const file = join(dir, 'runtime.json');
  writeFileSync(file, `${JSON.stringify(c, null, 2)}\n`);
  return file;
}

/** Wall time and the process's CPU time (user + system), in ms. */
interface Sample {
  wall: number;
  cpu: number;
}

/** Spawns `runtime worker`, measures until it logs `worker started`, then stops it. */
async function workerReady(args: string[], sink: string): Promise<Sample> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-startup-'));
  try {
    mkdirSync(join(dir, 'vault', '_queue'), { recursive: true });
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      RUNTIME_CONFIG: writeConfig(dir, sink),
      DATA_DIR: join(dir, 'data'),
      LOG_LEVEL: 'info',
      WORKER_LISTEN_HOST: '127.0.0.1',
    };
    const t0 = performance.now();
    const child = spawn(NODE, [...args, 'worker'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    const ready = await new Promise<Sample | undefined>((res) => {
      const timer = setTimeout(() => res(undefined), 60_000);
      createInterface({ input: child.stdout }).on('line', (line) => {
        let msg: unknown;
        try {
          msg = (JSON.parse(line) as { msg?: unknown }).msg;
        } catch {
          return;
        }
        if (msg === 'worker started') {
          clearTimeout(timer);
          res({ wall: performance.now() - t0, cpu: cpuOf(child.pid!) });
        }
      });
      void exited.then(() => res(undefined));
    });
    child.kill('SIGTERM');
    const code = await exited;
    if (ready === undefined) throw new Error(`runtime worker did not log "worker started" (exit ${code}):\n${stderr}`);
    if (code !== 0) throw new Error(`runtime worker exited ${code} after SIGTERM:\n${stderr}`);
    return ready;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function renderCheck(args: string[], env: Record<string, string> = {}): Sample {
  const cpu0 = childrenCpu();
  const t0 = performance.now();
  const r = spawnSync(NODE, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } });
  const wall = performance.now() - t0;
  if (r.status !== 0) throw new Error(`render --check exited ${r.status}:\n${r.stdout}${r.stderr}`);
  return { wall, cpu: childrenCpu() - cpu0 };
}

/** One warm-up run first (not counted): it fills tsx's transform cache and Node's compile cache. */
async function series(fn: () => Sample | Promise<Sample>): Promise<Sample[]> {
  await fn();
  const out: Sample[] = [];
  for (let i = 0; i < RUNS; i++) out.push(await fn());
  return out;
}

const ms = (n: number): string => `${n.toFixed(0).padStart(5)} ms`;

function line(what: string, before: Sample[], after: Sample[]): string {
  const [bw, bc, aw, ac] = [
    median(before.map((s) => s.wall)),
    median(before.map((s) => s.cpu)),
    median(after.map((s) => s.wall)),
    median(after.map((s) => s.cpu)),
  ];
  const range = `${Math.min(...after.map((s) => s.wall)).toFixed(0)}-${Math.max(...after.map((s) => s.wall)).toFixed(0)}`;
  return `  ${what.padEnd(32)} ${ms(bw)} ${ms(bc)}   ${ms(aw)} ${ms(ac)}   ${(bw / aw).toFixed(1).padStart(4)}x   ${aw <= TARGET_MS ? 'within' : 'OVER  '} (after wall ${range} ms)`;
}

const build = spawnSync(NODE, [join(ROOT, 'scripts/build.mjs'), '--if-stale'], { cwd: ROOT, stdio: 'inherit' });
if (build.status !== 0) throw new Error('scripts/build.mjs failed: run `make build` to see why');

const version = spawnSync(NODE, ['-p', 'process.version'], { encoding: 'utf8' }).stdout.trim();
const sink = await loopbackSink();
try {
  const workerBefore = await series(() => workerReady(RUNTIME.before, sink.url));
  const workerAfter = await series(() => workerReady(RUNTIME.after, sink.url));
  const renderBefore = await series(() => renderCheck(RENDER.before));
  // As `make render` runs it: with V8's code cache for the bundle.
  const renderAfter = await series(() => renderCheck(RENDER.after, { NODE_COMPILE_CACHE: join(ROOT, '.build/compile-cache') }));
  console.log(
    `start-up on Node ${version}, median of ${RUNS} runs; target: after wall <= ${TARGET_MS} ms; load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cpus`,
  );
  console.log(`  ${''.padEnd(32)} ${'before (tsx)'.padEnd(17)}   ${'after (node)'.padEnd(17)}`);
  console.log(`  ${''.padEnd(32)} ${'wall'.padStart(8)} ${'cpu'.padStart(8)}   ${'wall'.padStart(8)} ${'cpu'.padStart(8)}   speed-up`);
  console.log(line('runtime worker, spawn to ready', workerBefore, workerAfter));
  console.log(line('render --check, example model', renderBefore, renderAfter));
} finally {
  sink.server.close();
}
