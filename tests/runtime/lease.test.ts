import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../runtime/src/log.js';
import { QueueLease, leaseFileName } from '../../runtime/src/vault/lease.js';
import { parseFrontmatter } from '../../runtime/src/vault/frontmatter.js';
import { echoAnswer, startOllama, type OllamaDouble } from '../doubles/ollama.js';
import { writeTestConfig } from '../doubles/config.js';
import { makeVault, sleep, waitFor, type TempVault } from './helpers/vault.js';

/*
 * One worker per vault queue. Two real worker processes (`runtime worker`, the production entry
 * point) on one vault: the second waits for the lease instead of requeueing and re-running the
 * first one's active jobs; when the first is killed, the second sees its pid is gone and takes
 * the queue over at once.
 */

const BIN = join(import.meta.dirname, '../../runtime/bin/runtime.js');
const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

let v: TempVault | undefined;
let ollama: OllamaDouble | undefined;
const children: ChildProcess[] = [];
const leases: QueueLease[] = [];

afterEach(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.length = 0;
  for (const l of leases) await l.release();
  leases.length = 0;
  await ollama?.close();
  ollama = undefined;
  await v?.cleanup();
  v = undefined;
});

function lease(dir: string, log = memoryLogger(), heartbeatMs = 100): QueueLease & { log: ReturnType<typeof memoryLogger> } {
  const l = Object.assign(new QueueLease({ dir, queue: '_queue', heartbeatMs, staleBeats: 3, log }), { log });
  leases.push(l);
  return l;
}

describe('QueueLease', () => {
  it('a second holder waits, logs who holds the queue, and gets the lease once the first releases it', async () => {
    v = await makeVault();
    const a = lease(v.vault);
    await a.acquire();
    const b = lease(v.vault);
    let got = false;
    const waiting = b.acquire().then(() => (got = true));
    await sleep(500);
    expect(got).toBe(false);
    expect(
      b.log.records.some(
        (r) => r.level === 'warn' && /another worker holds this vault queue/.test(r.msg) && r.holder === `${hostname()} pid ${process.pid}`,
      ),
    ).toBe(true);
    await a.release();
    await waiting;
    expect(b.isHeld).toBe(true);
    expect(JSON.parse(await readFile(join(v.vault, leaseFileName('_queue')), 'utf8'))).toMatchObject({ nonce: b.me.nonce });
  });

  it('takes over at once from a dead owner on this host and boot', async () => {
    v = await makeVault();
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => dead.once('exit', r));
    const stale = {
      host: hostname(),
      pid: dead.pid,
      pidStart: null,
      bootId,
      startedAt: new Date().toISOString(),
      nonce: 'dead',
      vault: v.vault,
    };
    await writeFile(join(v.vault, leaseFileName('_queue')), JSON.stringify(stale));
    const l = lease(v.vault, memoryLogger(), 60_000); // a heartbeat far longer than the test: only the pid can decide
    await l.acquire();
    expect(l.log.records.find((r) => r.msg === 'took over the queue lease')?.reason).toMatch(/is not running/);
  });

  it('takes over from another host only after its heartbeat stopped for the stale window', async () => {
    v = await makeVault();
    const path = join(v.vault, leaseFileName('_queue'));
    const other = {
      host: 'some-other-device',
      pid: 1,
      pidStart: null,
      bootId: 'x',
      startedAt: new Date().toISOString(),
      nonce: 'remote',
      vault: v.vault,
    };
    await writeFile(path, JSON.stringify(other));
    const l = lease(v.vault);
    let got = false;
    const waiting = l.acquire().then(() => (got = true));
    // The remote owner keeps beating (mtime moves) for a while: no takeover.
    for (let i = 0; i < 8; i++) {
      await sleep(100);
      const t = new Date();
      await utimes(path, t, t);
    }
    expect(got).toBe(false);
    await waiting; // beats stop: stale after 3 x 100 ms
    expect(l.log.records.find((r) => r.msg === 'took over the queue lease')?.reason).toMatch(/heartbeat stopped/);
  });

  it('a holder whose lease was taken over hears it at its next heartbeat', async () => {
    v = await makeVault();
    let lost = false;
    const log = memoryLogger();
    const a = new QueueLease({ dir: v.vault, queue: '_queue', heartbeatMs: 100, staleBeats: 3, log, onLost: () => (lost = true) });
    leases.push(a);
    await a.acquire();
    await writeFile(join(v.vault, leaseFileName('_queue')), JSON.stringify({ host: 'elsewhere', pid: 1, nonce: 'thief' }));
    await waitFor(() => lost, 'the lost-lease callback', 2_000);
    expect(log.records.some((r) => r.level === 'error' && /lost the queue lease/.test(r.msg))).toBe(true);
  });
});

