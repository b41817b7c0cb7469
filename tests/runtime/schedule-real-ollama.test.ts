import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobOutcome } from '../../runtime/src/jobs/process.js';
import { memoryLogger } from '../../runtime/src/log.js';
import { Router } from '../../runtime/src/router/index.js';
import { ScheduleLedger } from '../../runtime/src/schedule/index.js';
import { UsageStore } from '../../runtime/src/store/usage.js';
import { createWorker } from '../../runtime/src/worker/index.js';
import { openWorkerParts } from '../../runtime/src/worker/parts.js';
import { testConfig } from '../doubles/config.js';
import { startRealOllama, type RealOllama } from '../helpers/real-ollama.js';
import { frontmatterOf, makeVault, waitFor, type TempVault } from './helpers/vault.js';

/*
 * The daily briefing end to end against a real Ollama serving a real small model: the scheduler
 * drops the job at its slot, the worker fills the template (health included) and runs it, the
 * note lands in the briefing folder with the real token counts. A 135M model says anything:
 * structure and counts are held, never wording.
 */

let ollama: RealOllama;
let v: TempVault;

beforeAll(async () => {
  ollama = await startRealOllama({ models: ['qwen2.5:14b'] });
  v = await makeVault();
}, 600_000);

afterAll(async () => {
  await ollama?.stop();
  await v?.cleanup();
});

describe('a scheduled briefing on a real model', () => {
  it('runs once at its slot and writes its note with real token counts into its folder', async () => {
    await mkdir(join(v.vault, 'templates'), { recursive: true });
    await writeFile(
      join(v.vault, 'templates/briefing.md'),
      'Write a two-line briefing for {{date}}.\n\nPlatform health:\n{{health}}\n\nFailed jobs:\n{{jobs_failed}}\n',
    );
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
          job: {
            type: 'text' as const,
            model: 'qwen2.5:14b',
            skills: [],
            title: 'Daily briefing',
            template: 'templates/briefing.md',
            output: 'briefings',
          },
        },
      ],
    };
    const seen = new ScheduleLedger(join(v.dataDir, 'jobs.db'));
    seen.firstSeen('briefing', Date.parse('2026-11-30T12:00:00Z'));
    seen.close();
    const log = memoryLogger();
    const usage = new UsageStore(v.dataDir);
    const router = new Router({ config, log, usage });
    const outcomes: JobOutcome[] = [];
    const worker = createWorker({
      config,
      router,
      ...(await openWorkerParts(config, { log })),
      health: router,
      spend: usage,
      log,
      now: () => Date.parse('2026-12-01T07:00:03Z'),
      onOutcome: (o) => outcomes.push(o),
    });
    try {
      await worker.start();
      await waitFor(() => outcomes.length >= 1, 'the briefing on the real model', 180_000);
    } finally {
      await worker.stop();
      usage.close();
    }
    expect(outcomes.map((o) => `${o.status} ${o.jobId}`)).toEqual(['completed sched-briefing-20261201T0700Z']);
    const o = outcomes[0]!;
    expect(o.tokensIn).toBeGreaterThan(20);
    expect(o.tokensOut).toBeGreaterThan(0);
    expect(await readdir(join(v.vault, 'briefings'))).toEqual([o.output!.slice('briefings/'.length)]);
    const note = frontmatterOf(await readFile(join(v.vault, o.output!), 'utf8'));
    expect(note.data).toMatchObject({
      job_id: 'sched-briefing-20261201T0700Z',
      model: 'qwen2.5:14b',
      tokens_in: o.tokensIn,
      tokens_out: o.tokensOut,
    });
    expect(note.content.trim().length).toBeGreaterThan(0);
    expect(await readdir(join(v.vault, '_completed'))).toEqual(['briefing-20261201T0700Z.md']);
  }, 300_000);
});
