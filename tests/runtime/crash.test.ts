import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoAnswer, startOllama, type OllamaDouble } from '../doubles/ollama.js';
import { writeTestConfig } from '../doubles/config.js';
import { expectEveryJobSettledOnce } from './helpers/drained.js';
import { frontmatterOf, makeVault, sleep, waitFor, type TempVault } from './helpers/vault.js';

/*
 * kill -9 a real worker process (`runtime worker`, the production entry point) three times at
 * random points over a 200-job queue, restart it, and check every job completed exactly once
 * with exactly one output, and that no job was run again after it had completed.
 */

const JOBS = 200;
const KILLS = 3;
const BIN = join(import.meta.dirname, '../../runtime/bin/runtime.js');

let v: TempVault;
let ollama: OllamaDouble;
let env: Record<string, string>;
/** Provider calls, by job number, with the time each arrived. */
const calls = new Map<number, number[]>();
/** After each kill: which jobs had their output, and the call counts then. */
const snapshots: { completed: Set<number>; calls: Map<number, number> }[] = [];
let child: ChildProcess | undefined;
let stderr = '';

function startWorker(): ChildProcess {
  const c = spawn(process.execPath, [BIN, 'worker'], {
    env: { ...process.env, ...env, LOG_LEVEL: process.env.CRASH_LOG ? 'debug' : 'warn' },
    stdio: ['ignore', process.env.CRASH_LOG ? openSync(process.env.CRASH_LOG, 'a') : 'ignore', 'pipe'],
  });
  c.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return c;
}

function exited(c: ChildProcess): Promise<number | null> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve(c.exitCode);
  return new Promise((r) => c.once('exit', (code) => r(code)));
}

/** Job numbers that have an output file (the output names its source file). */
async function jobsWithOutput(): Promise<Set<number>> {
  const out = new Set<number>();
  for (const name of await v.list('outputs')) {
    const src = String(frontmatterOf(await v.read('outputs', name)).data.source);
    out.add(Number(/job-(\d+)\.md/.exec(src)?.[1]));
  }
  return out;
}

const totalCalls = (): number => [...calls.values()].reduce((n, a) => n + a.length, 0);

beforeAll(async () => {
  v = await makeVault();
  ollama = await startOllama({ answer: echoAnswer });
  ollama.answer = async (body) => {
    const prompt = body.messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
    const n = Number(/job number (\d+)/.exec(prompt)?.[1]);
    const at = Date.now();
    calls.set(n, [...(calls.get(n) ?? []), at]);
    await sleep(Math.floor(Math.random() * 15));
    return `answer for job ${n}`;
  };
  ({ env } = await writeTestConfig({
    root: v.root,
    vault: v.vault,
    dataDir: v.dataDir,
    ollamaUrl: ollama.url,
    worker: { concurrency: 4, mtimeGuardMs: 50, rescanMs: 1_000, graceMs: 2_000 },
  }));
  for (let i = 0; i < JOBS; i++) {
    const fm = i % 3 === 0 ? `---\nid: preset-${i}\n---\n` : i % 3 === 1 ? '---\ntitle: Crash test\n---\n' : '';
    await v.drop(`job-${String(i).padStart(3, '0')}.md`, `${fm}This is job number ${i}.\n`);
  }
});

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await ollama?.close();
  await v?.cleanup();
});

describe('crash safety', () => {
  it(`SIGKILL ${KILLS} times at random points: every job completed once, one output each`, async () => {
    for (let k = 0; k < KILLS; k++) {
      child = startWorker();
      // Let it get into the work, then kill at a random moment of a job's life.
      const target = totalCalls() + 15 + Math.floor(Math.random() * 30);
      await waitFor(() => totalCalls() >= target || child!.exitCode !== null, 'the worker to make calls', 30_000, 2);
      await sleep(Math.floor(Math.random() * 20));
      expect(child.exitCode, stderr).toBeNull();
      child.kill('SIGKILL');
      await exited(child);
      // Requests the dead process had already sent are still being read: let them land.
      await sleep(200);
      snapshots.push({ completed: await jobsWithOutput(), calls: new Map([...calls].map(([n, a]) => [n, a.length])) });
    }
    expect((await v.list('completed')).length).toBeLessThan(JOBS);

    child = startWorker();
    await waitFor(async () => (await v.list('completed')).length >= JOBS, 'all jobs to complete', 40_000, 50).catch(async (e: unknown) => {
      const counts = {
        queue: (await v.list('queue')).length,
        active: (await v.list('active')).length,
        completed: (await v.list('completed')).length,
        failed: (await v.list('failed')).length,
      };
      throw new Error(`${String(e)}: ${JSON.stringify(counts)} exit=${child?.exitCode} stderr=${stderr.slice(-2000)}`);
    });
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);

    await expectEveryJobSettledOnce(v, JOBS);

    // No job was called again once its output existed; the rest ran exactly once after the
    // last kill; only jobs in flight at a kill ran twice.
    const count = (n: number): number => calls.get(n)?.length ?? 0;
    for (const [k, snap] of snapshots.entries()) {
      const prev = snapshots[k - 1];
      expect(snap.completed.size, `kill ${k + 1} came before any job completed`).toBeGreaterThan(0);
      for (const n of snap.completed) {
        expect(count(n), `job ${n} ran again after it completed (kill ${k + 1})`).toBe(snap.calls.get(n));
        // Completed in this run: called exactly once in it.
        if (!prev?.completed.has(n)) expect(snap.calls.get(n)! - (prev?.calls.get(n) ?? 0), `job ${n} in run ${k + 1}`).toBe(1);
      }
    }
    const last = snapshots.at(-1)!;
    let reruns = 0;
    for (let n = 0; n < JOBS; n++) {
      expect(count(n), `job ${n} was never run`).toBeGreaterThanOrEqual(1);
      if (!last.completed.has(n)) expect(count(n) - (last.calls.get(n) ?? 0), `job ${n} in the last run`).toBe(1);
      reruns += count(n) - 1;
    }
    expect(reruns).toBeLessThanOrEqual(KILLS * 4); // at most the jobs in flight at each kill
  }, 90_000);
});
