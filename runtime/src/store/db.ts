import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { RuntimeError, describeError } from '../errors.js';

export type Db = Database.Database;

/*
 * Opens a SQLite database for the runtime: WAL (readers never block the writer), a busy timeout
 * so two processes on one file wait instead of failing, and NORMAL sync (safe with WAL).
 */
export function openDatabase(path: string, opts: { busyTimeoutMs?: number; readonly?: boolean } = {}): Db {
  try {
    if (path !== ':memory:' && !opts.readonly) mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path, { readonly: opts.readonly ?? false });
    db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 5000}`);
    if (!opts.readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
    }
    db.pragma('foreign_keys = ON');
    return db;
  } catch (e) {
    throw new RuntimeError('STORE_ERROR', `cannot open database ${path}: ${describeError(e)}`, {
      hint: 'check that DATA_DIR exists and is writable by the runtime user',
      cause: e,
    });
  }
}
