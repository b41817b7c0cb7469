import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../runtime/src/log.js';
import { DeferredNotifier } from '../../runtime/src/notify/deferred.js';
import type { JobNotice, JobNotifier } from '../../runtime/src/notify/notices.js';
import { windowEnd } from '../../runtime/src/schedule/cron.js';
import { virtualClock, type VirtualClock } from '../helpers/clock.js';

/*
 * Quiet hours: a notice for a job whose slot fell in the window waits in jobs.db until the
 * window's end, under a virtual clock. A worker restarted inside the window sends it once when
 * the window ends; one restarted after the window sends it at start; two processes send it once.
 */

class Recorder implements JobNotifier {
  readonly sent: string[] = [];
  jobCompleted(n: JobNotice): void {
    this.sent.push(`completed ${n.jobId}`);
  }
  jobFailed(n: JobNotice): void {
    this.sent.push(`failed ${n.jobId}`);
  }
}

let dir: string;
let clock: VirtualClock;
const open: DeferredNotifier[] = [];
const END = Date.parse('2026-12-02T07:00:00Z');

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'held-'));
  clock = virtualClock(Date.parse('2026-12-01T23:00:05Z'));
});
afterEach(async () => {
  for (const n of open.splice(0)) n.close();
  await rm(dir, { recursive: true, force: true });
});

function notifier(inner: JobNotifier): DeferredNotifier {
  const n = new DeferredNotifier({ inner, path: join(dir, 'jobs.db'), log: memoryLogger(), now: clock.now });
  open.push(n);
  n.start();
  return n;
}

const notice = (jobId: string, notBefore?: string): JobNotice => ({
  name: `${jobId}.md`,
  jobId,
  status: 'completed',
  durationMs: 10,
  ...(notBefore ? { notBefore } : {}),
});

describe('notices held for quiet hours', () => {
  it('waits until the window ends, then sends once', () => {
    const r = new Recorder();
    const n = notifier(r);
    n.jobCompleted(notice('brief-1', new Date(END).toISOString()));
    n.jobFailed({ ...notice('brief-2', new Date(END).toISOString()), status: 'failed' });
    expect(r.sent).toEqual([]);
    clock.advance(END - clock.now() - 1);
    expect(n.flush()).toBe(0);
    clock.advance(1);
    expect(n.flush()).toBe(2);
    expect(r.sent).toEqual(['completed brief-1', 'failed brief-2']);
    clock.advance(3600_000);
    expect(n.flush()).toBe(0);
    expect(r.sent).toHaveLength(2);
  });

  it('a notice without a hold, or whose hold has passed, goes at once', () => {
    const r = new Recorder();
    const n = notifier(r);
    n.jobCompleted(notice('plain'));
    n.jobCompleted(notice('late', new Date(clock.now() - 1).toISOString()));
    expect(r.sent).toEqual(['completed plain', 'completed late']);
    expect(n.pending()).toEqual([]);
  });

  it('a restart inside the window keeps the notice and sends it once when the window ends', () => {
    const first = new Recorder();
    const a = notifier(first);
    a.jobCompleted(notice('brief-1', new Date(END).toISOString()));
    a.close();
    clock.advance(3 * 3600_000); // 02:00, still quiet
    const second = new Recorder();
    const b = notifier(second);
    expect(second.sent).toEqual([]);
    expect(b.pending().map((p) => p.key)).toEqual(['brief-1:completed']);
    clock.advance(END - clock.now());
    expect(b.flush()).toBe(1);
    expect(second.sent).toEqual(['completed brief-1']);
    expect(first.sent).toEqual([]);
  });

  it('a worker that starts after the window sends what it held, and two processes send it once', () => {
    const a = notifier(new Recorder());
    a.jobCompleted(notice('brief-1', new Date(END).toISOString()));
    a.jobCompleted(notice('brief-1', new Date(END).toISOString())); // the same job reported twice: one row
    a.close();
    clock.advance(END - clock.now() + 60_000);
    const r1 = new Recorder();
    const r2 = new Recorder();
    notifier(r1); // start() sends what fell due while no worker ran
    notifier(r2);
    expect([...r1.sent, ...r2.sent]).toEqual(['completed brief-1']);
  });
});

describe('the end of a quiet window', () => {
  it('is the first minute outside it, across midnight and a DST change', () => {
    const w = { start: '22:00', end: '07:00' };
    expect(new Date(windowEnd(Date.parse('2026-12-01T23:00:00Z'), 'Europe/London', w)).toISOString()).toBe('2026-12-02T07:00:00.000Z');
    expect(new Date(windowEnd(Date.parse('2026-12-02T06:59:30Z'), 'Europe/London', w)).toISOString()).toBe('2026-12-02T07:00:00.000Z');
    // Outside the window: the instant itself.
    expect(windowEnd(Date.parse('2026-12-02T12:00:00Z'), 'Europe/London', w)).toBe(Date.parse('2026-12-02T12:00:00Z'));
    // Berlin, 25 October 2026: the night the clocks go back; 07:00 CET is 06:00Z.
    expect(new Date(windowEnd(Date.parse('2026-10-24T21:00:00Z'), 'Europe/Berlin', w)).toISOString()).toBe('2026-10-25T06:00:00.000Z');
  });
});
