import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { RuntimeError, describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { JobHeldNotice, JobNotice, JobNotifier } from './notices.js';

/*
 * Notices held until a time: a scheduled job whose slot falls in its schedule's quiet hours
 * carries `notify_after` (the window's end), and its completion or failure notice waits for it.
 *
 * Held notices are rows in the job ledger's database (`jobs.db`), so a worker restarted inside
 * the window still sends them, once, when the window ends; one restarted after it sends them at
 * start. A row is marked sent (an UPDATE that only one process can win) before the post goes
 * out: a crash between the two loses that one notice rather than sending it twice. Notices
 * without a hold, and held ones whose time has passed, go straight to the inner notifier.
 */

export interface DeferredNotifierProps {
  readonly inner: JobNotifier;
  /** The SQLite file (the job ledger's). */
  readonly path: string;
  readonly log: Logger;
  readonly now?: () => number;
  /** Longest sleep between checks, so a clock change is noticed (default 60 s). */
  readonly maxSleepMs?: number;
}

type Kind = 'completed' | 'failed';

interface Row {
  key: string;
  kind: Kind;
  notice: string;
  due: number;
}

export class DeferredNotifier implements JobNotifier {
  private readonly db: Database.Database;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly props: DeferredNotifierProps) {
    this.now = props.now ?? Date.now;
    try {
      mkdirSync(dirname(props.path), { recursive: true });
      this.db = new Database(props.path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('busy_timeout = 5000');
      this.db.exec(`CREATE TABLE IF NOT EXISTS held_notices (
        key TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        notice TEXT NOT NULL,
        due INTEGER NOT NULL,
        sent_at INTEGER
      )`);
    } catch (e) {
      throw new RuntimeError('STORE_ERROR', `cannot open the held-notice table at ${props.path}: ${describeError(e)}`, {
        hint: 'check that DATA_DIR exists and is writable',
        cause: e,
      });
    }
  }

  /** Sends what fell due while no worker ran, then wakes at each next due time. */
  start(): void {
    this.closed = false;
    this.flush();
  }

  jobCompleted(notice: JobNotice): Promise<unknown> | void {
    return this.route('completed', notice);
  }

  jobFailed(notice: JobNotice): Promise<unknown> | void {
    return this.route('failed', notice);
  }

  jobHeld(notice: JobHeldNotice): Promise<unknown> | void {
    // A rate-limit hold is news only while it lasts: never deferred.
    return this.props.inner.jobHeld?.(notice);
  }

  /** Held notices not yet sent, oldest due first. */
  pending(): { key: string; kind: Kind; due: number; notice: JobNotice }[] {
    const rows = this.db.prepare('SELECT key, kind, notice, due FROM held_notices WHERE sent_at IS NULL ORDER BY due, key').all() as Row[];
    return rows.map((r) => ({ key: r.key, kind: r.kind, due: r.due, notice: JSON.parse(r.notice) as JobNotice }));
  }

  /** Sends every held notice due by now (each once, whichever process gets there first). */
  flush(): number {
    if (this.closed) return 0;
    const now = this.now();
    const due = this.db
      .prepare('SELECT key, kind, notice, due FROM held_notices WHERE sent_at IS NULL AND due <= ? ORDER BY due, key')
      .all(now) as Row[];
    let sent = 0;
    for (const r of due) {
      if (this.db.prepare('UPDATE held_notices SET sent_at = ? WHERE key = ? AND sent_at IS NULL').run(now, r.key).changes !== 1) continue;
      sent++;
      const notice = JSON.parse(r.notice) as JobNotice;
      const warn = (e: unknown): void =>
        this.props.log.warn('held notice failed', { job: notice.jobId ?? notice.name, error: describeError(e) });
      try {
        const p = r.kind === 'completed' ? this.props.inner.jobCompleted(notice) : this.props.inner.jobFailed(notice);
        if (p) Promise.resolve(p).catch(warn);
      } catch (e) {
        warn(e);
      }
    }
    if (sent) this.props.log.info('held notices sent', { count: sent });
    this.arm();
    return sent;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.db.open) this.db.close();
  }

  private route(kind: Kind, notice: JobNotice): Promise<unknown> | void {
    const after = notice.notBefore !== undefined ? Date.parse(notice.notBefore) : NaN;
    if (Number.isNaN(after) || after <= this.now() || this.closed) {
      return kind === 'completed' ? this.props.inner.jobCompleted(notice) : this.props.inner.jobFailed(notice);
    }
    // One held notice per job and outcome: a job run again keeps its first.
    const key = `${notice.jobId ?? notice.name}:${kind}`;
    this.db
      .prepare('INSERT OR IGNORE INTO held_notices (key, kind, notice, due) VALUES (?, ?, ?, ?)')
      .run(key, kind, JSON.stringify(notice), after);
    this.props.log.info('notice held until the quiet hours end', { job: notice.jobId ?? notice.name, until: notice.notBefore });
    this.arm();
  }

  private arm(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const next = this.db.prepare('SELECT MIN(due) AS due FROM held_notices WHERE sent_at IS NULL').get() as { due: number | null };
    if (next.due === null) return;
    const sleep = Math.max(0, Math.min(this.props.maxSleepMs ?? 60_000, next.due - this.now()));
    this.timer = setTimeout(() => this.flush(), sleep);
    this.timer.unref?.();
  }
}
