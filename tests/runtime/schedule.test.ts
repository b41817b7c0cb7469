import { mkdir, readdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RuntimeSchedule } from '@platform/contract';
import { parseJobDocument as parseJobFile } from '../../runtime/src/jobs/document.js';
import { JobLedger } from '../../runtime/src/jobs/ledger.js';
import { memoryLogger } from '../../runtime/src/log.js';
import { ScheduleLedger, Scheduler, slotFileName, type SchedulerProps } from '../../runtime/src/schedule/index.js';
import { createMetrics } from '../../runtime/src/telemetry/metrics.js';
import { FOLDERS, makeVault, type TempVault } from './helpers/vault.js';

/*
 * The scheduler under a fake clock, against a real temp vault and a real SQLite ledger.
 * Every expected slot list is written out in full.
 */

const MIN = 60_000;
const TSX = join(import.meta.dirname, '../../node_modules/.bin/tsx');
const CHILD = join(import.meta.dirname, 'helpers/schedule-child.ts');

let v: TempVault;
let t: number;
const ledgers: ScheduleLedger[] = [];

beforeEach(async () => {
  v = await makeVault();
});
afterEach(async () => {
  for (const l of ledgers.splice(0)) l.close();
  await v.cleanup();
});

type JobOver = { [K in keyof RuntimeSchedule['job']]?: RuntimeSchedule['job'][K] | undefined };

function schedule(over: Omit<Partial<RuntimeSchedule>, 'job'> & { job?: JobOver } = {}): RuntimeSchedule {
  const job = { type: 'text', skills: [], prompt: 'Briefing for {{date}} (last run {{last_run}}).', ...over.job };
  return {
    name: 'brief',
    cron: '0 7 * * *',
    timezone: 'UTC',
    enabled: true,
    catchUp: 'skip',
    ...over,
    // An undefined key removes the default (`prompt: undefined` with a template).
    job: Object.fromEntries(Object.entries(job).filter(([, x]) => x !== undefined)) as RuntimeSchedule['job'],
  };
}

function scheduler(schedules: RuntimeSchedule[], extra: Partial<SchedulerProps> = {}, dbPath = join(v.dataDir, 'jobs.db')): Scheduler {
  const ledger = new ScheduleLedger(dbPath);
  ledgers.push(ledger);
  return new Scheduler({ schedules, vaultPath: v.vault, folders: FOLDERS, ledger, log: memoryLogger(), now: () => t, ...extra });
}

/** Job files in a folder, sorted. */
async function files(folder: keyof typeof FOLDERS = 'queue'): Promise<string[]> {
  return (await readdir(v.dir(folder))).filter((n) => !n.startsWith('.')).sort();
}

/** Walks the clock from `from` to `to` in `step` ms, ticking at each step. */
async function walk(s: Scheduler, from: string, to: string, step: number): Promise<void> {
  for (t = Date.parse(from); t <= Date.parse(to); t += step) await s.tick();
}

const names = (name: string, isos: string[]): string[] => isos.map((i) => slotFileName(name, Date.parse(i))).sort();

