import { join } from 'node:path';
import type { Statement } from 'better-sqlite3';
import { openDatabase, type Db } from './db.js';

/*
 * Every provider call, one row each: the source for the stats page and for cost questions.
 * Lives in DATA_DIR/usage.db.
 */

export type CallOutcome = 'ok' | 'error' | 'rate_limited' | 'timeout' | 'unavailable' | 'aborted';

export interface UsageRow {
  /** ISO time the call started. */
  time: string;
  provider: string;
  model: string;
  jobId?: string | null;
  sessionId?: string | null;
  inputTokens: number;
  outputTokens: number;
  ttftMs?: number | null;
  durationMs: number;
  outcome: CallOutcome;
  errorCode?: string | null;
  /** Who asked: an Access email, `token:<name>`, or `local`; null for the worker. */
  client?: string | null;
  /** The API token's id when the call came in on one. */
  tokenId?: string | null;
}

export interface UsageTotals {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  errors: number;
  /** Mean time to first token over calls that had one, ms. */
  avgTtftMs: number | null;
  avgDurationMs: number;
}

export interface ModelTotals extends UsageTotals {
  provider: string;
  model: string;
}

export interface DayTotals extends UsageTotals {
  /** YYYY-MM-DD (UTC). */
  day: string;
}

export interface StatsRange {
  /** ISO time, inclusive. */
  since?: string;
  /** ISO time, exclusive. */
  until?: string;
}

/** What the router needs: a place to put a row. */
export interface UsageRecorder {
  record(row: UsageRow): void;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS provider_calls (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time TEXT NOT NULL,
  provider TEXT NOT NULL,
  model TEXT NOT NULL,
  job_id TEXT,
  session_id TEXT,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  ttft_ms INTEGER,
  duration_ms INTEGER NOT NULL DEFAULT 0,
  outcome TEXT NOT NULL,
  error_code TEXT
);
CREATE INDEX IF NOT EXISTS provider_calls_time ON provider_calls (time);
CREATE INDEX IF NOT EXISTS provider_calls_model ON provider_calls (model, time);
CREATE INDEX IF NOT EXISTS provider_calls_job ON provider_calls (job_id);
`;

const TOTALS = `
  COUNT(*) AS calls,
  COALESCE(SUM(input_tokens), 0) AS inputTokens,
  COALESCE(SUM(output_tokens), 0) AS outputTokens,
  COALESCE(SUM(CASE WHEN outcome = 'ok' THEN 0 ELSE 1 END), 0) AS errors,
  AVG(ttft_ms) AS avgTtftMs,
  COALESCE(AVG(duration_ms), 0) AS avgDurationMs`;

const WHERE = `WHERE (@since IS NULL OR time >= @since) AND (@until IS NULL OR time < @until)`;

export class UsageStore implements UsageRecorder {
  readonly db: Db;
  private readonly insert: Statement;
  private readonly ownsDb: boolean;

  /** `target`: a data directory (usage.db inside it), a `.db` path, or an open database. */
  constructor(target: string | Db) {
    this.ownsDb = typeof target === 'string';
    this.db =
      typeof target === 'string'
        ? openDatabase(target.endsWith('.db') || target === ':memory:' ? target : join(target, 'usage.db'))
        : target;
    this.db.exec(SCHEMA);
    // Columns added after the first release: an older usage.db gains them in place.
    const cols = new Set((this.db.prepare(`PRAGMA table_info(provider_calls)`).all() as { name: string }[]).map((c) => c.name));
    if (!cols.has('client')) this.db.exec(`ALTER TABLE provider_calls ADD COLUMN client TEXT`);
    if (!cols.has('token_id')) this.db.exec(`ALTER TABLE provider_calls ADD COLUMN token_id TEXT`);
    this.insert = this.db.prepare(`INSERT INTO provider_calls
      (time, provider, model, job_id, session_id, input_tokens, output_tokens, ttft_ms, duration_ms, outcome, error_code, client, token_id)
      VALUES (@time, @provider, @model, @jobId, @sessionId, @inputTokens, @outputTokens, @ttftMs, @durationMs, @outcome, @errorCode, @client, @tokenId)`);
  }

  record(row: UsageRow): void {
    this.insert.run({
      time: row.time,
      provider: row.provider,
      model: row.model,
      jobId: row.jobId ?? null,
      sessionId: row.sessionId ?? null,
      inputTokens: Math.round(row.inputTokens),
      outputTokens: Math.round(row.outputTokens),
      ttftMs: row.ttftMs == null ? null : Math.round(row.ttftMs),
      durationMs: Math.round(row.durationMs),
      outcome: row.outcome,
      errorCode: row.errorCode ?? null,
      client: row.client ?? null,
      tokenId: row.tokenId ?? null,
    });
  }

  /** Rows, newest first. */
  recent(limit = 100, filter: { jobId?: string; sessionId?: string } = {}): UsageRow[] {
    return this.db
      .prepare(
        `SELECT time, provider, model, job_id AS jobId, session_id AS sessionId, input_tokens AS inputTokens,
                output_tokens AS outputTokens, ttft_ms AS ttftMs, duration_ms AS durationMs, outcome, error_code AS errorCode,
                client, token_id AS tokenId
         FROM provider_calls
         WHERE (@jobId IS NULL OR job_id = @jobId) AND (@sessionId IS NULL OR session_id = @sessionId)
         ORDER BY time DESC, id DESC LIMIT @limit`,
      )
      .all({ jobId: filter.jobId ?? null, sessionId: filter.sessionId ?? null, limit }) as UsageRow[];
  }

  totals(range: StatsRange = {}): UsageTotals {
    return this.db.prepare(`SELECT ${TOTALS} FROM provider_calls ${WHERE}`).get(params(range)) as UsageTotals;
  }

  totalsByModel(range: StatsRange = {}): ModelTotals[] {
    return this.db
      .prepare(`SELECT provider, model, ${TOTALS} FROM provider_calls ${WHERE} GROUP BY provider, model ORDER BY provider, model`)
      .all(params(range)) as ModelTotals[];
  }

  totalsByDay(range: StatsRange = {}): DayTotals[] {
    return this.db
      .prepare(`SELECT substr(time, 1, 10) AS day, ${TOTALS} FROM provider_calls ${WHERE} GROUP BY day ORDER BY day`)
      .all(params(range)) as DayTotals[];
  }

  close(): void {
    if (this.ownsDb) this.db.close();
  }
}

function params(range: StatsRange): { since: string | null; until: string | null } {
  return { since: range.since ?? null, until: range.until ?? null };
}
