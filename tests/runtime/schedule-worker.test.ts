import { mkdir, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../runtime/src/log.js';
import { Router } from '../../runtime/src/router/index.js';
import { ScheduleLedger } from '../../runtime/src/schedule/index.js';
import { UsageStore } from '../../runtime/src/store/usage.js';
import { createMetrics } from '../../runtime/src/telemetry/metrics.js';
import { createWorker, type Worker } from '../../runtime/src/worker/index.js';
import { openWorkerParts } from '../../runtime/src/worker/parts.js';
import { startOllama, type OllamaDouble } from '../doubles/ollama.js';
import { testConfig } from '../doubles/config.js';
import { makeVault, waitFor, type TempVault } from './helpers/vault.js';

/*
 * A scheduled briefing end to end: the worker's scheduler drops the job at its slot, the same
 * worker claims it, the router calls the Ollama double over HTTP, the output lands in the vault.
 */

let v: TempVault | undefined;
let ollama: OllamaDouble | undefined;
let worker: Worker | undefined;
let usage: UsageStore | undefined;

afterEach(async () => {
  await worker?.stop();
  usage?.close();
  usage = undefined;
  await ollama?.close();
  await v?.cleanup();
  worker = ollama = v = undefined;
});

describe('a scheduled briefing through the worker', () => {
  it('is enqueued at its slot, run once against the model, and its output written', async () => {
    v = await makeVault();
    ollama = await startOllama({ chat: { chunks: ['Briefing: ', 'two notes changed.'], promptEvalCount: 40, evalCount: 5 } });
    await mkdir(join(v.vault, 'templates'), { recursive: true });
    await mkdir(join(v.vault, 'notes'), { recursive: true });
    await writeFile(
      join(v.vault, 'templates/briefing.md'),
      'Write my briefing for {{date}}.\n\nNotes changed since {{last_run}}:\n{{notes_changed}}\n\nFailed jobs:\n{{jobs_failed}}\n\nToken spend:\n{{token_spend}}\n',
    );
    await utimes(join(v.vault, 'templates/briefing.md'), new Date('2026-01-01T00:00:00Z'), new Date('2026-01-01T00:00:00Z'));
    for (const [n, at] of [
      ['notes/garden.md', '2026-12-01T05:00:00Z'],
      ['notes/taxes.md', '2026-11-30T20:00:00Z'],
    ] as const) {
      await writeFile(join(v.vault, n), 'x');
      await utimes(join(v.vault, n), new Date(at), new Date(at));
    }
    // A job that failed overnight, and yesterday's model calls in the usage store.
    await writeFile(join(v.vault, '_failed/summarise.md'), 'x');
    await utimes(join(v.vault, '_failed/summarise.md'), new Date('2026-12-01T03:00:00Z'), new Date('2026-12-01T03:00:00Z'));
    usage = new UsageStore(v.dataDir);
    usage.record({
      time: '2026-11-30T18:00:00.000Z',
      provider: 'groq',
      model: 'llama-3.3-70b-versatile',
      inputTokens: 1200,
      outputTokens: 300,
      durationMs: 900,
      outcome: 'ok',
    });
    usage.record({
      time: '2026-11-29T18:00:00.000Z',
      provider: 'groq',
      model: 'llama-3.3-70b-versatile',
      inputTokens: 5,
      outputTokens: 5,
      durationMs: 9,
      outcome: 'ok',
    });
    const base = await testConfig({
      root: v.root,
      vault: v.vault,
      dataDir: v.dataDir,
      ollamaUrl: ollama.url,
      worker: { mtimeGuardMs: 100, rescanMs: 200 },
    });
    const config = {
      ...base,
      schedules: [
        {
          name: 'briefing',
          cron: '0 7 * * *',
          timezone: 'Europe/London',
          enabled: true,
          catchUp: 'once' as const,
          job: { type: 'text' as const, model: 'qwen2.5:14b', skills: [], title: 'Daily briefing', template: 'templates/briefing.md' },
        },
      ],
    };
    // The worker has run this schedule since yesterday; it starts again 5 s after today's slot.
    const seen = new ScheduleLedger(join(v.dataDir, 'jobs.db'));
    seen.firstSeen('briefing', Date.parse('2026-11-30T12:00:00Z'));
    seen.close();
    const log = memoryLogger();
    const metrics = createMetrics();
    const outcomes: string[] = [];
    worker = createWorker({
      config,
      router: new Router({ config, log, metrics }),
      ...(await openWorkerParts(config, { log })),
      spend: usage,
      log,
      metrics,
      now: () => Date.parse('2026-12-01T07:00:05Z'),
      onOutcome: (o) => outcomes.push(`${o.status} ${o.jobId}`),
    });
    await worker.start();
    await waitFor(() => outcomes.length >= 1, 'the briefing job', 20_000);
    expect(outcomes).toEqual(['completed sched-briefing-20261201T0700Z']);
    const outputs = await readdir(join(v.vault, 'runner-outputs'));
    expect(outputs).toHaveLength(1);
    const out = await readFile(join(v.vault, 'runner-outputs', outputs[0]!), 'utf8');
    expect(out).toContain('job_id: sched-briefing-20261201T0700Z');
    expect(out).toContain('Briefing: two notes changed.');
    expect(await readdir(join(v.vault, '_completed'))).toEqual(['briefing-20261201T0700Z.md']);
    // The model saw the rendered template: the date in London, and the notes changed in the last day.
    const chat = ollama.requests.find((r) => r.path === '/api/chat')!;
    const sent = JSON.stringify(chat.body);
    expect(sent).toContain('Write my briefing for 2026-12-01.');
    expect(sent).toContain('- notes/garden.md\\n- notes/taxes.md');
    expect(sent).toContain('"model":"qwen2.5:14b"');
    expect(sent).toContain('Failed jobs:\\n- _failed/summarise.md');
    expect(sent).toContain('Token spend:\\n- llama-3.3-70b-versatile (groq): 1 call, 1200 tokens in, 300 out, 0 errors');
    expect(worker.upcoming(2)).toEqual([
      {
        name: 'briefing',
        cron: '0 7 * * *',
        timezone: 'Europe/London',
        enabled: true,
        catchUp: 'once',
        next: ['2026-12-02T07:00:00.000Z', '2026-12-03T07:00:00.000Z'],
        last: '2026-12-01T07:00:00.000Z',
        lastStatus: 'enqueued',
      },
    ]);
    expect(metrics.value('platform_schedule_runs_total', { schedule: 'briefing', outcome: 'enqueued' })).toBe(1);
    // The longest gap is the 25-hour day the clocks go back.
    expect(metrics.value('platform_schedule_period_seconds', { schedule: 'briefing' })).toBe(90_000);
  });
});