describe('every slot once', () => {
  it('a clock walking minute by minute enqueues each slot exactly once, with a parseable job', async () => {
    t = Date.parse('2026-12-01T06:00:00Z');
    const s = scheduler([schedule({ cron: '*/20 * * * *' })]);
    await walk(s, '2026-12-01T06:00:00Z', '2026-12-01T08:00:00Z', MIN);
    expect(await files()).toEqual(
      names('brief', [
        '2026-12-01T06:20:00Z',
        '2026-12-01T06:40:00Z',
        '2026-12-01T07:00:00Z',
        '2026-12-01T07:20:00Z',
        '2026-12-01T07:40:00Z',
        '2026-12-01T08:00:00Z',
      ]),
    );
    // Ticks at odd moments and repeated ticks change nothing.
    for (const d of [1, 7_000, 59_000, 59_999]) {
      t = Date.parse('2026-12-01T08:00:00Z') + d;
      expect((await s.tick()).filter((e) => e.outcome !== 'taken')).toEqual([]);
    }
    const text = await v.read('queue', slotFileName('brief', Date.parse('2026-12-01T07:00:00Z')));
    const job = parseJobFile(text);
    expect(job.frontmatter).toMatchObject({
      id: 'sched-brief-20261201T0700Z',
      type: 'text',
      notify: true,
      schedule: 'brief',
      slot: '2026-12-01T07:00:00.000Z',
    });
    expect(job.prompt.trim()).toBe('Briefing for 2026-12-01 (last run 2026-12-01T06:40:00.000Z).');
  });

  it('a restart resumes from the ledger: no slot twice, none lost', async () => {
    t = Date.parse('2026-12-01T06:00:00Z');
    const a = scheduler([schedule({ cron: '0 * * * *' })]);
    await walk(a, '2026-12-01T06:00:00Z', '2026-12-01T07:30:00Z', 10 * MIN);
    // A new process on the same data dir and vault, two minutes later.
    const b = scheduler([schedule({ cron: '0 * * * *' })]);
    await walk(b, '2026-12-01T07:32:00Z', '2026-12-01T09:05:00Z', 10 * MIN);
    expect(await files()).toEqual(names('brief', ['2026-12-01T07:00:00Z', '2026-12-01T08:00:00Z', '2026-12-01T09:00:00Z']));
  });

  it('a clock set back does not repeat slots; a clock set forward is downtime', async () => {
    t = Date.parse('2026-12-01T06:00:00Z');
    const s = scheduler([schedule({ cron: '0 * * * *', catchUp: 'skip' })]);
    await walk(s, '2026-12-01T06:00:00Z', '2026-12-01T08:10:00Z', 10 * MIN);
    // Back two hours (NTP fix, a bad RTC): the slots from 07:00 come round again, and stay done.
    await walk(s, '2026-12-01T06:10:00Z', '2026-12-01T08:10:00Z', 10 * MIN);
    expect(await files()).toEqual(names('brief', ['2026-12-01T07:00:00Z', '2026-12-01T08:00:00Z']));
    // Forward five hours: 09:00-12:00 missed (skipped), 13:00 reached on time.
    t = Date.parse('2026-12-01T13:01:00Z');
    const events = await s.tick();
    expect(events.map((e) => [e.outcome, e.slot])).toEqual([
      ['skipped', '2026-12-01T12:00:00.000Z'],
      ['enqueued', '2026-12-01T13:00:00.000Z'],
    ]);
  });

  it('a disabled schedule enqueues nothing; a new schedule owes nothing from before it was first seen', async () => {
    t = Date.parse('2026-12-01T06:59:00Z');
    const s = scheduler([schedule({ enabled: false }), schedule({ name: 'fresh', cron: '0 * * * *', catchUp: 'once' })]);
    await s.tick();
    expect(await files()).toEqual([]);
    await walk(s, '2026-12-01T07:00:00Z', '2026-12-01T07:00:00Z', MIN);
    expect(await files()).toEqual(names('fresh', ['2026-12-01T07:00:00Z']));
  });
});

