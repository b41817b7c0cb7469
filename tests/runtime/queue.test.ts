import { readdir, rename, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../runtime/src/log.js';
import { FolderQueue, isJobFileName, type Claim } from '../../runtime/src/queue/index.js';
import { makeVault, sleep, waitFor, type TempVault } from './helpers/vault.js';

let v: TempVault;
const queues: FolderQueue[] = [];
/*
 * The queues' injected clock. The mtime guard compares it with file mtimes, which the kernel
 * stamps in wall time, so it reads the wall clock; claim times come from it (claim.claimedAt),
 * not from a clock of the test's own.
 */
const clock = { now: (): number => Date.now() };

beforeEach(async () => {
  v = await makeVault();
});
afterEach(async () => {
  for (const q of queues.splice(0)) await q.stop();
  await v.cleanup();
});

function makeQueue(opts: { guard?: number; rescan?: number; concurrency?: number; watch?: boolean } = {}): FolderQueue {
  const q = new FolderQueue({
    folders: { queue: v.dir('queue'), active: v.dir('active'), completed: v.dir('completed'), failed: v.dir('failed') },
    concurrency: opts.concurrency ?? 2,
    mtimeGuardMs: opts.guard ?? 200,
    rescanMs: opts.rescan ?? 300,
    log: memoryLogger(),
    now: clock.now,
    ...(opts.watch === undefined ? {} : { watch: opts.watch }),
  });
  queues.push(q);
  return q;
}

describe('job file names', () => {
  it('takes markdown files and nothing Syncthing leaves behind', () => {
    expect(isJobFileName('summary.md')).toBe(true);
    expect(isJobFileName('Weekly Report.MD')).toBe(true);
    expect(isJobFileName('.syncthing.summary.md.tmp')).toBe(false);
    expect(isJobFileName('~syncthing~summary.md.tmp')).toBe(false);
    expect(isJobFileName('summary.sync-conflict-20260101-120000-ABCDEFG.md')).toBe(false);
    expect(isJobFileName('.hidden.md')).toBe(false);
    expect(isJobFileName('notes.txt')).toBe(false);
    expect(isJobFileName('.md')).toBe(false);
  });
});

describe('FolderQueue', () => {
  it('moves a claimed file queue → active → completed, and queue → active → failed', async () => {
    await v.drop('a.md', 'A');
    await v.drop('b.md', 'B');
    const seen: string[] = [];
    const q = makeQueue();
    await q.start(async (claim) => {
      seen.push(claim.name);
      expect(await v.list('active')).toContain(claim.name);
      expect(await v.list('queue')).not.toContain(claim.name);
      expect(await claim.read()).toBe(claim.name === 'a.md' ? 'A' : 'B');
      await claim.write(`${await claim.read()}!`);
      if (claim.name === 'a.md') await claim.complete();
      else await claim.fail();
    });
    await waitFor(async () => (await v.list('completed')).length + (await v.list('failed')).length === 2, 'both settled');
    expect(seen.sort()).toEqual(['a.md', 'b.md']);
    expect(await v.read('completed', 'a.md')).toBe('A!');
    expect(await v.read('failed', 'b.md')).toBe('B!');
    expect(await v.list('active')).toEqual([]);
    expect(q.stats()).toMatchObject({ queued: 0, active: 0, completed: 1, failed: 1 });
  });

  it('leaves a file alone while it is still being written (mtime guard)', async () => {
    const claimed: { name: string; at: number; content: string }[] = [];
    const q = makeQueue({ guard: 600 });
    await q.start(async (claim) => {
      claimed.push({ name: claim.name, at: claim.claimedAt, content: await claim.read() });
      await claim.complete();
    });
    const p = join(v.dir('queue'), 'slow.md');
    const t0 = clock.now();
    // A writer appending every 150 ms for ~900 ms: each write moves the mtime on.
    await writeFile(p, 'part 1\n');
    for (let i = 2; i <= 6; i++) {
      await sleep(150);
      await writeFile(p, `part ${i}\n`, { flag: 'a' });
      expect(claimed).toEqual([]);
    }
    const lastWrite = (await stat(p)).mtimeMs;
    await waitFor(() => claimed.length === 1, 'the finished file to be claimed');
    expect(claimed[0]!.content).toBe('part 1\npart 2\npart 3\npart 4\npart 5\npart 6\n');
    expect(claimed[0]!.at - lastWrite).toBeGreaterThanOrEqual(590);
    expect(claimed[0]!.at - t0).toBeGreaterThan(1_300);
  });

  it('a file dated in the future (a device clock ahead) waits the guard from when it was seen', async () => {
    const seen: number[] = [];
    const q = makeQueue({ guard: 300 });
    await q.start(async (claim) => {
      seen.push(claim.claimedAt);
      await claim.complete();
    });
    const t0 = clock.now();
    await v.drop('ahead.md', 'x', -3_600_000);
    await waitFor(() => seen.length === 1, 'the future-dated file', 5_000);
    expect(seen[0]! - t0).toBeGreaterThanOrEqual(250);
    expect(seen[0]! - t0).toBeLessThan(2_000);
  });

  it('never claims Syncthing temp or conflict files, dotfiles or non-markdown files', async () => {
    const ignored = [
      '.syncthing.job.md.tmp',
      '~syncthing~job.md.tmp',
      'job.sync-conflict-20260101-000000-ABC1234.md',
      '.job.md',
      'job.txt',
    ];
    for (const n of ignored) await v.drop(n, 'x');
    await v.drop('job.md', 'real');
    const seen: string[] = [];
    const q = makeQueue();
    await q.start(async (claim) => {
      seen.push(claim.name);
      await claim.complete();
    });
    // Some arrive by event too, while running.
    await writeFile(join(v.dir('queue'), '.syncthing.late.md.tmp'), 'x');
    await writeFile(join(v.dir('queue'), 'late.sync-conflict-20260101-000000-XYZ.md'), 'x');
    await waitFor(() => seen.length === 1, 'job.md');
    await sleep(900); // past the guard and a rescan
    expect(seen).toEqual(['job.md']);
    expect((await readdir(v.dir('queue'))).sort()).toEqual(
      [...ignored, '.syncthing.late.md.tmp', 'late.sync-conflict-20260101-000000-XYZ.md'].sort(),
    );
  });

  it('requeues what a previous run left in active at start-up', async () => {
    await writeFile(join(v.dir('active'), 'left.md'), 'left over');
    await writeFile(join(v.dir('active'), '.runtime-tmp-abc-left.md'), 'half a write');
    const seen: string[] = [];
    const q = makeQueue();
    await q.start(async (claim) => {
      seen.push(claim.name);
      await claim.complete();
    });
    // Wait on the outcome (the file settled in completed), not on the handler's first line.
    await waitFor(async () => (await v.list('completed')).includes('left.md'), 'the requeued file');
    expect(seen).toEqual(['left.md']);
    expect(await v.read('completed', 'left.md')).toBe('left over');
    expect(await readdir(v.dir('active'))).toEqual([]);
  });

  it('requeue keeps both files when the queue already has one with the same name', async () => {
    await writeFile(join(v.dir('active'), 'same.md'), 'old');
    await v.drop('same.md', 'new');
    const q = makeQueue();
    const contents: string[] = [];
    await q.start(async (claim) => {
      contents.push(await claim.read());
      await claim.complete();
    });
    await waitFor(async () => (await v.list('completed')).length === 2, 'both files');
    expect(contents.sort()).toEqual(['new', 'old']);
    expect(await v.list('completed')).toEqual(['same-requeued.md', 'same.md']);
  });

  it('picks up a new file by event, long before the next rescan', async () => {
    const seen: { name: string; at: number }[] = [];
    const q = makeQueue({ rescan: 60_000, guard: 100 });
    await q.start(async (claim) => {
      seen.push({ name: claim.name, at: claim.claimedAt });
      await claim.complete();
    });
    const p = await v.drop('event.md', 'x', 0);
    const { mtimeMs } = await stat(p);
    await waitFor(() => seen.length === 1, 'event pickup', 5_000);
    expect(seen[0]!.at - mtimeMs).toBeLessThan(1_000);
  });

  it('picks up files by rescan when no watcher runs', async () => {
    const seen: string[] = [];
    const q = makeQueue({ watch: false, rescan: 200, guard: 100 });
    await q.start(async (claim) => {
      seen.push(claim.name);
      await claim.complete();
    });
    await v.drop('later.md', 'x', 0);
    await waitFor(() => seen.includes('later.md'), 'rescan pickup', 5_000);
  });

  it('skips a claim that lost the race (file gone) silently', async () => {
    const log = memoryLogger();
    const q = new FolderQueue({
      folders: { queue: v.dir('queue'), active: v.dir('active'), completed: v.dir('completed'), failed: v.dir('failed') },
      concurrency: 1,
      mtimeGuardMs: 300,
      rescanMs: 10_000,
      log,
    });
    queues.push(q);
    const seen: string[] = [];
    await q.start(async (claim) => {
      seen.push(claim.name);
      await claim.complete();
    });
    await v.drop('race.md', 'x', 0);
    // Another taker moves it out before the guard lets us claim it.
    await sleep(100);
    await rename(join(v.dir('queue'), 'race.md'), join(v.root, 'taken.md'));
    await v.drop('after.md', 'y', 0);
    await waitFor(() => seen.includes('after.md'), 'the next file');
    expect(seen).toEqual(['after.md']);
    expect(log.records.filter((r) => r.level !== 'info' && r.level !== 'debug')).toEqual([]);
  });

  it('runs at most `concurrency` handlers at once and releases back to the queue', async () => {
    for (let i = 0; i < 8; i++) await v.drop(`j${i}.md`, `${i}`);
    let now = 0;
    let peak = 0;
    let released = false;
    const q = makeQueue({ concurrency: 3 });
    const done: string[] = [];
    await q.start(async (claim: Claim) => {
      now++;
      peak = Math.max(peak, now);
      await sleep(50);
      now--;
      if (claim.name === 'j0.md' && !released) {
        released = true;
        await claim.release();
        return;
      }
      await claim.complete();
      done.push(claim.name);
    });
    await waitFor(() => done.length === 8, 'all eight');
    expect(peak).toBe(3);
    expect(released).toBe(true);
    expect((await v.list('completed')).length).toBe(8);
  });

  it('reports depth and the age of the oldest waiting file', async () => {
    await v.drop('old.md', 'x', 60_000);
    const t = new Date(clock.now() - 120_000);
    await v.drop('older.md', 'x');
    await utimes(join(v.dir('queue'), 'older.md'), t, t);
    const q = makeQueue({ concurrency: 1 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await q.start(async (claim) => {
      await gate;
      await claim.complete();
    });
    await waitFor(() => q.stats().active === 1, 'one active');
    const s = q.stats();
    expect(s.queued).toBe(1);
    expect(s.oldestAgeMs).toBeGreaterThanOrEqual(59_000);
    expect(s.oldestAgeMs).toBeLessThan(70_000);
    release();
    await waitFor(() => q.stats().completed === 2, 'both done');
    expect(q.stats().oldestAgeMs).toBe(0);
  });
});
