import type { Cron } from 'croner';
import { link, lstat, mkdir, readdir, realpath, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RuntimeSchedule } from '@platform/contract';
import { RuntimeError, describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { isErrno, tempPathFor } from '../queue/fs-util.js';
import type { UsageStore } from '../store/usage.js';
import type { Metrics } from '../telemetry/metrics.js';
import { isInside, readRegularFile, truncateBytes, VaultFileError } from '../vault/files.js';
import { compileCron, inWindow, latestSlot, localParts, longestGap, nextSlots, slotsBetween, windowEnd } from './cron.js';
import { describeHealth, type HealthSnapshot } from './health.js';
import type { ScheduleLedger } from './ledger.js';

/*
 * The scheduler: at each due slot of each enabled schedule, one job file in the vault queue.
 *
 * Exactly once per slot: the slot is claimed in the ledger (INSERT OR IGNORE) before its file is
 * written, the file name and job id are derived from the schedule and the slot, and the file is
 * put in place with link() (which never replaces an existing file). A restart resumes from the
 * latest slot in the ledger; a clock set back finds no slot after that one until the clock
 * passes it again; a clock set forward, or a worker that was down, finds slots older than the
 * grace period: those are missed, and the schedule's catch-up policy decides (skip them, or run
 * once for the latest). Only the newest missed slot gets a row: the ledger's latest slot is where
 * the next tick starts, so the older ones are settled by implication.
 */

export type SchedulerMetrics = Pick<Metrics, 'add' | 'record' | 'set'>;

export interface SchedulerFolders {
  readonly queue: string;
  readonly active: string;
  readonly completed: string;
  readonly failed: string;
  /** Job outputs: not "notes changed" for a briefing. */
  readonly outputs?: string;
}

export interface SchedulerProps {
  readonly schedules: readonly RuntimeSchedule[];
  /** The vault root, absolute. */
  readonly vaultPath: string;
  /** Vault-relative folder names. */
  readonly folders: SchedulerFolders;
  readonly ledger: ScheduleLedger;
  readonly log: Logger;
  /** Clock, for tests. */
  readonly now?: () => number;
  /** A slot reached within this long counts as on time; an older one was missed (default 5 min). */
  readonly graceMs?: number;
  /** Longest sleep between ticks, so a clock change is noticed (default 60 s). */
  readonly maxSleepMs?: number;
  readonly metrics?: SchedulerMetrics;
  /** The job ledger, to find the previous run's output for `{{previous_output}}`. */
  readonly jobs?: { get(id: string): { output: string } | undefined };
  /** The usage store, for `{{token_spend}}`. */
  readonly usage?: Pick<UsageStore, 'totalsByModel'>;
  /** Platform health as this process sees it, for `{{health}}`. */
  readonly health?: () => HealthSnapshot;
}

export type SlotOutcome = 'enqueued' | 'skipped' | 'failed' | 'taken';

export interface SlotEvent {
  readonly schedule: string;
  /** ISO instant of the slot. */
  readonly slot: string;
  readonly outcome: SlotOutcome;
  readonly file?: string;
  readonly error?: string;
}

export interface UpcomingRuns {
  readonly name: string;
  readonly cron: string;
  readonly timezone: string;
  readonly enabled: boolean;
  readonly catchUp: 'skip' | 'once';
  /** ISO instants; empty for a disabled schedule. */
  readonly next: readonly string[];
  /** ISO instant of the latest settled slot, if any. */
  readonly last?: string;
  readonly lastStatus?: string;
}

const TEMPLATE_MAX_BYTES = 64 * 1024;
const PREVIOUS_OUTPUT_MAX_BYTES = 32 * 1024;
const NOTES_LIST_MAX = 100;
const NOTES_WALK_MAX = 20_000;
const NOTES_DEPTH_MAX = 12;
/** Slots enumerated per tick per schedule; beyond it only the latest is looked at. */
const SLOT_SCAN_MAX = 1_000;
/** A claim older than this whose file was never written is finished by the next tick. */
const PENDING_AGE_MS = 30_000;

/** `20261202T0700Z`: sortable, and safe in a file name on every OS Syncthing serves. */
export function slotStamp(slot: number): string {
  return new Date(slot)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/(T\d{4})\d{2}Z$/, '$1Z');
}