describe('downtime and catch-up', () => {
  const down = async (
    catchUp: 'skip' | 'once',
  ): Promise<{ events: Awaited<ReturnType<Scheduler['tick']>>; metrics: ReturnType<typeof createMetrics> }> => {
    const metrics = createMetrics();
    t = Date.parse('2026-12-01T05:30:00Z');
    const s = scheduler([schedule({ cron: '0 */2 * * *', catchUp })], { metrics });
    await walk(s, '2026-12-01T05:30:00Z', '2026-12-01T08:00:30Z', 30 * MIN);
    // Down from 08:00:30 to 15:10: 10:00, 12:00 and 14:00 pass unseen.
    t = Date.parse('2026-12-01T15:10:00Z');
    return { events: await s.tick(), metrics };
  };

  it('skip: the missed slots are recorded and not run', async () => {
    const { events, metrics } = await down('skip');
    expect(events.map((e) => [e.outcome, e.slot])).toEqual([['skipped', '2026-12-01T14:00:00.000Z']]);
    expect(await files()).toEqual(names('brief', ['2026-12-01T06:00:00Z', '2026-12-01T08:00:00Z']));
    expect(metrics.value('platform_schedule_missed_total', { schedule: 'brief' })).toBe(3);
    expect(metrics.value('platform_schedule_runs_total', { schedule: 'brief', outcome: 'skipped' })).toBe(1);
  });

  it('once: one run for the latest missed slot, late by its downtime', async () => {
    const { events, metrics } = await down('once');
    expect(events.map((e) => [e.outcome, e.slot])).toEqual([['enqueued', '2026-12-01T14:00:00.000Z']]);
    expect(await files()).toEqual(names('brief', ['2026-12-01T06:00:00Z', '2026-12-01T08:00:00Z', '2026-12-01T14:00:00Z']));
    expect(metrics.value('platform_schedule_missed_total', { schedule: 'brief' })).toBe(3);
    expect(metrics.value('platform_schedule_runs_total', { schedule: 'brief', outcome: 'enqueued' })).toBe(3);
    expect(metrics.value('platform_schedule_last_run_timestamp_seconds', { schedule: 'brief' })).toBe(
      Date.parse('2026-12-01T14:00:00Z') / 1000,
    );
    expect(metrics.renderPrometheus()).toMatch(/platform_schedule_lateness_seconds_count\{schedule="brief"\} 3/);
  });

  it('once: a run after downtime that lands on a slot runs that slot only', async () => {
    t = Date.parse('2026-12-01T06:00:00Z');
    const s = scheduler([schedule({ cron: '0 */2 * * *', catchUp: 'once' })]);
    await s.tick();
    t = Date.parse('2026-12-01T12:00:30Z');
    expect((await s.tick()).map((e) => [e.outcome, e.slot])).toEqual([
      ['skipped', '2026-12-01T10:00:00.000Z'],
      ['enqueued', '2026-12-01T12:00:00.000Z'],
    ]);
  });

  it('a year of hourly slots missed is settled in one bounded tick', async () => {
    t = Date.parse('2025-12-01T00:00:00Z');
    const s = scheduler([schedule({ cron: '0 * * * *', catchUp: 'once' })]);
    await s.tick();
    // 8,760 hourly slots passed; the latest is 30 minutes old, so missed too.
    t = Date.parse('2026-12-01T00:30:00Z');
    const events = await s.tick();
    expect(events.map((e) => [e.outcome, e.slot])).toEqual([['enqueued', '2026-12-01T00:00:00.000Z']]);
  });
});

