/*
 * Synthesis benchmark: the CDKTF app alone (the `app` command of cdktf.json, i.e. tsx running
 * stacks/main.ts) and the whole `cdktf synth` (CLI + app), each run in a fresh process tree, on the
 * example model and the alt fixture. Reports wall time, CPU time (user + sys, steadier than wall
 * time on a busy machine), the peak RSS of the largest process (GNU time) and the peak summed RSS
 * of the whole process tree (sampled from /proc). The verdict uses the fastest run: on a shared
 * machine the slower runs measure the neighbours. Run: npx tsx bench/synth.ts
 * Targets: app alone < 3 s, cdktf synth < 8 s, peak memory < 400 MB.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const TARGETS = { app: 3, cdktf: 8, memMb: 400 };

/** In-process phases of the app, printed by the child as JSON. */
async function phases(): Promise<void> {
  const t0 = performance.now();
  const { loadPlatform } = await import('../model/load.js');
  const { buildPlatformApp, readDashboards } = await import('../stacks/app.js');
  const tImport = performance.now();
  const p = loadPlatform(process.env.PLATFORM_MODEL ?? 'platform.yaml');
  const tLoad = performance.now();
  const outdir = process.env.CDKTF_OUTDIR!;
  const { app } = buildPlatformApp({
    platform: p,
    outdir,
    dashboards: readDashboards(join(ROOT, 'generated/grafana/dashboards')),
    bootstrapBackend: 'local',
    stateDir: ROOT,
  });
  const tBuild = performance.now();
  app.synth();
  const tSynth = performance.now();
  process.stdout.write(
    JSON.stringify({
      importMs: tImport - t0,
      loadMs: tLoad - tImport,
      buildMs: tBuild - tLoad,
      synthMs: tSynth - tBuild,
      rssMb: process.resourceUsage().maxRSS / 1024,
    }),
  );
}

function descendants(pid: number): number[] {
  const out: number[] = [];
  const children = (p: number): number[] => {
    try {
      return readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  const walk = (p: number): void => {
    out.push(p);
    for (const c of children(p)) walk(c);
  };
  walk(pid);
  return out;
}

function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

interface Measure {
  seconds: number;
  cpuSeconds: number;
  maxProcessMb: number;
  treeMb: number;
  code: number;
}

function measure(cmd: string[], env: Record<string, string>): Promise<Measure> {
  return new Promise((done) => {
    const t0 = performance.now();
    const child = spawn('/usr/bin/time', ['-v', ...cmd], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let treeKb = 0;
    const timer = setInterval(() => {
      if (child.pid === undefined) return;
      treeKb = Math.max(
        treeKb,
        descendants(child.pid).reduce((sum, p) => sum + rssKb(p), 0),
      );
    }, 25);
    child.on('close', (code) => {
      clearInterval(timer);
      const seconds = (performance.now() - t0) / 1000;
      const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      const user = Number(/User time \(seconds\): ([\d.]+)/.exec(stderr)?.[1] ?? NaN);
      const sys = Number(/System time \(seconds\): ([\d.]+)/.exec(stderr)?.[1] ?? NaN);
      if (code !== 0) process.stderr.write(stderr);
      done({ seconds, cpuSeconds: user + sys, maxProcessMb: m ? Number(m[1]) / 1024 : NaN, treeMb: treeKb / 1024, code: code ?? -1 });
    });
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number, unit: string): string => `${n.toFixed(unit === 's' ? 2 : 0)} ${unit}`;

async function main(): Promise<void> {
  if (process.argv.includes('--phases')) return phases();
  const tsx = join(ROOT, 'node_modules/.bin/tsx');
  const cdktf = join(ROOT, 'node_modules/.bin/cdktf');
  const quiet = { CHECKPOINT_DISABLE: '1', DISABLE_VERSION_CHECK: '1', CI: '1' };
  const models = { example: 'platform.yaml', alt: 'tests/fixtures/platform-alt.yaml' };
  const appCommand = (JSON.parse(readFileSync(join(ROOT, 'cdktf.json'), 'utf8')) as { app: string }).app.split(/\s+/);
  const tmp = mkdtempSync(join(tmpdir(), 'bench-synth-'));
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} on ${cpus().length} cores (wall times stretch under load; CPU times do not)`,
  );
  console.log('peak memory target applies per process; the whole-tree figure adds the CLI and the app, which run side by side');
  let failed = false;
  try {
    for (const [label, model] of Object.entries(models)) {
      const out = (name: string): string => join(tmp, `${label}-${name}`);
      const phase = spawnSync(tsx, [fileURLToPath(import.meta.url), '--phases'], {
        cwd: ROOT,
        env: { ...process.env, PLATFORM_MODEL: model, CDKTF_OUTDIR: out('phases') },
        encoding: 'utf8',
      });
      const ph = JSON.parse(phase.stdout) as Record<string, number>;
      const stacks = readdirSync(join(out('phases'), 'stacks')).length;
      console.log(`\n== ${label} model (${model}): ${stacks} stacks`);
      console.log(
        `   app phases in-process: import ${fmt(ph.importMs!, 'ms')}, load ${fmt(ph.loadMs!, 'ms')}, build ${fmt(ph.buildMs!, 'ms')}, synth ${fmt(ph.synthMs!, 'ms')}, rss ${fmt(ph.rssMb!, 'MB')}`,
      );

      const runs: Record<'app' | 'cdktf', Measure[]> = { app: [], cdktf: [] };
      for (let i = 0; i < RUNS; i++) {
        runs.app.push(await measure(appCommand, { PLATFORM_MODEL: model, CDKTF_OUTDIR: out(`app-${i}`) }));
        runs.cdktf.push(
          await measure([cdktf, 'synth', '--check-code-maker-output=false', '--output', out(`cdktf-${i}`)], {
            ...quiet,
            PLATFORM_MODEL: model,
          }),
        );
      }
      for (const [name, ms] of Object.entries(runs) as ['app' | 'cdktf', Measure[]][]) {
        const target = name === 'app' ? TARGETS.app : TARGETS.cdktf;
        const secs = Math.min(...ms.map((m) => m.seconds));
        const proc = Math.max(...ms.map((m) => m.maxProcessMb));
        const tree = Math.max(...ms.map((m) => m.treeMb));
        const ok = ms.every((m) => m.code === 0) && secs < target && proc < TARGETS.memMb;
        failed ||= !ok;
        const what = name === 'app' ? `app (${appCommand.join(' ')})` : 'cdktf synth (CLI + app)';
        console.log(
          `   ${what}: wall ${fmt(secs, 's')} best of ${ms.length} (runs ${ms.map((m) => m.seconds.toFixed(2)).join(', ')}), ` +
            `cpu ${fmt(median(ms.map((m) => m.cpuSeconds)), 's')}, ` +
            `peak RSS ${fmt(proc, 'MB')} largest process, ${fmt(tree, 'MB')} whole tree  ` +
            `[target < ${target} s, < ${TARGETS.memMb} MB: ${ok ? 'ok' : 'MISSED'}]`,
        );
      }
      if (!existsSync(join(out('cdktf-0'), 'manifest.json'))) throw new Error('cdktf synth wrote no manifest');
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  if (failed) process.exitCode = 1;
}

await main();
