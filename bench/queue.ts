/*
 * Vault queue benchmark: `npx tsx bench/queue.ts`. Prints figures, asserts nothing.
 *
 *   1. throughput: 2,000 queued jobs through the whole lifecycle (claim, id write, provider
 *      call, output write, ledger, move) with an instant in-process provider;
 *   2. pickup latency beyond the mtime guard, files dropped one at a time (production guard);
 *   3. memory: RSS and heap while 10,000 queued files drain, sampled over time;
 *   4. JetStream (a real nats-server, skipped when it is not built): jobs/s through the gateway
 *      and two workers (queue.backend jetstream) with the same instant provider, and the latency
 *      a job gains from drop to settled compared with the folder queue, files dropped one at a time.
 */
import { readFileSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { mkdtemp, mkdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { JetStreamGateway } from '../runtime/src/jetstream/gateway.js';
import { connectNats } from '../runtime/src/jetstream/setup.js';
import type { ChatRouter } from '../runtime/src/jobs/index.js';
import { silentLogger } from '../runtime/src/log.js';
import type { ChatEvent } from '../runtime/src/providers/types.js';
import { createWorker, type WorkerConfig } from '../runtime/src/worker/index.js';
import { openWorkerParts } from '../runtime/src/worker/parts.js';
import { natsServerMissing, startNats, type NatsCluster } from '../tests/helpers/nats.js';
import { testJetStream } from '../tests/runtime/helpers/jetstream.js';

const FOLDERS = {
  queue: '_queue',
  active: '_active',
  completed: '_completed',
  failed: '_failed',
  outputs: 'runner-outputs',
  skills: 'skills',
};

/** Answers at once; `onCall` sees each call (pickup timing). */
function instantRouter(onCall?: (prompt: string) => void): ChatRouter {
  return {
    async *chat(_model, req): AsyncGenerator<ChatEvent> {
      const prompt = req.messages.at(-1)?.content ?? '';
      onCall?.(prompt);
      yield { type: 'text', delta: `answer to ${prompt.length} chars` };
      yield { type: 'usage', usage: { inputTokens: 10, outputTokens: 4, durationMs: 0 } };
      yield { type: 'done', reason: 'stop' };
    },
  };
}

/** The model's worker settings as rendered (caps, timeouts, lease), under the bench's timings. */
const RENDERED_WORKER = (
  JSON.parse(readFileSync(join(import.meta.dirname, '../generated/runtime/runtime.json'), 'utf8')) as {
    vault: { worker: WorkerConfig['vault']['worker'] };
  }
).vault.worker;

async function vault(): Promise<{ root: string; queue: string; config: (w: Partial<WorkerConfig['vault']['worker']>) => WorkerConfig }> {
  const root = await mkdtemp(join(tmpdir(), 'bench-queue-'));
  for (const f of Object.values(FOLDERS)) await mkdir(join(root, 'vault', f), { recursive: true });
  return {
    root,
    queue: join(root, 'vault', FOLDERS.queue),
    config: (w) => ({
      dataDir: join(root, 'data'),
      routing: { default: 'bench-model' },
      vault: {
        path: join(root, 'vault'),
        folders: FOLDERS,
        worker: { ...RENDERED_WORKER, concurrency: 2, mtimeGuardMs: 2_000, rescanMs: 30_000, graceMs: 5_000, ...w },
      },
    }),
  };
}

async function dropMany(dir: string, n: number): Promise<void> {
  const old = new Date(Date.now() - 60_000);
  for (let i = 0; i < n; i += 200) {
    await Promise.all(
      Array.from({ length: Math.min(200, n - i) }, async (_, j) => {
        const p = join(dir, `job-${String(i + j).padStart(5, '0')}.md`);
        await writeFile(p, `---\ntitle: Bench job ${i + j}\n---\nSummarise item ${i + j}.\n`);
        await utimes(p, old, old);
      }),
    );
  }
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const mb = (b: number): string => `${(b / 1024 / 1024).toFixed(1)} MB`;

async function throughput(jobs: number, concurrency: number): Promise<void> {
  const v = await vault();
  await dropMany(v.queue, jobs);
  let done = 0;
  let finished!: () => void;
  const all = new Promise<void>((r) => (finished = r));
  const config = v.config({ concurrency, mtimeGuardMs: 0 });
  const worker = createWorker({
    config,
    ...(await openWorkerParts(config, { log: silentLogger })),
    router: instantRouter(),
    log: silentLogger,
    onOutcome: () => {
      if (++done === jobs) finished();
    },
  });
  const t0 = performance.now();
  await worker.start();
  const t1 = performance.now();
  await all;
  const t2 = performance.now();
  await worker.stop();
  console.log(
    `throughput   ${jobs} jobs, concurrency ${concurrency}: ${(jobs / ((t2 - t0) / 1000)).toFixed(0)} jobs/s end to end ` +
      `(start-up scan ${(t1 - t0).toFixed(0)} ms, ${((t2 - t1) / jobs).toFixed(2)} ms/job after)`,
  );
  await rm(v.root, { recursive: true, force: true });
}

async function pickup(files: number, spacingMs: number, guardMs: number): Promise<void> {
  const v = await vault();
  const dropped = new Map<string, number>();
  const lat: number[] = [];
  let finished!: () => void;
  const all = new Promise<void>((r) => (finished = r));
  const config = v.config({ mtimeGuardMs: guardMs, rescanMs: 30_000 });
  const worker = createWorker({
    config,
    ...(await openWorkerParts(config, { log: silentLogger })),
    router: instantRouter((prompt) => {
      const key = /item (\d+)/.exec(prompt)?.[1];
      const mtime = key === undefined ? undefined : dropped.get(key);
      if (mtime !== undefined) lat.push(Date.now() - (mtime + guardMs));
      if (lat.length === files) finished();
    }),
    log: silentLogger,
  });
  await worker.start();
  for (let i = 0; i < files; i++) {
    const p = join(v.queue, `drop-${i}.md`);
    await writeFile(p, `Summarise item ${i}.\n`);
    const { mtimeMs } = statSync(p);
    dropped.set(String(i), mtimeMs);
    await new Promise((r) => setTimeout(r, spacingMs));
  }
  await all;
  await worker.stop();
  console.log(
    `pickup       ${files} files dropped ${spacingMs} ms apart, guard ${guardMs} ms: beyond the guard ` +
      `p50 ${pct(lat, 50).toFixed(0)} ms, p95 ${pct(lat, 95).toFixed(0)} ms, max ${Math.max(...lat).toFixed(0)} ms`,
  );
  await rm(v.root, { recursive: true, force: true });
}

async function memory(files: number): Promise<void> {
  const v = await vault();
  await dropMany(v.queue, files);
  global.gc?.();
  const before = process.memoryUsage();
  let done = 0;
  let finished!: () => void;
  const all = new Promise<void>((r) => (finished = r));
  const config = v.config({ concurrency: 2, mtimeGuardMs: 2_000 });
  const worker = createWorker({
    config,
    ...(await openWorkerParts(config, { log: silentLogger })),
    router: instantRouter(),
    log: silentLogger,
    onOutcome: () => {
      if (++done === files) finished();
    },
  });
  const t0 = performance.now();
  await worker.start();
  const started = performance.now() - t0;
  const samples: string[] = [];
  const sample = (): void => {
    const m = process.memoryUsage();
    samples.push(
      `${((performance.now() - t0) / 1000).toFixed(0).padStart(3)}s ${String(done).padStart(5)} done  rss ${mb(m.rss)}  heap ${mb(m.heapUsed)}`,
    );
  };
  sample();
  const timer = setInterval(sample, 5_000);
  await all;
  clearInterval(timer);
  sample();
  await worker.stop();
  console.log(`memory       ${files} queued files (concurrency 2): start-up ${started.toFixed(0)} ms; rss before start ${mb(before.rss)}`);
  for (const s of samples) console.log(`             ${s}`);
  await rm(v.root, { recursive: true, force: true });
}

/** 10,000 files waiting (too fresh to claim) while the rescan runs every 500 ms: memory and scan cost. */
async function backlog(files: number, seconds: number): Promise<void> {
  const v = await vault();
  await dropMany(v.queue, files);
  const now = new Date();
  // Fresh mtimes and a long guard: every file stays queued, every rescan walks all of them.
  for (const n of readdirSync(v.queue)) utimesSync(join(v.queue, n), now, now);
  const config = v.config({ mtimeGuardMs: 3_600_000, rescanMs: 500 });
  const worker = createWorker({
    config,
    ...(await openWorkerParts(config, { log: silentLogger })),
    router: instantRouter(),
    log: silentLogger,
  });
  global.gc?.();
  const t0 = performance.now();
  await worker.start();
  const started = performance.now() - t0;
  const rss: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let s = 0; s < seconds; s++) {
    await new Promise((r) => setTimeout(r, 1_000));
    rss.push(process.memoryUsage().rss);
  }
  const cpu = process.cpuUsage(cpu0);
  const stats = worker.stats();
  await worker.stop();
  console.log(
    `backlog      ${stats.queued} files waiting, rescan every 500 ms for ${seconds} s: start-up ${started.toFixed(0)} ms, ` +
      `rss ${rss.map((r) => mb(r).replace(' MB', '')).join(' → ')} MB, cpu ${(((cpu.user + cpu.system) / 1e6 / seconds) * 100).toFixed(1)}% of a core`,
  );
  await rm(v.root, { recursive: true, force: true });
}

/**
 * A gateway in this process and `workers` JetStream workers, each in its own process (as on
 * their own hosts), over one nats-server; returns a stop function.
 */
async function jetstreamRig(
  nats: NatsCluster,
  config: WorkerConfig,
  workers: number,
  onOutcome: () => void,
): Promise<{ begin: () => Promise<void>; stop: () => Promise<void> }> {
  const js = testJetStream(nats.urls, {
    gatewayInFlight: Number(process.env.BENCH_INFLIGHT ?? 256),
    progressIntervalMs: 5_000,
    ackWaitMs: 30_000,
  });
  const routes = [
    {
      id: 'qwen2.5:14b',
      provider: 'ollama' as const,
      host: 'contabo',
      purpose: 'bench',
      label: 'bench',
      timeoutMs: 60_000,
      healthGated: false,
    },
  ];
  const nc = await connectNats({ js, role: 'gateway', password: undefined, name: 'bench-gateway', log: silentLogger });
  const parts = await openWorkerParts(config, { log: silentLogger, concurrency: js.gatewayInFlight });
  const gw = new JetStreamGateway({ nc, js, routes, defaultModel: 'qwen2.5:14b', ledger: parts.ledger, log: silentLogger });
  await gw.start();
  const children: ChildProcess[] = [];
  for (let i = 0; i < workers; i++) {
    const c = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(import.meta.dirname, 'helpers/jetstream-worker.ts'),
        JSON.stringify(js),
        String(config.vault.worker.concurrency),
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    children.push(c);
    await new Promise<void>((r, j) => {
      c.stdout!.once('data', () => r());
      c.once('exit', (code) => j(new Error(`bench worker exited with ${code}`)));
    });
  }
  const gateway = createWorker({
    config: { ...config, routing: { default: 'qwen2.5:14b' } },
    ...parts,
    executor: gw.execute,
    log: silentLogger,
    onOutcome,
  });
  return {
    begin: () => gateway.start(),
    async stop() {
      await gateway.stop();
      await gw.stop();
      await Promise.all(
        children.map(
          (c) =>
            new Promise((r) => {
              c.once('exit', r);
              c.kill('SIGTERM');
            }),
        ),
      );
      await nc.close();
    },
  };
}

async function jetstreamThroughput(jobs: number, concurrency: number): Promise<void> {
  const nats = await startNats();
  const v = await vault();
  try {
    await dropMany(v.queue, jobs);
    let done = 0;
    let finished!: () => void;
    const all = new Promise<void>((r) => (finished = r));
    const rig = await jetstreamRig(nats, v.config({ concurrency, mtimeGuardMs: 0 }), 2, () => {
      if (++done === jobs) finished();
    });
    const t0 = performance.now();
    await rig.begin();
    const t1 = performance.now();
    await all;
    const t2 = performance.now();
    await rig.stop();
    console.log(
      `jetstream    ${jobs} jobs, gateway + 2 worker processes (concurrency ${concurrency} each), one nats-server: ` +
        `${(jobs / ((t2 - t0) / 1000)).toFixed(0)} jobs/s end to end (start-up ${(t1 - t0).toFixed(0)} ms, ${((t2 - t1) / jobs).toFixed(2)} ms/job after)`,
    );
  } finally {
    await rm(v.root, { recursive: true, force: true });
    await nats.close();
  }
}

/** Drop → settled per file, one file at a time, with no mtime guard: the folder worker, then the JetStream rig. */
async function addedLatency(files: number, spacingMs: number): Promise<void> {
  const measure = async (
    start: (config: WorkerConfig, onOutcome: () => void) => Promise<{ begin: () => Promise<void>; stop: () => Promise<void> }>,
  ): Promise<number[]> => {
    const v = await vault();
    const lat: number[] = [];
    let dropped = 0;
    let next: (() => void) | undefined;
    const rig = await start(v.config({ concurrency: 2, mtimeGuardMs: 0, rescanMs: 30_000 }), () => {
      lat.push(performance.now() - dropped);
      next?.();
    });
    await rig.begin();
    for (let i = 0; i < files; i++) {
      const settled = new Promise<void>((r) => (next = r));
      dropped = performance.now();
      await writeFile(join(v.queue, `drop-${i}.md`), `Summarise item ${i}.\n`);
      await settled;
      await new Promise((r) => setTimeout(r, spacingMs));
    }
    await rig.stop();
    await rm(v.root, { recursive: true, force: true });
    return lat.slice(3); // the first few warm the code paths
  };
  const folder = await measure(async (config, onOutcome) => {
    const worker = createWorker({
      config,
      ...(await openWorkerParts(config, { log: silentLogger })),
      router: instantRouter(),
      log: silentLogger,
      onOutcome,
    });
    return { begin: () => worker.start(), stop: () => worker.stop() };
  });
  const nats = await startNats();
  try {
    const js = await measure((config, onOutcome) => jetstreamRig(nats, config, 2, onOutcome));
    const f50 = pct(folder, 50);
    const j50 = pct(js, 50);
    console.log(
      `latency      ${files} files dropped one at a time, drop to settled: folder p50 ${f50.toFixed(1)} ms p95 ${pct(folder, 95).toFixed(1)} ms; ` +
        `jetstream p50 ${j50.toFixed(1)} ms p95 ${pct(js, 95).toFixed(1)} ms; added p50 ${(j50 - f50).toFixed(1)} ms`,
    );
  } finally {
    await nats.close();
  }
}

const natsMissing = natsServerMissing();
if (process.argv.includes('--jetstream')) {
  if (natsMissing) console.log(`jetstream    skipped: ${natsMissing}`);
  else {
    for (const c of (process.env.BENCH_CONCURRENCY ?? '4').split(',')) await jetstreamThroughput(2_000, Number(c));
    if (!process.env.BENCH_CONCURRENCY) await addedLatency(60, 20);
  }
  process.exit(0);
}

await throughput(2_000, 2);
await throughput(2_000, 8);
await pickup(60, 120, 2_000);
await memory(10_000);
await backlog(10_000, 15);
if (natsMissing) console.log(`jetstream    skipped: ${natsMissing}`);
else {
  await jetstreamThroughput(2_000, 4);
  await addedLatency(60, 20);
}
