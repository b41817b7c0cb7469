import { Cron } from 'croner';
import type { Platform } from '../schema.js';
import { oneOf } from '../suggest.js';
import type { RawProblem } from './problems.js';

/*
 * Schedule checks: the cron expression, its time zone, the model it names and the template path.
 * A template's existence is checked when its slot comes (the job fails with the reason): the model
 * describes the vault as a folder on a host, not a tree this check can read, so here only the
 * path's shape is checked.
 */

/** Parses a standard five-field cron in a time zone, or says why it cannot. */
export function parseCron(expr: string, timezone: string): { cron: Cron } | { error: string } {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5)
    return {
      error: `"${expr}" has ${fields.length} field${fields.length === 1 ? '' : 's'}; standard cron has five (minute hour day-of-month month day-of-week)`,
    };
  if (!isTimeZone(timezone)) return { error: `unknown time zone "${timezone}"` };
  try {
    return { cron: new Cron(expr, { timezone, paused: true, mode: '5-part' }) };
  } catch (e) {
    return { error: e instanceof Error ? e.message.replace(/^CronPattern: /, '') : String(e) };
  }
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The next `n` runs after `from`, as ISO instants with the zone's offset. */
export function nextRuns(cron: Cron, from: Date, n: number): string[] {
  return cron.nextRuns(n, from).map((d) => d.toISOString());
}

const TEMPLATE = /^(?!\/)(?!.*(^|\/)\.\.?(\/|$))[^\0\\]+\.md$/;
/** A vault-relative folder: no leading "/", no "." or ".." segment, no dot-folder, no trailing "/". */
const FOLDER = /^(?!\/)(?!.*(^|\/)\.)(?!.*\/$)(?!.*\/\/)[^\0\\:*?"<>|]{1,200}$/;

export function checkSchedules(p: Platform, now: Date): RawProblem[] {
  const out: RawProblem[] = [];
  const models = p.routing.models.map((r) => r.id);
  const system = new Set(Object.values(p.vault.folders));
  for (const [name, s] of Object.entries(p.schedules)) {
    const parsed = parseCron(s.cron, s.timezone);
    // Errors show when the schedule would run, so a fix can be checked against intent.
    const when = 'cron' in parsed ? ` (next runs in ${s.timezone}: ${nextRuns(parsed.cron, now, 3).join(', ')})` : '';
    if ('error' in parsed) {
      if (!isTimeZone(s.timezone)) {
        add(
          out,
          ['schedules', name, 'timezone'],
          `schedule "${name}": unknown time zone "${s.timezone}"`,
          'use an IANA zone name such as "Europe/Berlin", "America/New_York" or "UTC"',
        );
      } else {
        add(
          out,
          ['schedules', name, 'cron'],
          `schedule "${name}": bad cron: ${parsed.error}`,
          'write five fields, e.g. "0 7 * * *" (07:00 daily) or "*/15 9-17 * * 1-5"',
        );
      }
    }
    if (s.job.model !== undefined && !models.includes(s.job.model)) {
      add(
        out,
        ['schedules', name, 'job', 'model'],
        `schedule "${name}" names model "${s.job.model}", which is not in routing.models${when}`,
        oneOf(s.job.model, models),
      );
    }
    const t = s.job.template;
    if (t !== undefined) {
      if (!TEMPLATE.test(t)) {
        add(
          out,
          ['schedules', name, 'job', 'template'],
          `schedule "${name}": template "${t}" is not a vault-relative markdown path${when}`,
          'write a path inside the vault such as "templates/briefing.md" (no leading "/", no "..")',
        );
      } else if (system.has(t.split('/')[0]!)) {
        add(
          out,
          ['schedules', name, 'job', 'template'],
          `schedule "${name}": template "${t}" lies in the runtime's "${t.split('/')[0]}" folder, where it would be taken for a job or moved`,
          'keep templates in a folder of their own, e.g. "templates/"',
        );
      }
    }
    const o = s.job.output;
    if (o !== undefined) {
      if (!FOLDER.test(o)) {
        add(
          out,
          ['schedules', name, 'job', 'output'],
          `schedule "${name}": output "${o}" is not a vault-relative folder`,
          'write a folder inside the vault such as "briefings" or "notes/memory" (no leading "/", no "..", no dot-folder)',
        );
      } else if (system.has(o.split('/')[0]!)) {
        add(
          out,
          ['schedules', name, 'job', 'output'],
          `schedule "${name}": output "${o}" lies in the runtime's "${o.split('/')[0]}" folder, where notes would be taken for jobs or moved`,
          'name a folder of its own, e.g. "briefings" or "memory"',
        );
      }
    }
    if (s.job.type === 'chain') {
      add(
        out,
        ['schedules', name, 'job', 'type'],
        `schedule "${name}": a scheduled job cannot be a chain (its steps would need a template of their own)`,
        'use type "text", "research", "memory" or "reindex"',
      );
    }
  }
  return out;
}

function add(out: RawProblem[], path: RawProblem['path'], message: string, fix: string): void {
  out.push({ path, message, fix });
}