export function slotJobId(schedule: string, slot: number): string {
  return `sched-${schedule}-${slotStamp(slot)}`;
}

export function slotFileName(schedule: string, slot: number): string {
  return `${schedule}-${slotStamp(slot)}.md`;
}

interface Compiled {
  readonly s: RuntimeSchedule;
  readonly cron: Cron;
}

export class Scheduler {
  private readonly props: SchedulerProps;
  private readonly now: () => number;
  private readonly graceMs: number;
  private readonly compiled: Compiled[];
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<SlotEvent[]> | undefined;
  private stopped = true;

  constructor(props: SchedulerProps) {
    this.props = props;
    this.now = props.now ?? Date.now;
    this.graceMs = props.graceMs ?? 5 * 60_000;
    // Every schedule compiles up front: a bad one fails the start, not a slot at 3 a.m.
    this.compiled = props.schedules.map((s) => ({ s, cron: compileCron(s.cron, s.timezone) }));
  }

  /** Ticks now, then at each next slot (and at least every maxSleepMs). */
  async start(): Promise<void> {
    this.stopped = false;
    const now = this.now();
    for (const { s, cron } of this.compiled) {
      if (!s.enabled) continue;
      this.props.metrics?.set('platform_schedule_period_seconds', longestGap(cron, now) / 1000, { schedule: s.name });
      // From the first start on, so "not run within twice its period" holds for a schedule that never ran.
      this.props.metrics?.set('platform_schedule_registered_timestamp_seconds', this.props.ledger.firstSeen(s.name, now) / 1000, {
        schedule: s.name,
      });
      const last = this.props.ledger.last(s.name);
      if (last && last.status !== 'claimed')
        this.props.metrics?.set('platform_schedule_last_run_timestamp_seconds', last.slot / 1000, { schedule: s.name });
    }
    await this.runTick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.ticking?.catch(() => undefined);
  }

