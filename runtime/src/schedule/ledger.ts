import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { RuntimeError, describeError } from '../errors.js';

/*
 * The schedule ledger: one row per (schedule, slot) a scheduler settled. The row is claimed with
 * INSERT OR IGNORE before the job file is written, so of any number of schedulers sharing this
 * database (a restart, a second worker process) exactly one writes each slot's job. A claim whose
 * job file was not yet written when its process died stays `claimed` and is finished at the next
 * start (the file name is derived from the slot, so finishing it twice is impossible).
 *
 * It lives in the job ledger's database file (`jobs.db`), in tables of its own.
 */

export type SlotStatus = 'claimed' | 'enqueued' | 'skipped' | 'failed';

export interface SlotRow {
  readonly schedule: string;
  /** Epoch ms of the slot. */
  readonly slot: number;
  readonly status: SlotStatus;
  readonly jobId: string;
  readonly settledAt: number;
}

interface Row {
  schedule: string;
  slot: number;
  status: SlotStatus;
  job_id: string;
  settled_at: number;
}

const toSlot = (r: Row): SlotRow => ({ schedule: r.schedule, slot: r.slot, status: r.status, jobId: r.job_id, settledAt: r.settled_at });

export class ScheduleLedger {
  private readonly db: Database.Database;
  private readonly claimStmt: Database.Statement<[string, number, string, string, number]>;
  private readonly settleStmt: Database.Statement<[string, number, string, number]>;
  private readonly lastStmt: Database.Statement<[string], Row>;
  private readonly lastEnqueuedStmt: Database.Statement<[string, number], Row>;
  private readonly pendingStmt: Database.Statement<[], Row>;
  private readonly seenStmt: Database.Statement<[string, number]>;
  private readonly sinceStmt: Database.Statement<[string], { since: number }>;
  private readonly listStmt: Database.Statement<[string, number], Row>;

  constructor(path: string) {
    try {
      mkdirSync(dirname(path), { recursive: true });
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('busy_timeout = 5000');
      this.db.exec(`CREATE TABLE IF NOT EXISTS schedule_slots (
        schedule TEXT NOT NULL,
        slot INTEGER NOT NULL,
        status TEXT NOT NULL,
        job_id TEXT NOT NULL,
        settled_at INTEGER NOT NULL,
        PRIMARY KEY (schedule, slot)
      );
      CREATE TABLE IF NOT EXISTS schedule_seen (schedule TEXT PRIMARY KEY, since INTEGER NOT NULL)`);
    } catch (e) {
      throw new RuntimeError('STORE_ERROR', `cannot open the schedule ledger at ${path}: ${describeError(e)}`, {
        hint: 'check that DATA_DIR exists and is writable',
        cause: e,
      });
    }
    this.claimStmt = this.db.prepare(
      'INSERT OR IGNORE INTO schedule_slots (schedule, slot, status, job_id, settled_at) VALUES (?, ?, ?, ?, ?)',
    );
    this.settleStmt = this.db.prepare('UPDATE schedule_slots SET status = ?, settled_at = ? WHERE schedule = ? AND slot = ?');
    this.lastStmt = this.db.prepare('SELECT * FROM schedule_slots WHERE schedule = ? ORDER BY slot DESC LIMIT 1');
    this.lastEnqueuedStmt = this.db.prepare(
      "SELECT * FROM schedule_slots WHERE schedule = ? AND slot < ? AND status = 'enqueued' ORDER BY slot DESC LIMIT 1",
    );
    this.pendingStmt = this.db.prepare("SELECT * FROM schedule_slots WHERE status = 'claimed' ORDER BY slot");
    this.seenStmt = this.db.prepare('INSERT OR IGNORE INTO schedule_seen (schedule, since) VALUES (?, ?)');
    this.sinceStmt = this.db.prepare('SELECT since FROM schedule_seen WHERE schedule = ?');
    this.listStmt = this.db.prepare('SELECT * FROM schedule_slots WHERE schedule = ? ORDER BY slot DESC LIMIT ?');
  }

  /** True for exactly one caller per (schedule, slot), whatever the number of schedulers. */
  claim(schedule: string, slot: number, status: SlotStatus, jobId: string, now: number): boolean {
    return this.claimStmt.run(schedule, slot, status, jobId, now).changes === 1;
  }

  settle(schedule: string, slot: number, status: Exclude<SlotStatus, 'claimed'>, now: number): void {
    this.settleStmt.run(status, now, schedule, slot);
  }

  /** The latest slot settled or claimed for a schedule. */
  last(schedule: string): SlotRow | undefined {
    const r = this.lastStmt.get(schedule);
    return r && toSlot(r);
  }

  /** The latest enqueued slot before `slot`: the previous run, for templates. */
  previousRun(schedule: string, slot: number): SlotRow | undefined {
    const r = this.lastEnqueuedStmt.get(schedule, slot);
    return r && toSlot(r);
  }

  /** Claims whose job file may not have been written (their process died in between). */
  pending(): SlotRow[] {
    return this.pendingStmt.all().map(toSlot);
  }

  /** When a scheduler first saw this schedule; slots before it are not owed. */
  firstSeen(schedule: string, now: number): number {
    this.seenStmt.run(schedule, now);
    return this.sinceStmt.get(schedule)!.since;
  }

  recent(schedule: string, limit: number): SlotRow[] {
    return this.listStmt.all(schedule, limit).map(toSlot);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