describe('two worker processes on one vault', () => {
  it('the second waits for the lease: every job runs once; it takes over when the first is killed', async () => {
    v = await makeVault();
    ollama = await startOllama({ answer: echoAnswer });
    const calls = new Map<number, number>();
    // Jobs past the first few are held until the second worker is up and waiting, so the two overlap.
    let bothUp = false;
    ollama.answer = async (body) => {
      const n = Number(/job number (\d+)/.exec(body.messages.at(-1)?.content ?? '')?.[1]);
      calls.set(n, (calls.get(n) ?? 0) + 1);
      if (n >= 4) await waitFor(() => bothUp, 'the second worker', 60_000);
      await sleep(150);
      return `answer ${n}`;
    };
    const { env } = await writeTestConfig({
      root: v.root,
      vault: v.vault,
      dataDir: v.dataDir,
      ollamaUrl: ollama.url,
      worker: { concurrency: 2, mtimeGuardMs: 50, rescanMs: 500, graceMs: 2_000, leaseHeartbeatMs: 200, leaseStaleHeartbeats: 3 },
    });
    const JOBS = 30;
    for (let i = 0; i < JOBS; i++)
      await v.drop(`job-${String(i).padStart(2, '0')}.md`, `---\nid: job-${i}\n---\nThis is job number ${i}.\n`);
    const logs: string[] = ['', ''];
    const start = (k: number): ChildProcess => {
      const c = spawn(process.execPath, [BIN, 'worker'], {
        env: { ...process.env, ...env, LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      c.stdout!.on('data', (d: Buffer) => (logs[k] += d.toString()));
      c.stderr!.on('data', (d: Buffer) => (logs[k] += d.toString()));
      children.push(c);
      return c;
    };
    const first = start(0);
    await waitFor(() => [...calls.values()].length >= 2, 'the first worker to be running jobs', 30_000);
    const second = start(1);
    await waitFor(() => /another worker holds this vault queue/.test(logs[1]!), 'the second worker to wait', 30_000);
    bothUp = true;
    expect(logs[1]).not.toMatch(/requeued a job left active/);
    // Both live for a while: the first keeps draining, the second only waits.
    await waitFor(() => [...calls.values()].length >= 12, 'more jobs to run', 30_000);
    expect(logs[1]).not.toMatch(/holding the queue lease/);
    const before = new Map(calls);
    first.kill('SIGKILL');
    await waitFor(() => /took over the queue lease/.test(logs[1]!), 'the takeover', 10_000);
    expect(logs[1]).toMatch(/is not running/);
    await waitFor(async () => (await v!.list('completed')).length === JOBS, 'every job to complete', 60_000);
    second.kill('SIGTERM');
    await new Promise((r) => (second.exitCode !== null ? r(null) : second.once('exit', r)));

    const outputs = await v.list('outputs');
    expect(outputs).toHaveLength(JOBS);
    const ids = outputs.map((o) => String(parseFrontmatter(readFileSync(join(v!.dir('outputs'), o))).data.job_id));
    expect(new Set(ids).size).toBe(JOBS);
    // Every job ran; only those in flight when the first worker was killed ran twice.
    let reruns = 0;
    for (let i = 0; i < JOBS; i++) {
      expect(calls.get(i), `job ${i}`).toBeGreaterThanOrEqual(1);
      reruns += calls.get(i)! - 1;
      if (!before.has(i)) expect(calls.get(i), `job ${i} started after the takeover`).toBe(1);
    }
    expect(reruns).toBeLessThanOrEqual(2); // concurrency 2: at most the two in flight at the kill
  }, 120_000);
});