  private async runTick(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.tick();
    } catch (e) {
      this.props.log.error('schedule tick failed', { error: describeError(e) });
    }
    if (this.stopped) return;
    const now = this.now();
    const next = Math.min(...this.compiled.filter((c) => c.s.enabled).map((c) => nextSlots(c.cron, now, 1)[0] ?? Infinity));
    const sleep = Math.max(0, Math.min(this.props.maxSleepMs ?? 60_000, next - now));
    this.timer = setTimeout(() => void this.runTick(), sleep);
    this.timer.unref?.();
  }

  /** One pass: finishes interrupted claims, then settles every slot due by now. Serialised. */
  tick(): Promise<SlotEvent[]> {
    const run = (this.ticking ?? Promise.resolve([])).catch(() => []).then(() => this.tickOnce());
    this.ticking = run;
    return run;
  }

  private async tickOnce(): Promise<SlotEvent[]> {
    const events: SlotEvent[] = [];
    const now = this.now();
    const { ledger } = this.props;
    for (const row of ledger.pending()) {
      const c = this.compiled.find((x) => x.s.name === row.schedule);
      if (!c || now - row.settledAt < PENDING_AGE_MS) continue;
      events.push(await this.write(c, row.slot, true));
    }
    for (const c of this.compiled) {
      if (!c.s.enabled) continue;
      const name = c.s.name;
      const anchor = ledger.last(name)?.slot ?? ledger.firstSeen(name, now);
      const slots = slotsBetween(c.cron, anchor, now, SLOT_SCAN_MAX);
      const latest = latestSlot(c.cron, now);
      let missedBeyondScan = false;
      if (latest !== undefined && latest > anchor && slots[slots.length - 1] !== latest) {
        slots.push(latest);
        missedBeyondScan = true;
      }
      if (slots.length === 0) continue;
      const onTime = slots.filter((t) => now - t <= this.graceMs);
      const missed = slots.filter((t) => now - t > this.graceMs);
      if (missed.length > 0) {
        this.props.metrics?.add('platform_schedule_missed_total', missed.length, { schedule: name });
        const newest = missed[missed.length - 1]!;
        const catchUp = c.s.catchUp === 'once' && onTime.length === 0;
        this.props.log.warn('schedule slots missed', {
          schedule: name,
          missed: missedBeyondScan ? `more than ${SLOT_SCAN_MAX}` : missed.length,
          from: new Date(missed[0]!).toISOString(),
          to: new Date(newest).toISOString(),
          policy: c.s.catchUp,
          action: catchUp ? 'run once for the latest' : 'skip',
        });
        if (catchUp) events.push(await this.enqueue(c, newest));
        else events.push(this.skip(c, newest));
      }
      for (const t of onTime) events.push(await this.enqueue(c, t));
    }
    return events;
  }

  private skip(c: Compiled, slot: number): SlotEvent {
    const now = this.now();
    const won = this.props.ledger.claim(c.s.name, slot, 'skipped', slotJobId(c.s.name, slot), now);
    if (won) {
      this.props.metrics?.add('platform_schedule_runs_total', 1, { schedule: c.s.name, outcome: 'skipped' });
      this.props.metrics?.set('platform_schedule_last_run_timestamp_seconds', slot / 1000, { schedule: c.s.name });
    }
    return { schedule: c.s.name, slot: new Date(slot).toISOString(), outcome: won ? 'skipped' : 'taken' };
  }

  private async enqueue(c: Compiled, slot: number): Promise<SlotEvent> {
    const won = this.props.ledger.claim(c.s.name, slot, 'claimed', slotJobId(c.s.name, slot), this.now());
    if (!won) return { schedule: c.s.name, slot: new Date(slot).toISOString(), outcome: 'taken' };
    return this.write(c, slot, false);
  }

  /** Writes the claimed slot's job file (or its failure) and settles the claim. */
  private async write(c: Compiled, slot: number, recovering: boolean): Promise<SlotEvent> {
    const { ledger, log, metrics } = this.props;
    const name = c.s.name;
    const iso = new Date(slot).toISOString();
    const file = slotFileName(name, slot);
    if (recovering && (await this.fileAnywhere(file, slotJobId(name, slot)))) {
      // Its claimer (or another scheduler) already put the file in place: settle, count nothing.
      ledger.settle(name, slot, 'enqueued', this.now());
      return { schedule: name, slot: iso, outcome: 'taken', file };
    }
    let content: string;
    try {
      content = await this.render(c, slot, slotJobId(name, slot));
    } catch (e) {
      const err = e instanceof RuntimeError ? e : new RuntimeError('JOB_INVALID', describeError(e));
      try {
        await this.place(this.props.folders.failed, file, failedJob(c.s, slot, err));
      } catch (we) {
        log.error('schedule could not write its failed job', { schedule: name, slot: iso, error: describeError(we) });
        return { schedule: name, slot: iso, outcome: 'failed', error: err.message };
      }
      ledger.settle(name, slot, 'failed', this.now());
      metrics?.add('platform_schedule_runs_total', 1, { schedule: name, outcome: 'failed' });
      log.warn('scheduled job failed before it ran', {
        schedule: name,
        slot: iso,
        code: err.code,
        error: err.message,
        file: `${this.props.folders.failed}/${file}`,
      });
      return { schedule: name, slot: iso, outcome: 'failed', file, error: err.message };
    }
    let created: boolean;
    try {
      created = await this.place(this.props.folders.queue, file, content);
    } catch (e) {
      // The claim stays open; the next tick after PENDING_AGE_MS writes it.
      log.error('schedule could not enqueue its job', { schedule: name, slot: iso, error: describeError(e) });
      return { schedule: name, slot: iso, outcome: 'failed', error: describeError(e) };
    }
    const now = this.now();
    ledger.settle(name, slot, 'enqueued', now);
    // Another scheduler finishing this claim wrote the file first: the slot ran once, by it.
    if (!created) return { schedule: name, slot: iso, outcome: 'taken', file };
    metrics?.add('platform_schedule_runs_total', 1, { schedule: name, outcome: 'enqueued' });
    metrics?.record('platform_schedule_lateness_seconds', Math.max(0, now - slot) / 1000, { schedule: name });
    metrics?.set('platform_schedule_last_run_timestamp_seconds', slot / 1000, { schedule: name });
    log.info('scheduled job enqueued', { schedule: name, slot: iso, file: `${this.props.folders.queue}/${file}`, lateMs: now - slot });
    return { schedule: name, slot: iso, outcome: 'enqueued', file };
  }

  /** Puts `content` at folder/name with link(), which fails rather than replace a file; false when the file was there. */
  private async place(folder: string, name: string, content: string): Promise<boolean> {
    const target = join(this.props.vaultPath, folder, name);
    await mkdir(join(this.props.vaultPath, folder), { recursive: true });
    const tmp = tempPathFor(target);
    await writeFile(tmp, content, { encoding: 'utf8', flag: 'wx' });
    try {
      await link(tmp, target);
      return true;
    } catch (e) {
      if (!isErrno(e, 'EEXIST')) throw e;
      return false;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  private async fileAnywhere(file: string, jobId: string): Promise<boolean> {
    if (this.props.jobs?.get(jobId)) return true;
    const f = this.props.folders;
    for (const folder of [f.queue, f.active, f.completed, f.failed]) {
      try {
        await lstat(join(this.props.vaultPath, folder, file));
        return true;
      } catch (e) {
        if (!isErrno(e, 'ENOENT')) throw e;
      }
    }
    return false;
  }

  /** The job file for a slot: frontmatter from the schedule, body from its prompt or template. */
  async render(c: Compiled, slot: number, id: string): Promise<string> {
    const s = c.s;
    const text =
      s.job.template !== undefined
        ? await this.readTemplate(s.job.template)
        : (s.job.prompt ?? (s.job.type === 'reindex' ? 'The nightly incremental retrieval index.' : ''));
    const body = await this.fill(text, s, slot);
    const fm: string[] = [`id: ${id}`, `type: ${s.job.type}`];
    if (s.job.model !== undefined) fm.push(`model: ${JSON.stringify(s.job.model)}`);
    if (s.job.skills.length) fm.push(`skills: ${JSON.stringify(s.job.skills)}`);
    fm.push(`title: ${JSON.stringify(s.job.title ?? `${s.name} ${localParts(slot, s.timezone).date}`)}`);
    if (s.job.output !== undefined) fm.push(`output: ${JSON.stringify(s.job.output)}`);
    const prev = this.props.ledger.previousRun(s.name, slot);
    // The memory agent consolidates what came after its previous run (the last day at first).
    if (s.job.type === 'memory') fm.push(`since: ${JSON.stringify(new Date(prev ? prev.slot : slot - 24 * 3600_000).toISOString())}`);
    if (s.job.type === 'research') {
      const before = prev ? this.props.jobs?.get(prev.jobId)?.output : undefined;
      if (before !== undefined) fm.push(`previous_output: ${JSON.stringify(before)}`);
    }
    // Quiet hours hold the job's notices until the window ends; the job itself runs now.
    if (inWindow(slot, s.timezone, s.quietHours))
      fm.push(`notify_after: ${JSON.stringify(new Date(windowEnd(slot, s.timezone, s.quietHours)).toISOString())}`);
    fm.push(`schedule: ${JSON.stringify(s.name)}`, `slot: ${JSON.stringify(new Date(slot).toISOString())}`);
    return `---\n${fm.join('\n')}\n---\n${body.endsWith('\n') ? body : `${body}\n`}`;
  }

  private async readTemplate(rel: string): Promise<string> {
    const vault = await realpath(this.props.vaultPath);
    const path = join(vault, rel);
    const missing = (why: string): RuntimeError =>
      new RuntimeError('JOB_INVALID', `the schedule's template "${rel}" ${why}`, {
        hint: `create ${rel} in the vault (a markdown prompt; {{date}}, {{previous_output}}, {{notes_changed}}, {{jobs_open}}, {{jobs_failed}}, {{health}} and {{token_spend}} are filled in), or change job.template in platform.yaml`,
      });
    let real: string;
    try {
      real = await realpath(path);
    } catch (e) {
      if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) throw missing('does not exist');
      throw e;
    }
    if (!isInside(vault, real)) throw missing('resolves outside the vault');
    if (real !== path) throw missing('is reached through a symbolic link; links are never followed');
    try {
      return (await readRegularFile(path, { maxBytes: TEMPLATE_MAX_BYTES })).toString('utf8');
    } catch (e) {
      if (e instanceof VaultFileError) throw missing(`cannot be used: ${e.message}`);
      throw e;
    }
  }

  /** Fills {{name}} placeholders in one pass: values are never scanned for placeholders again. */
  private async fill(text: string, s: RuntimeSchedule, slot: number): Promise<string> {
    const prev = this.props.ledger.previousRun(s.name, slot);
    // "Since the last run", or the last day for a first run.
    const since = prev ? prev.slot : slot - 24 * 3600_000;
    const vars: Record<string, () => Promise<string> | string> = {
      date: () => localParts(slot, s.timezone).date,
      slot: () => new Date(slot).toISOString(),
      schedule: () => s.name,
      last_run: () => (prev ? new Date(prev.slot).toISOString() : 'never'),
      previous_output: () => this.previousOutput(prev?.jobId),
      // A schedule's own output folder holds its previous answers, not the operator's notes.
      notes_changed: () => this.notesChanged(since, slot, s.job.output),
      jobs_open: () => this.jobFiles([this.props.folders.queue, this.props.folders.active], -Infinity, Infinity),
      jobs_failed: () => this.jobFiles([this.props.folders.failed], since, slot),
      token_spend: () => this.tokenSpend(since, slot),
      health: () => this.healthText(since, slot),
    };
    const wanted = new Set([...text.matchAll(/\{\{\s*([a-z_]+)\s*\}\}/g)].map((m) => m[1]!).filter((k) => k in vars));
    const values = new Map<string, string>();
    for (const k of wanted) values.set(k, await vars[k]!());
    return text.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (all, k: string) => values.get(k) ?? all);
  }

  private async previousOutput(jobId: string | undefined): Promise<string> {
    const entry = jobId ? this.props.jobs?.get(jobId) : undefined;
    if (!entry) return '(no previous output)';
    try {
      const buf = await readRegularFile(join(this.props.vaultPath, entry.output), { maxBytes: 16 * PREVIOUS_OUTPUT_MAX_BYTES });
      return truncateBytes(buf.toString('utf8'), PREVIOUS_OUTPUT_MAX_BYTES);
    } catch {
      return '(the previous output could not be read: moved, deleted, or not a plain file)';
    }
  }

  /** Job files in the given folders modified in (since, until], newest first, bounded. */
  private async jobFiles(folders: readonly string[], since: number, until: number): Promise<string> {
    const found = await this.jobFileList(folders, since, until);
    if (found.length === 0) return '(none)';
    const lines = found.slice(0, NOTES_LIST_MAX).map((n) => `- ${n}`);
    if (found.length > NOTES_LIST_MAX) lines.push(`- … and ${found.length - NOTES_LIST_MAX} more`);
    return lines.join('\n');
  }

  private async jobFileList(folders: readonly string[], since: number, until: number): Promise<string[]> {
    const found: { rel: string; mtime: number }[] = [];
    for (const folder of folders) {
      const names = await readdir(join(this.props.vaultPath, folder)).catch(() => [] as string[]);
      for (const n of names.slice(0, NOTES_WALK_MAX)) {
        if (n.startsWith('.') || !n.toLowerCase().endsWith('.md')) continue;
        const st = await lstat(join(this.props.vaultPath, folder, n)).catch(() => undefined);
        if (st?.isFile() && st.mtimeMs > since && st.mtimeMs <= until) found.push({ rel: `${folder}/${n}`, mtime: st.mtimeMs });
      }
    }
    found.sort((a, b) => b.mtime - a.mtime || (a.rel < b.rel ? -1 : 1));
    return found.map((f) => f.rel);
  }

  private async healthText(since: number, until: number): Promise<string> {
    const failed = await this.jobFileList([this.props.folders.failed], since, until);
    return describeHealth(this.props.health?.() ?? {}, failed);
  }

  private tokenSpend(since: number, until: number): string {
    if (!this.props.usage) return '(token spend is not available to this process)';
    const rows = this.props.usage.totalsByModel({ since: new Date(since).toISOString(), until: new Date(until).toISOString() });
    if (rows.length === 0) return '(no model calls)';
    return rows
      .map(
        (r) =>
          `- ${r.model} (${r.provider}): ${r.calls} call${r.calls === 1 ? '' : 's'}, ${r.inputTokens} tokens in, ${r.outputTokens} out, ${r.errors} error${r.errors === 1 ? '' : 's'}`,
      )
      .join('\n');
  }

  /** Markdown notes modified in (since, until], newest first; runtime folders and dot-folders excluded. */
  private async notesChanged(since: number, until: number, ownFolder?: string): Promise<string> {
    const f = this.props.folders;
    const skip = new Set([f.queue, f.active, f.completed, f.failed, ...(f.outputs ? [f.outputs] : [])]);
    const found: { rel: string; mtime: number }[] = [];
    let visited = 0;
    const walk = async (dir: string, rel: string, depth: number): Promise<void> => {
      if (depth > NOTES_DEPTH_MAX || visited > NOTES_WALK_MAX) return;
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        if (++visited > NOTES_WALK_MAX) return;
        if (e.name.startsWith('.')) continue;
        const r = rel ? `${rel}/${e.name}` : e.name;
        // Dirent types come from lstat-like readdir data: symlinks are neither files nor dirs here.
        if (e.isDirectory()) {
          if (depth === 0 && skip.has(e.name)) continue;
          if (r === ownFolder) continue;
          await walk(join(dir, e.name), r, depth + 1);
        } else if (e.isFile() && e.name.toLowerCase().endsWith('.md')) {
          const st = await lstat(join(dir, e.name)).catch(() => undefined);
          if (st && st.mtimeMs > since && st.mtimeMs <= until) found.push({ rel: r, mtime: st.mtimeMs });
        }
      }
    };
    await walk(this.props.vaultPath, '', 0);
    if (found.length === 0) return '(no notes changed)';
    found.sort((a, b) => b.mtime - a.mtime || (a.rel < b.rel ? -1 : 1));
    const lines = found.slice(0, NOTES_LIST_MAX).map((n) => `- ${n.rel}`);
    if (found.length > NOTES_LIST_MAX) lines.push(`- … and ${found.length - NOTES_LIST_MAX} more`);
    return lines.join('\n');
  }

  /** Upcoming runs of every schedule, for the CLI and the web's queue view. */
  upcoming(n = 3, from: number = this.now()): UpcomingRuns[] {
    return upcomingRuns(this.props.schedules, { n, from, ledger: this.props.ledger });
  }

  /** Enqueues a schedule's job now, outside its slots (the ledger's slots are untouched). */
  async runNow(name: string): Promise<string> {
    const c = this.compiled.find((x) => x.s.name === name);
    if (!c) {
      throw new RuntimeError('USAGE', `no schedule named "${name}"`, {
        hint: `one of: ${this.compiled.map((x) => x.s.name).join(', ') || '(none in runtime.json)'}`,
      });
    }
    const now = this.now();
    const stamp = new Date(now)
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}Z$/, 'Z');
    const file = `${name}-manual-${stamp}.md`;
    const content = await this.render(c, now, `sched-${name}-manual-${stamp}`);
    await this.place(this.props.folders.queue, file, content);
    this.props.log.info('scheduled job enqueued by hand', { schedule: name, file: `${this.props.folders.queue}/${file}` });
    return `${this.props.folders.queue}/${file}`;
  }
}

