import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../runtime/src/store/db.js';
import { UsageStore, type UsageRow } from '../../runtime/src/store/usage.js';
import { tempDir } from '../helpers.js';

const row = (over: Partial<UsageRow>): UsageRow => ({
  time: '2026-05-01T10:00:00.000Z',
  provider: 'ollama',
  model: 'qwen2.5:14b',
  inputTokens: 10,
  outputTokens: 5,
  ttftMs: 100,
  durationMs: 1000,
  outcome: 'ok',
  ...over,
});

describe('UsageStore', () => {
  it('opens DATA_DIR/usage.db in WAL mode', () => {
    const dir = tempDir('usage-');
    const store = new UsageStore(dir);
    expect(store.db.name).toBe(join(dir, 'usage.db'));
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('busy_timeout', { simple: true })).toBe(5000);
    store.close();
  });

  it('records rows and answers totals by model and by day', () => {
    const dir = tempDir('usage-');
    const store = new UsageStore(dir);
    store.record(row({ jobId: 'job-1' }));
    store.record(
      row({ time: '2026-05-01T11:00:00.000Z', inputTokens: 20, outputTokens: 7, ttftMs: 300, durationMs: 3000, jobId: 'job-1' }),
    );
    store.record(
      row({
        time: '2026-05-02T09:00:00.000Z',
        provider: 'groq',
        model: 'llama-3.3-70b-versatile',
        inputTokens: 0,
        outputTokens: 0,
        ttftMs: null,
        durationMs: 40,
        outcome: 'rate_limited',
        errorCode: 'PROVIDER_RATE_LIMITED',
        sessionId: 'chat-9',
      }),
    );
    store.close();

    // Reopened from disk: rows persist.
    const again = new UsageStore(join(dir, 'usage.db'));
    expect(again.recent(10).map((r) => r.time)).toEqual([
      '2026-05-02T09:00:00.000Z',
      '2026-05-01T11:00:00.000Z',
      '2026-05-01T10:00:00.000Z',
    ]);
    expect(again.recent(10, { jobId: 'job-1' })).toHaveLength(2);
    expect(again.recent(10, { sessionId: 'chat-9' })[0]).toMatchObject({
      provider: 'groq',
      outcome: 'rate_limited',
      errorCode: 'PROVIDER_RATE_LIMITED',
      ttftMs: null,
    });

    expect(again.totalsByModel()).toEqual([
      {
        provider: 'groq',
        model: 'llama-3.3-70b-versatile',
        calls: 1,
        inputTokens: 0,
        outputTokens: 0,
        errors: 1,
        avgTtftMs: null,
        avgDurationMs: 40,
      },
      {
        provider: 'ollama',
        model: 'qwen2.5:14b',
        calls: 2,
        inputTokens: 30,
        outputTokens: 12,
        errors: 0,
        avgTtftMs: 200,
        avgDurationMs: 2000,
      },
    ]);
    expect(again.totalsByDay()).toEqual([
      { day: '2026-05-01', calls: 2, inputTokens: 30, outputTokens: 12, errors: 0, avgTtftMs: 200, avgDurationMs: 2000 },
      { day: '2026-05-02', calls: 1, inputTokens: 0, outputTokens: 0, errors: 1, avgTtftMs: null, avgDurationMs: 40 },
    ]);
    expect(again.totals({ since: '2026-05-02T00:00:00.000Z' })).toMatchObject({ calls: 1, errors: 1 });
    expect(again.totalsByDay({ until: '2026-05-02T00:00:00.000Z' }).map((d) => d.day)).toEqual(['2026-05-01']);
    again.close();
  });

  it('openDatabase creates the directory and sets WAL and busy_timeout', () => {
    const path = join(tempDir('db-'), 'nested', 'x.db');
    const db = openDatabase(path, { busyTimeoutMs: 1234 });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('busy_timeout', { simple: true })).toBe(1234);
    db.close();
  });

  it('openDatabase fails with STORE_ERROR and a hint', () => {
    const file = join(tempDir('db-'), 'plain-file');
    writeFileSync(file, 'not a directory');
    expect(() => openDatabase(join(file, 'x.db'))).toThrowError(
      expect.objectContaining({ code: 'STORE_ERROR', hint: expect.stringContaining('DATA_DIR') }),
    );
  });
});
