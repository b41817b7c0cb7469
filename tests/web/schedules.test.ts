import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWeb, type WebHarness } from './harness.js';

/* The queue view's upcoming scheduled runs, from the schedules in the committed runtime.json. */

let h: WebHarness;
beforeAll(async () => {
  h = await startWeb();
});
afterAll(async () => {
  await h.close();
});

describe('GET /api/schedules', () => {
  it('lists each schedule with its next three runs (none for a disabled one)', async () => {
    const r = await h.app.inject({ method: 'GET', url: '/api/schedules' });
    expect(r.statusCode).toBe(200);
    const { schedules } = r.json() as { schedules: { name: string; enabled: boolean; timezone: string; next: string[] }[] };
    expect(schedules.map((s) => [s.name, s.enabled, s.timezone])).toEqual([
      ['briefing', true, 'Europe/London'],
      ['memory', true, 'Europe/London'],
      ['reindex', true, 'Europe/London'],
      ['research', false, 'Europe/London'],
    ]);
    const next = schedules[0]!.next.map(Date.parse);
    expect(next).toHaveLength(3);
    expect(next[0]!).toBeGreaterThan(Date.now());
    // Daily: a day apart, or 23/25 hours across a clock change.
    for (let i = 1; i < 3; i++) expect([23, 24, 25]).toContain((next[i]! - next[i - 1]!) / 3_600_000);
    expect(schedules[3]!.next).toEqual([]);
  });
});
