import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { RuntimeJetStream } from '@platform/contract';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type RuntimeConfig } from '../../runtime/src/config/index.js';
import { JetStreamGateway, gatewayExecutor } from '../../runtime/src/jetstream/gateway.js';
import { JobRunner } from '../../runtime/src/jobs/run.js';
import { encode, jobSubject, resultSubject } from '../../runtime/src/jetstream/messages.js';
import { connectNats, groupConsumer } from '../../runtime/src/jetstream/setup.js';
import { JetStreamWorker, type WorkerOutcome } from '../../runtime/src/jetstream/worker.js';
import type { JobOutcome } from '../../runtime/src/jobs/index.js';
import { memoryLogger } from '../../runtime/src/log.js';
import { Router } from '../../runtime/src/router/index.js';
import { createMetrics, type Metrics } from '../../runtime/src/telemetry/metrics.js';
import { createWorker, type Worker } from '../../runtime/src/worker/index.js';
import { openWorkerParts } from '../../runtime/src/worker/parts.js';
import { echoAnswer, startOllama, type OllamaDouble } from '../doubles/ollama.js';
import { natsServerMissing, startNats, type NatsCluster } from '../helpers/nats.js';
import { writeJetStreamConfig } from './helpers/jetstream.js';
import { frontmatterOf, makeVault, sleep, waitFor, type TempVault } from './helpers/vault.js';

/*
 * The JetStream queue in process against a real nats-server: a gateway (the vault worker with
 * the JetStream executor) and workers (JetStreamWorker) with a real router over the Ollama wire
 * double. The crash test with real processes and a three-node cluster is jetstream-crash.test.ts.
 */

const missing = natsServerMissing();
if (missing) console.warn(`skipping the JetStream queue tests: ${missing}`);

let nats: NatsCluster;
let ollama: OllamaDouble;
let seq = 0;

interface Handled {
  host: string;
  jobId?: string;
  group: string;
  outcome: WorkerOutcome;
  deliveries: number;
}

interface Setup {
  v: TempVault;
  js: Partial<RuntimeJetStream>;
  gwConfig: RuntimeConfig;
  metrics: Metrics;
  log: ReturnType<typeof memoryLogger>;
  outcomes: JobOutcome[];
  handled: Handled[];
  gateway?: { worker: Worker; gw: JetStreamGateway; nc: NatsConnection };
  workers: { host: string; w: JetStreamWorker; nc: NatsConnection }[];
  startGateway(): Promise<void>;
  stopGateway(): Promise<void>;
  startWorker(host: string): Promise<{ w: JetStreamWorker; nc: NatsConnection }>;
  close(): Promise<void>;
}

const open: Setup[] = [];

interface SetupOptions {
  /** Another server than the shared one (the permissions test). */
  server?: NatsCluster;
  passwords?: { gateway: string; worker: string };
}