describe('DST (Europe/Berlin, 2026)', () => {
  it('spring forward (29 March, 02:00 CET -> 03:00 CEST): the 02:30 daily job runs once, at 03:00 CEST', async () => {
    t = Date.parse('2026-03-27T12:00:00Z');
    const s = scheduler([schedule({ cron: '30 2 * * *', timezone: 'Europe/Berlin' })]);
    await walk(s, '2026-03-27T12:00:00Z', '2026-03-31T12:00:00Z', 5 * MIN);
    expect(await files()).toEqual(
      names('brief', ['2026-03-28T01:30:00Z', '2026-03-29T01:00:00Z', '2026-03-30T00:30:00Z', '2026-03-31T00:30:00Z']),
    );
  });

  it('spring forward: a half-hourly job in 01:00-03:59 skips the hour that does not exist', async () => {
    t = Date.parse('2026-03-28T23:00:00Z');
    const s = scheduler([schedule({ cron: '*/30 1-3 * * *', timezone: 'Europe/Berlin' })]);
    await walk(s, '2026-03-28T23:00:00Z', '2026-03-29T03:00:00Z', MIN);
    // 01:00, 01:30 CET; then 03:00, 03:30 CEST.
    expect(await files()).toEqual(
      names('brief', ['2026-03-29T00:00:00Z', '2026-03-29T00:30:00Z', '2026-03-29T01:00:00Z', '2026-03-29T01:30:00Z']),
    );
  });

  it('fall back (25 October, 03:00 CEST -> 02:00 CET): the 02:30 daily job runs once, at the first 02:30', async () => {
    t = Date.parse('2026-10-23T12:00:00Z');
    const s = scheduler([schedule({ cron: '30 2 * * *', timezone: 'Europe/Berlin' })]);
    await walk(s, '2026-10-23T12:00:00Z', '2026-10-26T12:00:00Z', 5 * MIN);
    expect(await files()).toEqual(names('brief', ['2026-10-24T00:30:00Z', '2026-10-25T00:30:00Z', '2026-10-26T01:30:00Z']));
  });

  it('fall back: a half-hourly job runs in both 02:00 hours, each instant once', async () => {
    t = Date.parse('2026-10-24T22:45:00Z');
    const s = scheduler([schedule({ cron: '*/30 1-3 * * *', timezone: 'Europe/Berlin' })]);
    await walk(s, '2026-10-24T22:45:00Z', '2026-10-25T03:00:00Z', MIN);
    // 01:00, 01:30, 02:00, 02:30 CEST; 02:00, 02:30, 03:00, 03:30 CET.
    expect(await files()).toEqual(
      names('brief', [
        '2026-10-24T23:00:00Z',
        '2026-10-24T23:30:00Z',
        '2026-10-25T00:00:00Z',
        '2026-10-25T00:30:00Z',
        '2026-10-25T01:00:00Z',
        '2026-10-25T01:30:00Z',
        '2026-10-25T02:00:00Z',
        '2026-10-25T02:30:00Z',
      ]),
    );
  });
});

describe('two schedulers on one vault', () => {
  it('two processes walking the same clock enqueue each slot once', async () => {
    const db = join(v.dataDir, 'jobs.db');
    // Both see the schedule first at 06:00, then race through the hour.
    const seen = new ScheduleLedger(db);
    seen.firstSeen('brief', Date.parse('2026-12-01T06:00:00Z'));
    seen.close();
    const run = (): Promise<string> =>
      new Promise((res, rej) => {
        execFile(TSX, [CHILD, v.vault, db, '2026-12-01T06:00:00Z', '2026-12-01T07:00:00Z'], { timeout: 120_000 }, (err, out) =>
          err ? rej(err) : res(out),
        );
      });
    const outs = await Promise.all([run(), run()]);
    const events = outs.flatMap((o) =>
      o
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { outcome: string; slot: string }),
    );
    const enqueued = events
      .filter((e) => e.outcome === 'enqueued')
      .map((e) => e.slot)
      .sort();
    expect(enqueued).toHaveLength(12);
    expect(new Set(enqueued).size).toBe(12);
    expect(await files()).toHaveLength(12);
  });

  it('in one process, two schedulers ticking in lockstep enqueue each slot once', async () => {
    t = Date.parse('2026-12-01T06:00:00Z');
    const a = scheduler([schedule({ cron: '*/5 * * * *' })]);
    const b = scheduler([schedule({ cron: '*/5 * * * *' })]);
    const outcomes: string[] = [];
    for (t = Date.parse('2026-12-01T06:00:00Z'); t <= Date.parse('2026-12-01T07:00:00Z'); t += MIN) {
      const pair = (t / MIN) % 2 === 0 ? [a, b] : [b, a];
      const [e1, e2] = await Promise.all([pair[0]!.tick(), pair[1]!.tick()]);
      outcomes.push(...[...e1!, ...e2!].map((e) => e.outcome));
    }
    expect(outcomes.filter((o) => o === 'enqueued')).toHaveLength(12);
    expect(await files()).toHaveLength(12);
  });
});