/**
 * Upcoming runs without a running scheduler: what the web's queue view and the CLI show.
 * With a ledger, each schedule also carries its latest settled slot.
 */
export function upcomingRuns(
  schedules: readonly RuntimeSchedule[],
  opts: { n?: number; from: number; ledger?: Pick<ScheduleLedger, 'last'> },
): UpcomingRuns[] {
  return schedules.map((s) => {
    const cron = compileCron(s.cron, s.timezone);
    const last = opts.ledger?.last(s.name);
    return {
      name: s.name,
      cron: s.cron,
      timezone: s.timezone,
      enabled: s.enabled,
      catchUp: s.catchUp,
      next: s.enabled ? nextSlots(cron, opts.from, opts.n ?? 3).map((t) => new Date(t).toISOString()) : [],
      ...(last ? { last: new Date(last.slot).toISOString(), lastStatus: last.status } : {}),
    };
  });
}

function failedJob(s: RuntimeSchedule, slot: number, err: RuntimeError): string {
  const fm = [
    `id: ${slotJobId(s.name, slot)}`,
    `type: ${s.job.type}`,
    `schedule: ${JSON.stringify(s.name)}`,
    `slot: ${JSON.stringify(new Date(slot).toISOString())}`,
  ];
  return `---\n${fm.join('\n')}\n---\nThe schedule "${s.name}" could not build its job for ${new Date(slot).toISOString()}.\n\n## Error\n\n${err.code}: ${err.message}\n\nFix: ${err.hint ?? '-'}\n`;
}