async function setup(
  js: Setup['js'] = {},
  worker: Parameters<typeof writeJetStreamConfig>[0]['worker'] = {},
  opts: SetupOptions = {},
): Promise<Setup> {
  const server = opts.server ?? nats;
  const v = await makeVault();
  const k = ++seq;
  const names = { stream: `JOBS_${k}`, resultsStream: `RESULTS_${k}`, subjectPrefix: `t${k}`, ...js };
  const cfg = (host: string): RuntimeConfig =>
    loadConfig(
      writeJetStreamConfig({
        root: v.root,
        vault: v.vault,
        dataDir: v.dataDir,
        ollamaUrl: ollama.url,
        servers: server.urls,
        host,
        js: names,
        worker,
      }).env,
    );
  const log = memoryLogger();
  const metrics = createMetrics();
  const s: Setup = {
    v,
    js: names,
    gwConfig: cfg('contabo'),
    metrics,
    log,
    outcomes: [],
    handled: [],
    workers: [],
    async startGateway() {
      const c = s.gwConfig;
      const nc = await connectNats({
        js: c.queue.jetstream!,
        role: 'gateway',
        password: opts.passwords?.gateway,
        name: 'test-gateway',
        log,
      });
      const parts = await openWorkerParts(c, { log, concurrency: 64 });
      const gw = new JetStreamGateway({
        nc,
        js: c.queue.jetstream!,
        routes: c.routing.models,
        defaultModel: c.routing.default,
        ledger: parts.ledger,
        log,
        metrics,
      });
      await gw.start();
      // As `runtime gateway` composes it: memory and reindex here (no agents in this test), the rest to the workers.
      const local = new JobRunner({ router: new Router({ config: c, log, metrics }), defaultModel: c.routing.default, log });
      const executor = gatewayExecutor(gw.execute, local);
      const w = createWorker({ config: c, ...parts, executor, log, metrics, onOutcome: (o) => s.outcomes.push(o) });
      await w.start();
      s.gateway = { worker: w, gw, nc };
    },
    async stopGateway() {
      const g = s.gateway;
      if (!g) return;
      s.gateway = undefined;
      await g.worker.stop();
      await g.gw.stop();
      await g.nc.close();
    },
    async startWorker(host) {
      const c = cfg(host);
      const nc = await connectNats({
        js: c.queue.jetstream!,
        role: 'worker',
        password: opts.passwords?.worker,
        name: `test-worker-${host}`,
        log,
      });
      const w = new JetStreamWorker({
        config: c,
        nc,
        router: new Router({ config: c, log, metrics }),
        log,
        metrics,
        pullExpiresMs: 1_000,
        onHandled: (e) => s.handled.push({ host, ...e }),
      });
      await w.start();
      s.workers.push({ host, w, nc });
      return { w, nc };
    },
    async close() {
      await s.stopGateway();
      for (const w of s.workers.splice(0)) {
        if (!w.nc.isClosed()) {
          await w.w.stop();
          await w.nc.close();
        }
      }
      await v.cleanup();
    },
  };
  open.push(s);
  return s;
}

beforeAll(async () => {
  if (missing) return;
  nats = await startNats();
  ollama = await startOllama({ answer: echoAnswer, models: ['qwen2.5:14b', 'gemma4:27b', 'nomic-embed-text'] });
}, 60_000);

afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  if (ollama) ollama.answer = echoAnswer;
});

afterAll(async () => {
  await ollama?.close();
  await nats?.close();
});

