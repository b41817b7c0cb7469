import { resolve } from 'node:path';
import type { RuntimeConfig } from '../config/index.js';
import { RuntimeError } from '../errors.js';
import { JobLedger } from '../jobs/ledger.js';
import type { Logger } from '../log.js';
import { localParts } from './cron.js';
import { ScheduleLedger } from './ledger.js';
import { Scheduler, upcomingRuns } from './scheduler.js';

/*
 * `runtime schedule list|next [NAME] [N]|run NAME`: what the schedules in runtime.json will do,
 * and a way to enqueue one by hand. Reads the ledger the worker writes (`<DATA_DIR>/jobs.db`).
 */

export const SCHEDULE_USAGE = `usage: runtime schedule list | next [NAME] [COUNT] | run NAME

  list             every schedule: cron, zone, catch-up, last slot and the next run
  next [NAME] [N]  the next N runs (default 3) of one schedule or all
  run NAME         enqueue NAME's job now, outside its slots
`;

export interface ScheduleIo {
  stdout: (s: string) => void;
}

export async function scheduleCommand(
  args: readonly string[],
  config: RuntimeConfig,
  log: Logger,
  io: ScheduleIo,
  now: number = Date.now(),
): Promise<void> {
  const [verb, ...rest] = args;
  const usage = (msg: string): RuntimeError => new RuntimeError('USAGE', msg, { hint: SCHEDULE_USAGE.trim() });
  const byName = (name: string | undefined): RuntimeConfig['schedules'] => {
    if (name === undefined) return config.schedules;
    const s = config.schedules.filter((x) => x.name === name);
    if (!s.length) throw usage(`no schedule named "${name}" (schedules: ${config.schedules.map((x) => x.name).join(', ') || 'none'})`);
    return s;
  };
  const when = (iso: string, tz: string): string => {
    const l = localParts(Date.parse(iso), tz);
    return `${iso} (${l.date} ${l.time} ${tz})`;
  };
  const dbPath = resolve(config.dataDir, 'jobs.db');
  if (verb === 'list') {
    const ledger = new ScheduleLedger(dbPath);
    try {
      const rows = upcomingRuns(config.schedules, { n: 1, from: now, ledger });
      if (!rows.length) io.stdout('no schedules in runtime.json (add `schedules:` to platform.yaml and run make render)\n');
      for (const r of rows) {
        io.stdout(`${r.name}  ${r.cron}  ${r.timezone}  ${r.enabled ? 'enabled' : 'disabled'}  catch-up ${r.catchUp}\n`);
        io.stdout(`  last: ${r.last ? `${when(r.last, r.timezone)} ${r.lastStatus}` : 'never'}\n`);
        io.stdout(`  next: ${r.next[0] ? when(r.next[0], r.timezone) : '-'}\n`);
      }
    } finally {
      ledger.close();
    }
    return;
  }
  if (verb === 'next') {
    const count = rest[1] ?? (rest[0] !== undefined && /^\d+$/.test(rest[0]) ? rest[0] : undefined);
    const name = rest[0] !== undefined && rest[0] === count ? undefined : rest[0];
    const n = count === undefined ? 3 : Number(count);
    if (!Number.isInteger(n) || n < 1 || n > 100) throw usage(`COUNT must be a whole number from 1 to 100, got "${count}"`);
    for (const r of upcomingRuns(byName(name), { n, from: now })) {
      io.stdout(`${r.name}${r.enabled ? '' : ' (disabled)'}\n`);
      for (const t of r.next) io.stdout(`  ${when(t, r.timezone)}\n`);
    }
    return;
  }
  if (verb === 'run') {
    const name = rest[0];
    if (!name) throw usage('run needs a schedule name');
    const schedules = byName(name);
    const ledger = new ScheduleLedger(dbPath);
    const jobs = new JobLedger(dbPath);
    try {
      const s = new Scheduler({
        schedules,
        vaultPath: resolve(config.vault.path),
        folders: config.vault.folders,
        ledger,
        jobs,
        log,
        now: () => now,
      });
      io.stdout(`enqueued ${await s.runNow(name)}\n`);
    } finally {
      jobs.close();
      ledger.close();
    }
    return;
  }
  throw usage(verb ? `unknown schedule command "${verb}"` : 'a schedule command is needed');
}
