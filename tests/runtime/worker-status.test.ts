import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../runtime/src/errors.js';
import { memoryLogger } from '../../runtime/src/log.js';
import { createMetrics } from '../../runtime/src/telemetry/metrics.js';
import { startStatusServer, type StatusServer } from '../../runtime/src/telemetry/status-server.js';
import { writeTestConfig } from '../doubles/config.js';
import { startOllama, type OllamaDouble } from '../doubles/ollama.js';
import { startHarness, type Harness } from './helpers/worker-harness.js';
import { makeVault, waitFor, type TempVault } from './helpers/vault.js';

/*
 * The worker's status port (ports.metrics): /metrics for Alloy, /healthz for the compose
 * healthcheck. Real HTTP on 127.0.0.1 against real worker processes (`runtime worker`) and a
 * worker in this process: healthy only while it holds the queue lease, its queue has started and
 * it is not stopping.
 */

const BIN = join(import.meta.dirname, '../../runtime/bin/runtime.js');

let v: TempVault | undefined;
let ollama: OllamaDouble | undefined;
let h: Harness | undefined;
const children: ChildProcess[] = [];
const servers: StatusServer[] = [];

afterEach(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.length = 0;
  for (const s of servers) await s.close();
  servers.length = 0;
  await h?.close();
  h = undefined;
  await ollama?.close();
  ollama = undefined;
  await v?.cleanup();
  v = undefined;
});

interface Health {
  ok: boolean;
  lease: string;
  queueStarted: boolean;
  stopping: boolean;
}

async function get(url: string, init?: RequestInit): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(url, init);
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

async function health(base: string): Promise<{ status: number; body: Health }> {
  const r = await get(`${base}/healthz`);
  return { status: r.status, body: JSON.parse(r.text) as Health };
}

/** A `runtime worker` process; resolves its status URL from its `worker status listening` log line. */
function startWorker(env: Record<string, string>): { child: ChildProcess; url: Promise<string>; log: () => string } {
  const child = spawn(process.execPath, [BIN, 'worker'], {
    env: { ...process.env, ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const url = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      for (const line of out.split('\n')) {
        if (!line.includes('"worker status listening"')) continue;
        resolve((JSON.parse(line) as { url: string }).url);
      }
    });
    child.once('exit', (code) => reject(new Error(`the worker exited (${code}) before it listened:\n${out}`)));
  });
  return { child, url, log: () => out };
}

describe('runtime worker: the status port', () => {
  it('answers /healthz 200 while it holds the lease and runs its queue, 503 while a second worker waits; /metrics in Prometheus text', async () => {
    v = await makeVault();
    ollama = await startOllama();
    const { env } = await writeTestConfig({
      root: v.root,
      vault: v.vault,
      dataDir: v.dataDir,
      ollamaUrl: ollama.url,
      worker: { mtimeGuardMs: 50, rescanMs: 200, leaseHeartbeatMs: 200, leaseStaleHeartbeats: 3 },
    });
    const a = startWorker(env);
    const aUrl = await a.url;
    // Bound where WORKER_LISTEN_HOST says (loopback here), on the port runtime.json gives (0: a free one).
    expect(aUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await waitFor(async () => (await health(aUrl)).status === 200, 'the first worker to be healthy', 20_000);
    expect((await health(aUrl)).body).toEqual({ ok: true, lease: 'held', queueStarted: true, stopping: false });

    // One job through, then its counter and the queue gauges on /metrics.
    await v.drop('hello.md', '---\nmodel: qwen2.5:14b\nnotify: false\n---\nSay hello.\n');
    await waitFor(async () => (await v!.list('completed')).includes('hello.md'), 'the job to complete', 20_000);
    const metrics = await waitFor(async () => {
      const m = await get(`${aUrl}/metrics`);
      return m.text.includes('platform_jobs_total{type="text",outcome="completed"} 1') ? m : undefined;
    }, 'the job counter on /metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(metrics.text).toContain('# TYPE platform_queue_depth gauge');
    expect(metrics.text).toMatch(/^platform_queue_depth\{folder="queue"\} 0$/m);
    expect(metrics.text).toMatch(/^platform_job_duration_seconds_count\{type="text",outcome="completed"\} 1$/m);

    // Nothing else is served, and nothing but GET.
    const other = await get(`${aUrl}/api/health`);
    expect(other.status).toBe(404);
    expect(JSON.parse(other.text)).toMatchObject({ code: 'NOT_FOUND' });
    const post = await get(`${aUrl}/healthz`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(JSON.parse(post.text)).toMatchObject({ code: 'BAD_REQUEST', message: 'POST is not allowed on /healthz' });

    // A second worker on the same vault serves its port at once but is unhealthy: it waits for the lease.
    const b = startWorker(env);
    const bUrl = await b.url;
    expect(bUrl).not.toBe(aUrl);
    await waitFor(() => /another worker holds this vault queue/.test(b.log()), 'the second worker to wait');
    expect(await health(bUrl)).toEqual({ status: 503, body: { ok: false, lease: 'waiting', queueStarted: false, stopping: false } });
    expect((await health(aUrl)).status).toBe(200);

    // The first stops: its port closes with it, and the second takes the queue over and turns healthy.
    a.child.kill('SIGTERM');
    expect(await new Promise((r) => a.child.once('exit', r))).toBe(0);
    await expect(fetch(`${aUrl}/healthz`)).rejects.toThrow();
    await waitFor(async () => (await health(bUrl)).status === 200, 'the second worker to take over', 20_000);
    expect((await health(bUrl)).body).toEqual({ ok: true, lease: 'held', queueStarted: true, stopping: false });
  }, 90_000);

  it('turns unhealthy as soon as the worker starts stopping, while a job still runs', async () => {
    h = await startHarness({ graceMs: 2_000, concurrency: 1 });
    let release: () => void = () => undefined;
    h.ollama.answer = () => new Promise<string>((r) => (release = () => r('done')));
    const before = await startStatusServer({
      host: '127.0.0.1',
      port: 0,
      metrics: h.metrics,
      health: () => (h!.worker ? h!.worker.health() : { ok: false }),
      log: h.log,
    });
    servers.push(before);
    // Not started yet: no lease, no queue.
    expect((await health(before.url)).status).toBe(503);
    await h.start();
    expect(await health(before.url)).toEqual({ status: 200, body: { ok: true, lease: 'held', queueStarted: true, stopping: false } });
    await h.v.drop('slow.md', 'take your time');
    await waitFor(() => h!.ollama.chats.length === 1, 'the call');
    const stopped = h.worker.stop();
    expect(await health(before.url)).toEqual({ status: 503, body: { ok: false, lease: 'held', queueStarted: false, stopping: true } });
    release();
    await stopped;
    expect(await health(before.url)).toEqual({ status: 503, body: { ok: false, lease: 'released', queueStarted: false, stopping: true } });
    expect(await h.v.list('completed')).toEqual(['slow.md']);
  }, 30_000);

  it('fails with CONFIG_INVALID naming the address when the port is taken', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    try {
      const e = await startStatusServer({
        host: '127.0.0.1',
        port,
        metrics: createMetrics(),
        health: () => ({ ok: true }),
        log: memoryLogger(),
      }).then(
        (s) => {
          servers.push(s);
          return undefined;
        },
        (err: unknown) => err,
      );
      expect(isRuntimeError(e, 'CONFIG_INVALID')).toBe(true);
      expect((e as Error).message).toContain(`cannot listen on 127.0.0.1:${port}`);
      expect((e as Error).message).toContain('EADDRINUSE');
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });
});
