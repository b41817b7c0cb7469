import { Cron } from 'croner';
import { RuntimeError } from '../errors.js';

/*
 * Cron as the scheduler reads it: standard five fields, in an IANA time zone, through croner.
 * DST follows Vixie cron: a fixed time in the spring-forward gap runs once at the first instant
 * after the gap; a fixed time in the repeated fall-back hour runs once, at its first occurrence;
 * interval patterns (`*\/15 * * * *`) follow the clock through both repeated hours.
 * Day-of-month and day-of-week are ORed when both are restricted, as in Vixie cron.
 */

export function compileCron(expr: string, timezone: string): Cron {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) {
    throw new RuntimeError('CONFIG_INVALID', `cron "${expr}" has ${fields.length} fields; standard cron has five`, {
      hint: 'fix the schedule in platform.yaml and run make render',
    });
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return new Cron(expr, { timezone, paused: true, mode: '5-part' });
  } catch (e) {
    throw new RuntimeError('CONFIG_INVALID', `cron "${expr}" in ${timezone}: ${e instanceof Error ? e.message : String(e)}`, {
      hint: 'fix the schedule in platform.yaml and run make render',
      cause: e,
    });
  }
}

/** Slot instants (epoch ms) in (after, until], at most `limit`, oldest first. */
export function slotsBetween(cron: Cron, after: number, until: number, limit: number): number[] {
  const out: number[] = [];
  let cursor = new Date(after);
  while (out.length < limit) {
    const next = cron.nextRun(cursor);
    if (!next || next.getTime() > until) break;
    out.push(next.getTime());
    cursor = next;
  }
  return out;
}

/** The latest slot at or before `at`, if any. */
export function latestSlot(cron: Cron, at: number): number | undefined {
  const prev = cron.previousRuns(1, new Date(at + 1));
  return prev[0]?.getTime();
}

/** The next `n` slots strictly after `from`. */
export function nextSlots(cron: Cron, from: number, n: number): number[] {
  return cron.nextRuns(n, new Date(from)).map((d) => d.getTime());
}

/** The longest gap between consecutive slots among the next `n` after `from`, in ms. */
export function longestGap(cron: Cron, from: number, n = 500): number {
  const runs = nextSlots(cron, from, n);
  let gap = 0;
  for (let i = 1; i < runs.length; i++) gap = Math.max(gap, runs[i]! - runs[i - 1]!);
  return gap;
}

/** `YYYY-MM-DD` and `HH:MM` of an instant in a time zone. */
export function localParts(at: number, timezone: string): { date: string; time: string } {
  const f = new Intl.DateTimeFormat('en-CA', {
    timeZone: timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  });
  const parts = Object.fromEntries(f.formatToParts(new Date(at)).map((p) => [p.type, p.value]));
  return { date: `${parts.year}-${parts.month}-${parts.day}`, time: `${parts.hour}:${parts.minute}` };
}

/** True when the local time of `at` lies in [start, end), a window that may wrap midnight. */
export function inWindow(at: number, timezone: string, window: { start: string; end: string } | undefined): boolean {
  if (!window) return false;
  const t = localParts(at, timezone).time;
  return window.start <= window.end ? t >= window.start && t < window.end : t >= window.start || t < window.end;
}

/**
 * The first whole minute at or after `at` outside the window (local time, DST followed), or
 * `at` itself when it lies outside. A window spans less than a day, so a day of minutes bounds it.
 */
export function windowEnd(at: number, timezone: string, window: { start: string; end: string } | undefined): number {
  if (!inWindow(at, timezone, window)) return at;
  let t = Math.ceil(at / 60_000) * 60_000;
  for (let i = 0; i <= 24 * 60 && inWindow(t, timezone, window); i++) t += 60_000;
  return t;
}