describe('templates and failures', () => {
  it('a template gets the date, the notes changed since the last run, and the previous output', async () => {
    await mkdir(join(v.vault, 'templates'), { recursive: true });
    await writeFile(
      join(v.vault, 'templates/brief.md'),
      'Day {{date}} in {{ schedule }}.\nChanged:\n{{notes_changed}}\nBefore:\n{{previous_output}}\n{{unknown}}\n',
    );
    await utimes(join(v.vault, 'templates/brief.md'), new Date('2026-01-01T00:00:00Z'), new Date('2026-01-01T00:00:00Z'));
    await mkdir(join(v.vault, 'notes'), { recursive: true });
    const jobs = new JobLedger(join(v.dataDir, 'jobs.db'));
    try {
      t = Date.parse('2026-12-01T06:59:00Z');
      const s = scheduler(
        [schedule({ timezone: 'Europe/Berlin', cron: '0 8 * * *', job: { prompt: undefined, template: 'templates/brief.md' } })],
        { jobs },
      );
      await s.tick();
      t = Date.parse('2026-12-01T07:00:10Z');
      await s.tick();
      const first = await v.read('queue', 'brief-20261201T0700Z.md');
      expect(first).toContain('Day 2026-12-01 in brief.');
      expect(first).toContain('Before:\n(no previous output)\n{{unknown}}');
      // The previous run's output, as the job ledger knows it; and two notes edited since.
      await writeFile(join(v.vault, 'runner-outputs/out.md'), 'Yesterday: all quiet. {{date}} stays literal.');
      jobs.reserve('sched-brief-20261201T0700Z', 'runner-outputs/out.md', 'brief-20261201T0700Z.md', t);
      for (const [n, at] of [
        ['notes/a.md', '2026-12-01T12:00:00Z'],
        ['notes/b.md', '2026-12-01T18:00:00Z'],
        ['notes/old.md', '2026-11-30T12:00:00Z'],
        ['_queue/x.md', '2026-12-01T12:00:00Z'],
      ] as const) {
        await writeFile(join(v.vault, n), 'x');
        await utimes(join(v.vault, n), new Date(at), new Date(at));
      }
      await symlink('/etc/hostname', join(v.vault, 'notes/link.md'));
      t = Date.parse('2026-12-02T07:00:10Z');
      await s.tick();
      const second = await v.read('queue', 'brief-20261202T0700Z.md');
      expect(second).toContain('Changed:\n- notes/b.md\n- notes/a.md\nBefore:\nYesterday: all quiet. {{date}} stays literal.\n');
    } finally {
      jobs.close();
    }
  });

  it('a missing template fails the slot into the failed folder with the reason', async () => {
    const metrics = createMetrics();
    t = Date.parse('2026-12-01T06:59:00Z');
    const s = scheduler([schedule({ job: { prompt: undefined, template: 'templates/nope.md' } })], { metrics });
    await s.tick();
    t = Date.parse('2026-12-01T07:00:05Z');
    const [e] = await s.tick();
    expect(e).toMatchObject({ outcome: 'failed', file: 'brief-20261201T0700Z.md' });
    expect(await files()).toEqual([]);
    const failed = await v.read('failed', 'brief-20261201T0700Z.md');
    expect(failed).toContain('JOB_INVALID: the schedule\'s template "templates/nope.md" does not exist');
    expect(metrics.value('platform_schedule_runs_total', { schedule: 'brief', outcome: 'failed' })).toBe(1);
    // Settled: the slot is not retried.
    t += MIN;
    expect(await s.tick()).toEqual([]);
  });

  it('a template that is a symlink is refused, not followed', async () => {
    await mkdir(join(v.vault, 'templates'), { recursive: true });
    await symlink('/etc/passwd', join(v.vault, 'templates/brief.md'));
    t = Date.parse('2026-12-01T06:59:00Z');
    const s = scheduler([schedule({ job: { prompt: undefined, template: 'templates/brief.md' } })]);
    await s.tick();
    t = Date.parse('2026-12-01T07:00:05Z');
    await s.tick();
    const failed = await v.read('failed', 'brief-20261201T0700Z.md');
    expect(failed).toContain('resolves outside the vault');
    expect(failed).not.toContain('root:');
    // A link to a file inside the vault is refused too: links are never followed.
    await mkdir(join(v.vault, 'notes'), { recursive: true });
    await writeFile(join(v.vault, 'notes/real.md'), 'secret note');
    await symlink(join(v.vault, 'notes/real.md'), join(v.vault, 'templates/inner.md'));
    const s2 = scheduler([schedule({ name: 'inner', cron: '5 7 * * *', job: { prompt: undefined, template: 'templates/inner.md' } })]);
    await s2.tick();
    t = Date.parse('2026-12-01T07:05:05Z');
    await s2.tick();
    expect(await v.read('failed', 'inner-20261201T0705Z.md')).toContain('is reached through a symbolic link');
  });

  it('quiet hours hold the notice until the window ends (the job still runs at its slot)', async () => {
    t = Date.parse('2026-12-01T21:59:00Z');
    const s = scheduler([schedule({ cron: '0 * * * *', timezone: 'Europe/London', quietHours: { start: '23:00', end: '07:00' } })]);
    await walk(s, '2026-12-01T21:59:00Z', '2026-12-02T00:00:00Z', MIN);
    const fm = async (iso: string): Promise<Record<string, unknown>> =>
      parseJobFile(await v.read('queue', slotFileName('brief', Date.parse(iso)))).frontmatter as Record<string, unknown>;
    expect(await fm('2026-12-01T22:00:00Z')).toMatchObject({ notify: true });
    expect((await fm('2026-12-01T22:00:00Z')).notify_after).toBeUndefined();
    // London is on UTC in December: the window ends at 07:00Z the next morning.
    expect(await fm('2026-12-01T23:00:00Z')).toMatchObject({ notify: true, notify_after: '2026-12-02T07:00:00.000Z' });
    expect(await fm('2026-12-02T00:00:00Z')).toMatchObject({ notify: true, notify_after: '2026-12-02T07:00:00.000Z' });
  });

  it('a claim whose file was never written (a crash in between) is finished by the next run, once', async () => {
    t = Date.parse('2026-12-01T07:00:00Z');
    const ledger = new ScheduleLedger(join(v.dataDir, 'jobs.db'));
    ledgers.push(ledger);
    ledger.firstSeen('brief', Date.parse('2026-12-01T06:00:00Z'));
    expect(ledger.claim('brief', Date.parse('2026-12-01T07:00:00Z'), 'claimed', 'sched-brief-20261201T0700Z', t)).toBe(true);
    // A second later the claim may still be its writer's: left alone.
    t += 1_000;
    const s = scheduler([schedule()]);
    await s.tick();
    expect(await files()).toEqual([]);
    t += PENDING_WAIT;
    await s.tick();
    await s.tick();
    expect(await files()).toEqual(['brief-20261201T0700Z.md']);
  });

  it('upcoming runs and a run by hand', async () => {
    t = Date.parse('2026-12-01T06:00:00Z');
    const s = scheduler([schedule({ timezone: 'America/New_York' }), schedule({ name: 'off', enabled: false })]);
    expect(s.upcoming(3)).toEqual([
      {
        name: 'brief',
        cron: '0 7 * * *',
        timezone: 'America/New_York',
        enabled: true,
        catchUp: 'skip',
        next: ['2026-12-01T12:00:00.000Z', '2026-12-02T12:00:00.000Z', '2026-12-03T12:00:00.000Z'],
      },
      { name: 'off', cron: '0 7 * * *', timezone: 'UTC', enabled: false, catchUp: 'skip', next: [] },
    ]);
    expect(await s.runNow('brief')).toBe('_queue/brief-manual-20261201T060000Z.md');
    await expect(s.runNow('nope')).rejects.toMatchObject({ code: 'USAGE' });
    const text = await readFile(join(v.vault, '_queue/brief-manual-20261201T060000Z.md'), 'utf8');
    expect(parseJobFile(text).frontmatter.id).toBe('sched-brief-manual-20261201T060000Z');
  });
});

const PENDING_WAIT = 31_000;
