import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { RuntimeError, describeError } from '../errors.js';

/*
 * The completion ledger: job id → its output file. It is what makes a job run once.
 *
 * A row is written when the output path is chosen, before the output is written; `completed_at`
 * is set right after the output file is written, and `moved_at` once the job file reached the
 * completed folder. Completion is decided by id, never by where the output is now: the operator
 * moves outputs around (Obsidian), so a missing output file says nothing. A job counts as
 * completed when `completed_at` or `moved_at` is set, or (killed between the output write and
 * `completed_at`) its output is on disk. A file coming back after `moved_at` is a resurrected
 * copy; one coming back before it is a move a crash interrupted, which is finished quietly.
 *
 * WAL with synchronous=NORMAL: a killed process loses nothing committed; only a power cut can
 * lose the last commits, and the job file moves are not fsynced either.
 */

export interface LedgerEntry {
  readonly id: string;
  /** Output path relative to the vault, e.g. `runner-outputs/2026-01-02-030405-summary.md`. */
  readonly output: string;
  readonly source: string;
  readonly reservedAt: number;
  readonly movedAt: number | null;
}

interface Row {
  id: string;
  output: string;
  source: string;
  reserved_at: number;
  moved_at: number | null;
}

export class JobLedger {
  private readonly db: Database.Database;
  private readonly getStmt: Database.Statement<[string], Row>;
  private readonly byOutputStmt: Database.Statement<[string], { id: string }>;
  private readonly reserveStmt: Database.Statement<[string, string, string, number]>;
  private readonly movedStmt: Database.Statement<[number, string]>;
  private readonly completedStmt: Database.Statement<[number, string]>;
  private readonly completedAtStmt: Database.Statement<[string], { completed_at: number | null }>;
  private readonly failedRunsStmt: Database.Statement<[string], { runs: number }>;
  private readonly addFailedRunStmt: Database.Statement<[string, number]>;

  constructor(path: string) {
    try {
      mkdirSync(dirname(path), { recursive: true });
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('busy_timeout = 5000');
      this.db.exec(`CREATE TABLE IF NOT EXISTS job_ledger (
        id TEXT PRIMARY KEY,
        output TEXT NOT NULL UNIQUE,
        source TEXT NOT NULL,
        reserved_at INTEGER NOT NULL,
        moved_at INTEGER
      )`);
      const columns = this.db.prepare('PRAGMA table_info(job_ledger)').all() as { name: string }[];
      if (!columns.some((c) => c.name === 'completed_at')) this.db.exec('ALTER TABLE job_ledger ADD COLUMN completed_at INTEGER');
      // Failed runs per id (the JetStream gateway): a failed job dropped into the queue again is a new run.
      this.db.exec('CREATE TABLE IF NOT EXISTS job_failed_runs (id TEXT PRIMARY KEY, runs INTEGER NOT NULL, last_at INTEGER NOT NULL)');
    } catch (e) {
      throw new RuntimeError('STORE_ERROR', `cannot open the job ledger at ${path}: ${describeError(e)}`, {
        hint: 'check that DATA_DIR exists and is writable',
        cause: e,
      });
    }
    this.getStmt = this.db.prepare('SELECT * FROM job_ledger WHERE id = ?');
    this.byOutputStmt = this.db.prepare('SELECT id FROM job_ledger WHERE output = ?');
    this.reserveStmt = this.db.prepare(
      `INSERT INTO job_ledger (id, output, source, reserved_at) VALUES (?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET output = excluded.output, source = excluded.source, reserved_at = excluded.reserved_at, moved_at = NULL, completed_at = NULL`,
    );
    this.movedStmt = this.db.prepare('UPDATE job_ledger SET moved_at = ? WHERE id = ?');
    this.completedStmt = this.db.prepare('UPDATE job_ledger SET completed_at = ? WHERE id = ?');
    this.completedAtStmt = this.db.prepare('SELECT completed_at FROM job_ledger WHERE id = ?');
    this.failedRunsStmt = this.db.prepare('SELECT runs FROM job_failed_runs WHERE id = ?');
    this.addFailedRunStmt = this.db.prepare(
      'INSERT INTO job_failed_runs (id, runs, last_at) VALUES (?, 1, ?) ON CONFLICT(id) DO UPDATE SET runs = runs + 1, last_at = excluded.last_at',
    );
  }

  /** How many runs of this id ended failed (counted by the JetStream gateway; 0 for the folder queue). */
  failedRuns(id: string): number {
    return this.failedRunsStmt.get(id)?.runs ?? 0;
  }

  addFailedRun(id: string, now: number): void {
    this.addFailedRunStmt.run(id, now);
  }

  /** Outputs (vault-relative) of jobs completed after `since` (epoch ms), oldest first, at most `limit`. */
  completedSince(since: number, limit: number): { id: string; output: string; completedAt: number }[] {
    return this.db
      .prepare('SELECT id, output, completed_at AS completedAt FROM job_ledger WHERE completed_at > ? ORDER BY completed_at, id LIMIT ?')
      .all(since, limit) as { id: string; output: string; completedAt: number }[];
  }

  /** Records that the job's output is written: from now on the job is never run again. */
  markCompleted(id: string, now: number): void {
    this.completedStmt.run(now, id);
  }

  /** When the job's output was written, or null if it was not (or the row predates the column). */
  completedAt(id: string): number | null {
    return this.completedAtStmt.get(id)?.completed_at ?? null;
  }

  get(id: string): LedgerEntry | undefined {
    const r = this.getStmt.get(id);
    return r && { id: r.id, output: r.output, source: r.source, reservedAt: r.reserved_at, movedAt: r.moved_at };
  }

  /** True when another job already holds this output path. */
  outputTaken(output: string, byOtherThan: string): boolean {
    const r = this.byOutputStmt.get(output);
    return r !== undefined && r.id !== byOtherThan;
  }

  reserve(id: string, output: string, source: string, now: number): void {
    this.reserveStmt.run(id, output, source, now);
  }

  /** Reserves `output` for `id` unless another job holds it; check and write are one step. */
  tryReserve(id: string, output: string, source: string, now: number): boolean {
    if (this.outputTaken(output, id)) return false;
    try {
      this.reserve(id, output, source, now);
      return true;
    } catch (e) {
      if ((e as { code?: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE') return false;
      throw e;
    }
  }

  markMoved(id: string, now: number): void {
    this.movedStmt.run(now, id);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
