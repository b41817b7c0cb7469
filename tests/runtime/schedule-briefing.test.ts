import { mkdir, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobOutcome } from '../../runtime/src/jobs/process.js';
import { memoryLogger } from '../../runtime/src/log.js';
import { DeferredNotifier } from '../../runtime/src/notify/deferred.js';
import type { JobNotice, JobNotifier } from '../../runtime/src/notify/notices.js';
import { Router } from '../../runtime/src/router/index.js';
import { ScheduleLedger } from '../../runtime/src/schedule/index.js';
import { createWorker, type Worker } from '../../runtime/src/worker/index.js';
import { openWorkerParts } from '../../runtime/src/worker/parts.js';
import { testConfig } from '../doubles/config.js';
import { startOllama, type OllamaDouble } from '../doubles/ollama.js';
import { frontmatterOf, makeVault, waitFor, type TempVault } from './helpers/vault.js';

/*
 * The daily briefing as the example configures it: its template gets platform health as the
 * worker sees it (the router's health-checked hosts, the models it cannot serve, the queue), its
 * note lands in the folder the model names, and a slot inside quiet hours holds its notice in
 * jobs.db until the window ends.
 */

let v: TempVault | undefined;
let ollama: OllamaDouble | undefined;
let worker: Worker | undefined;
let router: Router | undefined;

afterEach(async () => {
  await worker?.stop();
  await router?.stop();
  await ollama?.close();
  await v?.cleanup();
  worker = ollama = v = router = undefined;
});

class Recorder implements JobNotifier {
  readonly sent: JobNotice[] = [];
  jobCompleted(n: JobNotice): void {
    this.sent.push(n);
  }
  jobFailed(n: JobNotice): void {
    this.sent.push(n);
  }
}

describe('the scheduled briefing', () => {
  it('gets platform health, writes into its folder, and holds its notice through quiet hours', async () => {
    v = await makeVault();
    ollama = await startOllama({ chat: { chunks: ['All quiet. ', 'Davas is up.'], promptEvalCount: 30, evalCount: 4 } });
    await mkdir(join(v.vault, 'templates'), { recursive: true });
    await writeFile(
      join(v.vault, 'templates/briefing.md'),
      'Briefing for {{date}}.\n\nNotes:\n{{notes_changed}}\n\nHealth:\n{{health}}\n\nOpen jobs:\n{{jobs_open}}\n\nFailed jobs:\n{{jobs_failed}}\n',
    );
    await utimes(join(v.vault, 'templates/briefing.md'), new Date('2026-01-01T00:00:00Z'), new Date('2026-01-01T00:00:00Z'));
    // Yesterday's briefing sits in the briefing folder: its own answers are not "notes changed".
    for (const rel of ['notes/garden.md', 'briefings/2026-11-30-070012-daily-briefing.md']) {
      await mkdir(join(v.vault, rel, '..'), { recursive: true });
      await writeFile(join(v.vault, rel), 'x');
      await utimes(join(v.vault, rel), new Date('2026-12-01T05:00:00Z'), new Date('2026-12-01T05:00:00Z'));
    }
    await writeFile(join(v.vault, '_failed/overnight.md'), 'x');
    await utimes(join(v.vault, '_failed/overnight.md'), new Date('2026-12-01T03:00:00Z'), new Date('2026-12-01T03:00:00Z'));
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
          quietHours: { start: '22:00', end: '07:30' },
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
    router = new Router({ config, log });
    await router.start();
    await router.checkNow();
    const notices = new Recorder();
    const outcomes: JobOutcome[] = [];
    const now = Date.parse('2026-12-01T07:00:04Z');
    worker = createWorker({
      config,
      router,
      ...(await openWorkerParts(config, { log })),
      notifier: notices,
      health: router,
      log,
      now: () => now,
      onOutcome: (o) => outcomes.push(o),
    });
    await worker.start();
    await waitFor(() => outcomes.length >= 1, 'the briefing', 20_000);
    expect(outcomes[0]).toMatchObject({
      status: 'completed',
      jobId: 'sched-briefing-20261201T0700Z',
      notifyAfter: '2026-12-01T07:30:00.000Z',
    });

    // The note is in briefings/, not in the outputs folder.
    expect(outcomes[0]!.output).toMatch(/^briefings\/\d{4}-\d\d-\d\d-\d{6}-daily-briefing\.md$/);
    expect(await readdir(join(v.vault, 'runner-outputs'))).toEqual([]);
    expect((await readdir(join(v.vault, 'briefings'))).sort()).toEqual(
      ['2026-11-30-070012-daily-briefing.md', outcomes[0]!.output!.slice(10)].sort(),
    );
    const note = frontmatterOf(await readFile(join(v.vault, outcomes[0]!.output!), 'utf8'));
    expect(note.data).toMatchObject({ job_id: 'sched-briefing-20261201T0700Z', status: 'completed' });
    expect(note.content.trim()).toBe('All quiet. Davas is up.');

    // The model saw the health the worker sees: every Ollama host checked (all at the double: up).
    const sent = (ollama.chats.at(-1)!.messages.at(-1) as { content: string }).content;
    expect(sent).toContain('Notes:\n- notes/garden.md\n\nHealth:\nModel hosts:\n');
    // The health-checked host (davas, at the double) is up; the hosted models have no keys here.
    expect(sent).toMatch(/Model hosts:\n- davas: up, checked \d{4}-\d\d-\d\dT[\d:.]+Z, \d+ ms\n/);
    expect(sent).toContain('Models unavailable (4 of 6): llama-3.3-70b-versatile (GROQ_API_KEY is not set);');
    expect(sent).toContain('Jobs failed since the last run: 1.');
    expect(sent).toMatch(/Queue: \d+ queued, \d+ active, \d+ completed, \d+ failed/);
    expect(sent).toContain('Failed jobs:\n- _failed/overnight.md');

    // 07:00 is inside quiet hours (22:00-07:30): no notice yet, one held in jobs.db until 07:30.
    expect(notices.sent).toEqual([]);
    await worker.stop();
    worker = undefined;
    const later = new Recorder();
    const held = new DeferredNotifier({
      inner: later,
      path: join(v.dataDir, 'jobs.db'),
      log,
      now: () => Date.parse('2026-12-01T07:29:59Z'),
    });
    held.start();
    expect(held.pending()).toEqual([
      expect.objectContaining({ key: 'sched-briefing-20261201T0700Z:completed', due: Date.parse('2026-12-01T07:30:00Z') }),
    ]);
    expect(later.sent).toEqual([]);
    held.close();
    // A worker that starts after 07:30 sends it, once.
    const after = new Recorder();
    const resumed = new DeferredNotifier({
      inner: after,
      path: join(v.dataDir, 'jobs.db'),
      log,
      now: () => Date.parse('2026-12-01T07:31:00Z'),
    });
    resumed.start();
    expect(after.sent.map((n) => `${n.status} ${n.jobId} ${n.output}`)).toEqual([
      `completed sched-briefing-20261201T0700Z ${outcomes[0]!.output}`,
    ]);
    resumed.close();
  });
});