describe.skipIf(missing !== undefined)('JetStream queue (real nats-server)', () => {
  it('gateway and worker: a job goes out as a message, comes back as a result, and is settled like the folder queue settles it', async () => {
    const s = await setup();
    await s.startGateway();
    await s.startWorker('contabo');
    await s.v.drop('Weekly Summary.md', '---\ntitle: Weekly summary\n---\nSummarise the week.\n');
    await s.v.drop('chain.md', '---\ntype: chain\nsteps:\n  - prompt: one\n  - prompt: two\n---\n');
    await waitFor(() => s.outcomes.length >= 2, 'two outcomes', 15_000);
    expect(s.outcomes.map((o) => o.status)).toEqual(['completed', 'completed']);

    expect(await s.v.list('completed')).toEqual(['Weekly Summary.md', 'chain.md']);
    expect(await s.v.list('queue')).toEqual([]);
    expect(await s.v.list('active')).toEqual([]);
    const outputs = await s.v.list('outputs');
    expect(outputs).toHaveLength(2);
    const byName = new Map(outputs.map((n) => [n.replace(/^[\d-]+-/, ''), n]));
    const weekly = frontmatterOf(await s.v.read('outputs', byName.get('weekly-summary.md')!));
    const o = s.outcomes.find((x) => x.name === 'Weekly Summary.md')!;
    expect(weekly.data).toMatchObject({ job_id: o.jobId, model: 'qwen2.5:14b', status: 'completed', source: 'Weekly Summary.md' });
    expect(weekly.content.trim()).toBe('echo: Summarise the week.');
    const chain = frontmatterOf(await s.v.read('outputs', byName.get('chain.md')!));
    expect(chain.content).toContain('## Step 2 (qwen2.5:14b)');
    const done = await s.v.read('completed', 'Weekly Summary.md');
    expect(String(frontmatterOf(done).data.id)).toBe(o.jobId);
    expect(done).toContain(`[[runner-outputs/${byName.get('weekly-summary.md')!.replace(/\.md$/, '')}]]`);

    expect(s.handled.map((h) => [h.group, h.outcome])).toEqual([
      ['contabo', 'completed'],
      ['contabo', 'completed'],
    ]);
    expect(s.metrics.value('platform_jetstream_published_total', { outcome: 'stored' })).toBe(2);
    expect(s.metrics.value('platform_jetstream_results_total', { outcome: 'completed' })).toBe(2);
    expect(s.metrics.value('platform_jetstream_round_trip_seconds', { group: 'contabo' })).toBe(2);
    expect(s.metrics.value('platform_jobs_total', { type: 'text', outcome: 'completed' })).toBe(1);

    // The work queue is empty: every job acked.
    const jsm = await jetstreamManager(s.gateway!.nc);
    expect((await jsm.streams.info(String(s.js.stream))).state.messages).toBe(0);
  });

  it('a davas worker takes only davas-routed jobs; the contabo worker never sees them', async () => {
    const s = await setup();
    await s.startGateway();
    await s.startWorker('davas');
    await s.startWorker('contabo');
    for (let i = 0; i < 6; i++) {
      const model = i % 2 === 0 ? 'gemma4:27b' : 'qwen2.5:14b';
      await s.v.drop(`job-${i}.md`, `---\nmodel: ${model}\n---\nJob ${i}.\n`);
    }
    await waitFor(() => s.outcomes.length >= 6, 'six outcomes', 15_000);
    expect(s.outcomes.every((o) => o.status === 'completed')).toBe(true);
    const davasIds = new Set(s.outcomes.filter((o) => o.model === 'gemma4:27b').map((o) => o.jobId));
    const byDavas = s.handled.filter((h) => h.host === 'davas');
    const byContabo = s.handled.filter((h) => h.host === 'contabo');
    expect(byDavas.map((h) => h.jobId).sort()).toEqual([...davasIds].sort());
    expect(byDavas.every((h) => h.group === 'davas')).toBe(true);
    expect(byContabo).toHaveLength(3);
    expect(byContabo.some((h) => davasIds.has(h.jobId!))).toBe(false);
  });

  it('a job whose route group no worker takes fails into the failed folder with the reason', async () => {
    const s = await setup({ workers: { contabo: ['contabo'] } });
    await s.startGateway();
    await s.v.drop('groq.md', '---\nmodel: llama-3.3-70b-versatile\n---\nHi.\n');
    await s.v.drop('mixed.md', '---\ntype: chain\nsteps:\n  - prompt: a\n  - prompt: b\n    model: gemma4:27b\n---\n');
    await waitFor(() => s.outcomes.length >= 2, 'two outcomes');
    expect(s.outcomes.map((o) => [o.name, o.status, o.error?.code])).toEqual(
      expect.arrayContaining([
        ['groq.md', 'failed', 'JOB_UNROUTABLE'],
        ['mixed.md', 'failed', 'JOB_UNROUTABLE'],
      ]),
    );
    const failed = await s.v.read(
      'failed',
      (await s.v.list('failed')).find((n) => n.startsWith('groq'))!,
    );
    expect(failed).toContain('no worker takes the route group "cloud" of the model "llama-3.3-70b-versatile"');
    expect(s.metrics.value('platform_jetstream_published_total', { outcome: 'stored' })).toBeUndefined();
  });

  it('memory and reindex jobs run in the gateway, which has the vault; they are never published to a worker', async () => {
    const s = await setup();
    await s.startGateway();
    await s.startWorker('contabo');
    await s.v.drop('reindex.md', '---\ntype: reindex\n---\n');
    await s.v.drop('hello.md', '---\nmodel: qwen2.5:14b\n---\nSay hello.\n');
    await waitFor(() => s.outcomes.length >= 2, 'two outcomes');
    const byName = Object.fromEntries(s.outcomes.map((o) => [o.name, o]));
    // The gateway in this test has no retrieval: its own clear error, not a worker's.
    expect([byName['reindex.md']?.status, byName['reindex.md']?.error?.code]).toEqual(['failed', 'RAG_UNAVAILABLE']);
    expect(byName['hello.md']?.status).toBe('completed');
    // Only the text job went out as a message and came back from the worker.
    expect(s.metrics.value('platform_jetstream_published_total', { outcome: 'stored' })).toBe(1);
    expect(s.handled.map((h) => h.jobId)).toEqual([byName['hello.md']?.jobId]);
  });

  it("a worker's health (its /healthz): pulling over a live connection; not once it stops or loses NATS", async () => {
    const s = await setup();
    await s.startGateway(); // the streams are the gateway's: a worker waits for them
    const { w, nc } = await s.startWorker('contabo');
    expect(w.health()).toEqual({ ok: true, groups: ['cloud', 'contabo'], started: true, connected: true, stopping: false, running: 0 });
    await w.stop();
    expect(w.health()).toMatchObject({ ok: false, stopping: true });
    const other = await s.startWorker('contabo');
    await other.nc.close();
    expect(other.w.health()).toMatchObject({ ok: false, connected: false });
    await nc.close();
  });

  it('malformed messages are termed with a log line, and the worker carries on', async () => {
    const s = await setup();
    // The gateway creates the streams and consumers; it is stopped so that only the worker acts.
    await s.startGateway();
    await s.stopGateway();
    const { nc } = await s.startWorker('contabo');
    const js = jetstream(nc);
    const subject = jobSubject({ subjectPrefix: s.js.subjectPrefix! }, 'contabo');
    const jsm = await jetstreamManager(nc);
    await js.publish(subject, new TextEncoder().encode('not json'));
    await js.publish(subject, new TextEncoder().encode(JSON.stringify({ v: 1, jobId: 'x', name: 'x.md', group: 'contabo' })));
    await js.publish(
      subject,
      encode({ v: 1, jobId: 'wrong-group', name: 'x.md', group: 'davas', run: 0, job: Buffer.from('hi').toString('base64') }),
    );
    await js.publish(
      subject,
      encode({ v: 1, jobId: 'good-1', name: 'good.md', group: 'contabo', run: 0, job: Buffer.from('Say hi.').toString('base64') }),
    );
    await waitFor(() => s.handled.length >= 4, 'four deliveries handled', 15_000);
    expect(s.handled.map((h) => h.outcome)).toEqual(['invalid', 'invalid', 'invalid', 'completed']);
    expect(s.log.records.filter((r) => r.msg === 'invalid job message termed')).toHaveLength(3);
    const stored = await jsm.streams.getMessage(s.js.resultsStream!, {
      last_by_subj: resultSubject({ subjectPrefix: s.js.subjectPrefix! }, 'contabo', 'good-1'),
    });
    expect(JSON.parse(new TextDecoder().decode(stored!.data))).toMatchObject({
      jobId: 'good-1',
      status: 'completed',
      body: 'echo: Say hi.',
    });
    // Nothing left for anyone: termed messages are off the work queue.
    await waitFor(async () => (await jsm.streams.info(s.js.stream!)).state.messages === 0, 'an empty work queue');
    expect(s.metrics.value('platform_jetstream_worker_jobs_total', { group: 'contabo', outcome: 'invalid' })).toBe(3);
  });

  it('a redelivered job whose result is already in the results stream is acked, not run again', async () => {
    const s = await setup({ ackWaitMs: 1_000 });
    // The gateway makes the streams; stop it so it settles nothing while the scene is set.
    await s.startGateway();
    await s.stopGateway();
    const nc = await connectNats({
      js: s.gwConfig.queue.jetstream!,
      role: 'worker',
      password: undefined,
      name: 'dying-worker',
      log: s.log,
    });
    const js = jetstream(nc);
    const prefix = { subjectPrefix: s.js.subjectPrefix! };
    const h = headers();
    h.set('Nats-Msg-Id', 'done-1');
    await js.publish(
      jobSubject(prefix, 'contabo'),
      encode({ v: 1, jobId: 'done-1', name: 'a.md', group: 'contabo', run: 0, job: Buffer.from('Run me once.').toString('base64') }),
      { headers: h },
    );
    // A worker takes the job, runs it, publishes its result, and dies before its ack.
    const taken = await (await js.consumers.get(s.js.stream!, groupConsumer('contabo'))).next({ expires: 2_000 });
    expect(taken).not.toBeNull();
    await js.publish(
      resultSubject(prefix, 'contabo', 'done-1'),
      encode({
        v: 1,
        jobId: 'done-1',
        run: 0,
        status: 'completed',
        model: 'qwen2.5:14b',
        body: 'x',
        tokensIn: 1,
        tokensOut: 1,
        durationMs: 1,
        worker: 'contabo',
      }),
      { msgID: 'done-1' },
    );
    await nc.close();
    // The job comes back after ackWait, to a live worker.
    await s.startWorker('contabo');
    await waitFor(() => s.handled.length >= 1, 'the redelivery handled');
    expect(s.handled[0]).toMatchObject({ jobId: 'done-1', outcome: 'skipped', deliveries: 2 });
    expect(ollama.chats.some((c) => c.messages.at(-1)?.content === 'Run me once.')).toBe(false);
    const jsm = await jetstreamManager(s.workers[0]!.nc);
    await waitFor(async () => (await jsm.streams.info(s.js.stream!)).state.messages === 0, 'the job acked');
  });

  it('a worker that dies mid-job: the job is redelivered and run again, because no result exists; one output', async () => {
    const s = await setup({ ackWaitMs: 1_500, progressIntervalMs: 300 });
    let release!: () => void;
    const hang = new Promise<void>((r) => (release = r));
    let calls = 0;
    ollama.answer = async (b) => {
      calls++;
      if (calls === 1) await hang;
      return echoAnswer(b);
    };
    await s.startGateway();
    const first = await s.startWorker('contabo');
    await s.v.drop('long.md', 'A long job.\n');
    await waitFor(() => calls === 1, 'the first run to start');
    // The first worker's connection dies: no more in-progress acks, no ack; its run is orphaned.
    await first.nc.close();
    await s.startWorker('contabo');
    await waitFor(() => s.outcomes.length >= 1, 'the job settled', 20_000);
    release();
    expect(s.outcomes[0]).toMatchObject({ status: 'completed' });
    expect(calls).toBe(2);
    const second = s.handled.find((h) => h.host === 'contabo' && h.outcome === 'completed');
    expect(second?.deliveries).toBe(2);
    expect(await s.v.list('outputs')).toHaveLength(1);
    expect(s.metrics.value('platform_jetstream_redeliveries_total', { group: 'contabo' })).toBe(1);
    await first.w.stop();
  });

  it('a result that arrives while the gateway is down settles the job when the next gateway claims it again', async () => {
    const s = await setup({}, { graceMs: 200 });
    await s.startGateway();
    await s.v.drop('later.md', 'Answer later.\n');
    // Published, then the gateway stops before any worker runs it: the file goes back to the queue.
    await waitFor(() => (s.metrics.value('platform_jetstream_published_total', { outcome: 'stored' }) ?? 0) >= 1, 'the publish');
    await s.stopGateway();
    expect(await s.v.list('queue')).toEqual(['later.md']);
    await s.startWorker('contabo');
    await waitFor(() => s.handled.some((h) => h.outcome === 'completed'), 'the worker to run it');
    await s.startGateway();
    await waitFor(() => s.outcomes.some((o) => o.status === 'completed'), 'the job settled');
    expect(s.metrics.value('platform_jetstream_results_total', { outcome: 'found' })).toBe(1);
    expect(ollama.chats.filter((c) => c.messages.at(-1)?.content === 'Answer later.')).toHaveLength(1);
    expect(await s.v.list('completed')).toEqual(['later.md']);
    expect(await s.v.list('outputs')).toHaveLength(1);
    await sleep(300);
    // Its result reached the consumer too (stale: no claim waits for it any more), and nothing ran twice.
    expect(s.handled.filter((h) => h.outcome === 'completed')).toHaveLength(1);
  });

  it("a retryable failure (provider unavailable) is nak'd and runs again; a permanent one is filed in the failed folder with the reason", async () => {
    const s = await setup({ nakDelayMs: 100 });
    let flaky = 0;
    ollama.answer = (b) => {
      const prompt = b.messages.at(-1)?.content ?? '';
      if (prompt.startsWith('Flaky') && ++flaky <= 2) return { status: 503, error: 'server busy' };
      if (prompt.startsWith('Broken')) return { status: 400, error: 'invalid request: bad options' };
      return echoAnswer(b);
    };
    await s.startGateway();
    await s.startWorker('contabo');
    await s.v.drop('flaky.md', 'Flaky job.\n');
    await s.v.drop('broken.md', 'Broken job.\n');
    await waitFor(() => s.outcomes.length >= 2, 'two outcomes', 20_000);
    const flakyOut = s.outcomes.find((o) => o.name === 'flaky.md')!;
    const brokenOut = s.outcomes.find((o) => o.name === 'broken.md')!;
    expect(flakyOut.status).toBe('completed');
    expect(s.handled.filter((h) => h.jobId === flakyOut.jobId).map((h) => [h.outcome, h.deliveries])).toEqual([
      ['retried', 1],
      ['retried', 2],
      ['completed', 3],
    ]);
    expect(brokenOut.status).toBe('failed');
    const failed = await s.v.read('failed', (await s.v.list('failed'))[0]!);
    expect(failed).toContain('## Failed');
    expect(failed).toContain(`- code: \`${brokenOut.error!.code}\``);
    expect(s.handled.filter((h) => h.jobId === brokenOut.jobId).map((h) => h.outcome)).toEqual(['failed']);
    expect(s.metrics.value('platform_jetstream_results_total', { outcome: 'failed' })).toBe(1);

    // The operator drops the failed file into the queue again, id and all: a new run, not the old failure.
    ollama.answer = echoAnswer;
    const name = (await s.v.list('failed'))[0]!;
    await rename(join(s.v.dir('failed'), name), join(s.v.dir('queue'), 'broken-again.md'));
    await waitFor(() => s.outcomes.length >= 3, 'the second run', 20_000);
    expect(s.outcomes[2]).toMatchObject({ name: 'broken-again.md', status: 'completed', jobId: brokenOut.jobId });
    expect(await s.v.list('completed')).toEqual(['broken-again.md', 'flaky.md']);
  });

  it('a job delivered maxDeliver times with no result (each worker died on it) fails with the reason', async () => {
    const s = await setup({ maxDeliver: 2, ackWaitMs: 800 });
    await s.startGateway();
    await s.v.drop('poison.md', 'This job kills its worker.\n');
    await waitFor(() => (s.metrics.value('platform_jetstream_published_total', { outcome: 'stored' }) ?? 0) >= 1, 'the publish');
    // Two workers take it in turn and die before any result (they never ack).
    const nc = await connectNats({ js: s.gwConfig.queue.jetstream!, role: 'worker', password: undefined, name: 'dying', log: s.log });
    const consumer = await jetstream(nc).consumers.get(s.js.stream!, groupConsumer('contabo'));
    expect((await consumer.next({ expires: 3_000 }))?.info.deliveryCount).toBe(1);
    expect((await consumer.next({ expires: 3_000 }))?.info.deliveryCount).toBe(2);
    // The server gives it up when the next worker asks for work.
    await s.startWorker('contabo');
    await waitFor(() => s.outcomes.length >= 1, 'the job given up', 10_000);
    expect(s.outcomes[0]).toMatchObject({ name: 'poison.md', status: 'failed', error: { code: 'JOB_GIVEN_UP' } });
    const failed = await s.v.read('failed', (await s.v.list('failed'))[0]!);
    expect(failed).toContain('was delivered to workers 2 times and no result came back');
    expect(s.handled).toEqual([]);
    await nc.close();
  });

  it('consumers are one per route group, shared by the workers that take it', async () => {
    const s = await setup();
    await s.startGateway();
    const jsm = await jetstreamManager(s.gateway!.nc);
    const names: string[] = [];
    for await (const c of jsm.consumers.list(s.js.stream!)) names.push(c.name);
    expect(names.sort()).toEqual([groupConsumer('cloud'), groupConsumer('contabo'), groupConsumer('davas')]);
  });
});

