import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { RuntimeError, describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { freeName, isErrno, writeFileAtomic } from './fs-util.js';
import { MinHeap } from './heap.js';
import { isJobFileName, isTempFileName } from './names.js';
import type { Claim, ClaimHandler, JobQueue, QueueStats } from './types.js';

/*
 * The vault folder queue: `queue → active → completed | failed`, each step one rename.
 *
 * Waiting files are kept in memory (name → mtime) and in a min-heap by mtime, so a pump costs
 * O(log n) whatever the backlog: a file is stat'ed when it is first seen and once more right
 * before its claim (it may have been rewritten since), never on every tick. Directory events
 * bring new files in at once; a periodic rescan (readdir, stat only names not yet known)
 * catches what events missed.
 *
 * Events come from one `fs.watch` on the queue folder (inotify on Linux), not chokidar: with
 * thousands of queued files chokidar puts a watcher on every file and re-reads the folder on
 * each change, which measured at a third of the throughput (bench/queue.ts). An event is only
 * a hint here: the file is stat'ed, so a missed or duplicated event costs nothing but time.
 */

export interface FolderQueueProps {
  /** Absolute folder paths. */
  readonly folders: { readonly queue: string; readonly active: string; readonly completed: string; readonly failed: string };
  readonly concurrency: number;
  /** A file is claimed only once its mtime is at least this old. */
  readonly mtimeGuardMs: number;
  readonly rescanMs: number;
  readonly log: Logger;
  /** Watch the queue folder for events (default true); the rescan alone still works without. */
  readonly watch?: boolean;
  /** Clock, for tests. */
  readonly now?: () => number;
}

const STAT_BATCH = 64;
/** Retry delay for a file whose name is already active (same name dropped twice). */
const BUSY_RETRY_MS = 250;

export class FolderQueue implements JobQueue {
  private readonly props: FolderQueueProps;
  private readonly now: () => number;
  /**
   * Waiting files: name → the mtime last seen (`raw`) and the time the guard counts from (`key`,
   * the heap key): the mtime, or when the file was seen if its mtime is in the future (a device
   * with a clock ahead must not hold a job back until its clock's time comes).
   */
  private readonly waiting = new Map<string, { key: number; raw: number }>();
  private readonly heap = new MinHeap<string>();
  /** Names claimed and not yet settled. */
  private readonly activeNames = new Set<string>();
  private running = 0;
  private stopped = true;
  /** Set during the start-up scan, so the backlog is claimed oldest first once it is all known. */
  private holding = false;
  private handler: ClaimHandler | undefined;
  private watcher: FSWatcher | undefined;
  /** Names with a stat in flight from an event, and whether another event came meanwhile. */
  private readonly eventStats = new Map<string, boolean>();
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Infinity;
  private rescanTimer: NodeJS.Timeout | undefined;
  private rescanning: Promise<void> | undefined;
  private idleWaiters: (() => void)[] = [];
  private completedCount = 0;
  private failedCount = 0;

  constructor(props: FolderQueueProps) {
    if (!Number.isInteger(props.concurrency) || props.concurrency < 1) {
      throw new RuntimeError('CONFIG_INVALID', `queue concurrency must be a positive integer, got ${props.concurrency}`, { hint: 'set vault.worker.concurrency in platform.yaml to 1 or more and run `make render`' });
    }
    this.props = props;
    this.now = props.now ?? Date.now;
  }

  async start(handler: ClaimHandler): Promise<void> {
    const { folders, log } = this.props;
    this.handler = handler;
    for (const dir of Object.values(folders)) await mkdir(dir, { recursive: true });
    await this.cleanTemps(folders.active);
    await this.cleanTemps(folders.queue);
    await this.requeueActive();
    this.completedCount = await countJobs(folders.completed);
    this.failedCount = await countJobs(folders.failed);
    this.stopped = false;
    this.holding = true;
    // Watch first, so nothing dropped during the start-up scan waits for the next rescan.
    if (this.props.watch !== false) this.startWatcher();
    try {
      await this.rescan();
    } finally {
      this.holding = false;
    }
    // Not unref'd: while the queue runs, it is what keeps a worker process alive.
    this.rescanTimer = setInterval(() => void this.rescan(), this.props.rescanMs);
    log.info('queue started', { queued: this.waiting.size, folder: folders.queue });
    this.pump();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = Infinity;
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    this.rescanTimer = undefined;
    this.watcher?.close();
    this.watcher = undefined;
    if (this.rescanning) await this.rescanning;
  }

  idle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stats(): QueueStats {
    let oldest = 0;
    // Drop stale heap tops so the oldest age is the oldest file still waiting.
    for (let top = this.heap.peek(); top; top = this.heap.peek()) {
      if (this.waiting.get(top.value)?.key === top.key) {
        oldest = Math.max(0, this.now() - top.key);
        break;
      }
      this.heap.pop();
    }
    return {
      queued: this.waiting.size,
      active: this.activeNames.size,
      completed: this.completedCount,
      failed: this.failedCount,
      oldestAgeMs: oldest,
    };
  }

  /** Records a waiting file (from an event or a scan). */
  private note(name: string, mtimeMs: number): void {
    if (this.waiting.get(name)?.raw === mtimeMs) return;
    this.wait(name, mtimeMs);
    this.pump();
  }

  private wait(name: string, mtimeMs: number): void {
    const key = Math.min(mtimeMs, this.now());
    this.waiting.set(name, { key, raw: mtimeMs });
    this.heap.push(key, name);
  }

  private forget(name: string): void {
    // The heap entry goes stale and is dropped when it reaches the top.
    this.waiting.delete(name);
  }

  private pump(): void {
    if (this.stopped || this.holding) return;
    const guard = this.props.mtimeGuardMs;
    const busy: { key: number; value: string }[] = [];
    while (this.running < this.props.concurrency) {
      const top = this.heap.peek();
      if (!top) break;
      const name = top.value;
      const entry = this.waiting.get(name);
      if (entry?.key !== top.key) {
        this.heap.pop(); // stale: rewritten, unlinked or already claimed
        continue;
      }
      const due = top.key + guard;
      const now = this.now();
      if (due > now) {
        this.schedule(due);
        break;
      }
      this.heap.pop();
      if (this.activeNames.has(name)) {
        // Same name still running: it waits rather than overwrite that file in the active folder.
        busy.push(top);
        continue;
      }
      this.waiting.delete(name);
      this.activeNames.add(name);
      this.running++;
      void this.claimAndRun(name, entry.raw);
    }
    for (const b of busy) this.heap.push(b.key, b.value);
    if (busy.length > 0) this.schedule(this.now() + BUSY_RETRY_MS);
  }

  private schedule(due: number): void {
    if (this.timer && this.timerDue <= due) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerDue = Infinity;
      this.pump();
    }, Math.max(0, due - this.now()));
  }

  private async claimAndRun(name: string, seenMtime: number): Promise<void> {
    const { folders, log } = this.props;
    const from = join(folders.queue, name);
    const to = join(folders.active, name);
    let claimed = false;
    try {
      const st = await stat(from);
      if ((st.mtimeMs !== seenMtime && st.mtimeMs + this.props.mtimeGuardMs > this.now()) || this.stopped) {
        // Rewritten since we saw it (or stopping): back to waiting with its current mtime.
        this.activeNames.delete(name);
        this.wait(name, st.mtimeMs);
        this.settle();
        return;
      }
      await rename(from, to);
      claimed = true;
    } catch (e) {
      this.activeNames.delete(name);
      // ENOENT: someone else took it, or it was deleted: not ours, nothing to do.
      if (!isErrno(e, 'ENOENT')) log.warn('queue claim failed', { file: name, error: describeError(e) });
    }
    if (!claimed) {
      this.settle();
      return;
    }
    const claim = new FolderClaim(this, name, to, this.now());
    try {
      await this.handler!(claim);
    } catch (e) {
      // The handler settles every claim itself; a throw here is a bug. The file stays in the
      // active folder and is requeued at the next start rather than retried in a loop.
      log.error('job handler threw; file left in the active folder', { file: name, error: describeError(e) });
    } finally {
      this.activeNames.delete(name);
      this.settle();
    }
  }

  private settle(): void {
    this.running--;
    if (this.running === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
    this.pump();
  }

  /** @internal moves used by FolderClaim */
  async moveOut(path: string, name: string, to: 'completed' | 'failed' | 'queue', hint?: string): Promise<string> {
    const dir = this.props.folders[to];
    const target = join(dir, await freeName(dir, name, hint));
    await rename(path, target);
    if (to === 'completed') this.completedCount++;
    else if (to === 'failed') this.failedCount++;
    else {
      const st = await stat(target).catch(() => undefined);
      if (st && !this.stopped) this.note(basename(target), st.mtimeMs);
    }
    return target;
  }

  private startWatcher(): void {
    const { folders, log } = this.props;
    try {
      const w = watch(folders.queue, { persistent: false }, (_event, filename) => {
        if (filename) this.onEvent(filename.toString());
      });
      w.on('error', (e) => {
        log.warn('queue watcher failed; the rescan keeps the queue going', { error: describeError(e) });
        w.close();
        if (this.watcher === w) this.watcher = undefined;
      });
      this.watcher = w;
    } catch (e) {
      log.warn('cannot watch the queue folder; relying on the rescan', { error: describeError(e) });
    }
  }

  private onEvent(name: string): void {
    if (this.stopped || !isJobFileName(name)) return;
    if (this.eventStats.has(name)) {
      this.eventStats.set(name, true);
      return;
    }
    this.eventStats.set(name, false);
    void stat(join(this.props.folders.queue, name)).then(
      (st) => this.afterEventStat(name, st.isFile() ? st.mtimeMs : undefined),
      () => this.afterEventStat(name, undefined),
    );
  }

  private afterEventStat(name: string, mtimeMs: number | undefined): void {
    const again = this.eventStats.get(name);
    this.eventStats.delete(name);
    if (this.stopped) return;
    if (mtimeMs === undefined) this.forget(name);
    else if (!this.activeNames.has(name)) this.note(name, mtimeMs);
    if (again) this.onEvent(name);
  }

  /** Full readdir of the queue folder; stats only the names not known yet. */
  private rescan(): Promise<void> {
    if (this.rescanning) return this.rescanning;
    this.rescanning = this.doRescan().finally(() => {
      this.rescanning = undefined;
    });
    return this.rescanning;
  }

  private async doRescan(): Promise<void> {
    const { folders, log } = this.props;
    if (!this.watcher && this.props.watch !== false && !this.stopped) this.startWatcher();
    let names: string[];
    try {
      names = await readdir(folders.queue);
    } catch (e) {
      log.warn('queue rescan failed', { error: describeError(e) });
      return;
    }
    const present = new Set<string>();
    const unknown: string[] = [];
    for (const name of names) {
      if (!isJobFileName(name)) continue;
      present.add(name);
      if (!this.waiting.has(name)) unknown.push(name);
    }
    for (const name of this.waiting.keys()) if (!present.has(name)) this.waiting.delete(name);
    for (let i = 0; i < unknown.length && !this.stopped; i += STAT_BATCH) {
      const batch = unknown.slice(i, i + STAT_BATCH);
      const stats = await Promise.all(batch.map((n) => stat(join(folders.queue, n)).catch(() => undefined)));
      batch.forEach((name, j) => {
        const st = stats[j];
        if (st?.isFile() && !this.activeNames.has(name)) this.note(name, st.mtimeMs);
      });
    }
  }

  private async requeueActive(): Promise<void> {
    const { folders, log } = this.props;
    for (const name of await readdir(folders.active)) {
      if (!isJobFileName(name)) continue;
      const target = await freeName(folders.queue, name, 'requeued');
      await rename(join(folders.active, name), join(folders.queue, target));
      log.info('requeued a job left active by a previous run', { file: name, as: target });
    }
  }

  private async cleanTemps(dir: string): Promise<void> {
    for (const name of await readdir(dir)) {
      if (isTempFileName(name)) await unlink(join(dir, name)).catch(() => undefined);
    }
  }
}

async function countJobs(dir: string): Promise<number> {
  let n = 0;
  for (const name of await readdir(dir)) if (isJobFileName(name)) n++;
  return n;
}

class FolderClaim implements Claim {
  settled = false;

  constructor(
    private readonly queue: FolderQueue,
    readonly name: string,
    readonly path: string,
    readonly claimedAt: number,
  ) {}

  read(): Promise<string> {
    return readFile(this.path, 'utf8');
  }

  async write(content: string): Promise<void> {
    this.assertOpen();
    await writeFileAtomic(this.path, content);
  }

  complete(hint?: string): Promise<string> {
    return this.settle('completed', hint);
  }

  fail(hint?: string): Promise<string> {
    return this.settle('failed', hint);
  }

  async release(): Promise<void> {
    await this.settle('queue');
  }

  private async settle(to: 'completed' | 'failed' | 'queue', hint?: string): Promise<string> {
    this.assertOpen();
    const target = await this.queue.moveOut(this.path, this.name, to, hint);
    this.settled = true;
    return target;
  }

  private assertOpen(): void {
    if (this.settled) throw new RuntimeError('INTERNAL', `claim on ${this.name} is already settled`, { hint: 'this is a bug in the worker: a claim is completed, failed or released once' });
  }
}