describe.skipIf(missing !== undefined)("JetStream queue with the NATS users' permissions (docs/jetstream-queue.md)", () => {
  it('the gateway and a worker do their whole round trip, retries included, within the permissions the docs give', async () => {
    const [stream, results, prefix] = ['PJOBS', 'PRESULTS', 'perm'];
    const list = (xs: string[]): string => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;
    const server = await startNats({
      extra: `authorization {
  users = [
    { user: gateway, password: gpw, permissions: {
      publish: { allow: ${list([`${prefix}.run.*`, '$JS.API.INFO', `$JS.API.STREAM.*.${stream}`, `$JS.API.STREAM.*.${results}`, `$JS.API.CONSUMER.*.${stream}.>`, `$JS.API.CONSUMER.*.${results}.>`, `$JS.API.CONSUMER.MSG.NEXT.${results}.gateway`, `$JS.API.STREAM.MSG.GET.${results}`, `$JS.API.STREAM.MSG.DELETE.${stream}`, `$JS.ACK.${results}.gateway.>`])} }
      subscribe: { allow: ${list([`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.*`, '_INBOX.>'])} } } }
    { user: worker, password: wpw, permissions: {
      publish: { allow: ${list([`${prefix}.result.>`, '$JS.API.INFO', ...['run-cloud', 'run-contabo'].flatMap((c) => [`$JS.API.CONSUMER.CREATE.${stream}.${c}.>`, `$JS.API.CONSUMER.INFO.${stream}.${c}`, `$JS.API.CONSUMER.MSG.NEXT.${stream}.${c}`, `$JS.ACK.${stream}.${c}.>`]), `$JS.API.STREAM.MSG.GET.${results}`])} }
      subscribe: { allow: ${list(['_INBOX.>'])} } } }
  ]
}`,
    });
    try {
      const s = await setup(
        { stream, resultsStream: results, subjectPrefix: prefix, nakDelayMs: 100 },
        {},
        { server, passwords: { gateway: 'gpw', worker: 'wpw' } },
      );
      let flaky = 0;
      ollama.answer = (b) =>
        b.messages.at(-1)?.content.startsWith('Flaky') && ++flaky === 1 ? { status: 503, error: 'busy' } : echoAnswer(b);
      await s.startGateway();
      await s.startWorker('contabo');
      await s.v.drop('one.md', 'First.\n');
      await s.v.drop('flaky.md', 'Flaky.\n');
      const refused = (): unknown[] => s.log.records.filter((r) => /permission/i.test(JSON.stringify(r)));
      await waitFor(() => s.outcomes.length >= 2, 'two outcomes', 20_000).catch((e: unknown) => {
        throw new Error(`${String(e)}: ${JSON.stringify(refused().slice(0, 5))}`);
      });
      expect(s.outcomes.map((o) => o.status)).toEqual(['completed', 'completed']);
      expect(refused()).toEqual([]);
      // A worker may not publish jobs: permissions keep the roles apart.
      const w = s.workers[0]!.nc;
      await expect(jetstream(w).publish(`${prefix}.run.contabo`, new Uint8Array(1), { timeout: 2_000 })).rejects.toThrow();
    } finally {
      for (const x of open.splice(0)) await x.close();
      await server.close();
    }
  });
});
