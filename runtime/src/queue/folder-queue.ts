import { constants, lstatSync, watch, type FSWatcher, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { RuntimeError, describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { appendToRegularFile, readRegularFile } from '../vault/files.js';
import { MAX_FRONTMATTER_CHARS, frontmatterComplete } from '../vault/frontmatter.js';
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
 * A file is claimed only after two observations at least the settle time (`mtimeGuardMs`) apart
 * agree on its size and mtime, its mtime is that old, and, when it opens a frontmatter block,
 * the block is closed: a writer that stops half-way through the frontmatter is waited for (up
 * to `incompleteWaitMs`, then the parser fails it with the reason). A writer that pauses longer
 * than the settle time in the body cannot be told from a finished one; such writers should
 * write elsewhere and rename into the queue, as Syncthing does.
 *
 * Entries that are not regular files (links, FIFOs, folders) are never opened: they are moved,
 * as they are, to the failed folder with a log line. A link is renamed, so its target is not
 * touched or read.
 *
 * The queue folder itself may be deleted and recreated (a sync, a careless cleanup): its inode
 * is checked every second and the watch re-armed on the new folder.
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
  /** Largest job file a claim reads, in bytes. */
  readonly maxFileBytes?: number;
  /** How long a file with an open frontmatter block is waited for (default 60 s). */
  readonly incompleteWaitMs?: number;
  /** Clock, for tests. */
  readonly now?: () => number;
}

const STAT_BATCH = 64;
/** How often the queue folder's identity is checked (deleted, recreated, replaced by a link). */
const DIR_CHECK_MS = 1_000;
/** Bytes read to see whether a frontmatter block is closed. */
const HEAD_BYTES = MAX_FRONTMATTER_CHARS + 1024;
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
  private readonly waiting = new Map<string, Waiting>();
  /** Names whose frontmatter was not closed yet, and since when. */
  private readonly incomplete = new Map<string, number>();
  private dirTimer: NodeJS.Timeout | undefined;
  /** The identity (inode and birth time) of the queue folder being watched; undefined while it is gone. */
  private watchedIno: string | undefined;
  private dirGoneLogged = false;
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
      throw new RuntimeError('CONFIG_INVALID', `queue concurrency must be a positive integer, got ${props.concurrency}`, {
        hint: 'set vault.worker.concurrency in platform.yaml to 1 or more and run `make render`',
      });
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
    if (this.props.watch !== false) {
      this.dirTimer = setInterval(() => void this.checkDir(), DIR_CHECK_MS);
      this.dirTimer.unref();
    }
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
    if (this.dirTimer) clearInterval(this.dirTimer);
    this.dirTimer = undefined;
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
  private note(name: string, st: Observed): void {
    const w = this.waiting.get(name);
    if (w && w.raw === st.mtimeMs && w.size === st.size) return;
    this.wait(name, st);
    this.pump();
  }

  private wait(name: string, st: Observed, notBefore = 0): void {
    const now = this.now();
    const key = Math.min(st.mtimeMs, now);
    this.waiting.set(name, { key, raw: st.mtimeMs, size: st.size, seenAt: now, notBefore, regular: st.regular });
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
      // Due once its mtime is old enough, it was first seen a settle time ago, and any retry delay passed.
      const due = Math.max(top.key + guard, entry.seenAt + guard, entry.notBefore);
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
      void this.claimAndRun(name, entry);
    }
    for (const b of busy) this.heap.push(b.key, b.value);
    if (busy.length > 0) this.schedule(this.now() + BUSY_RETRY_MS);
  }

  private schedule(due: number): void {
    if (this.timer && this.timerDue <= due) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerDue = Infinity;
        this.pump();
      },
      Math.max(0, due - this.now()),
    );
  }

  private async claimAndRun(name: string, seen: Waiting): Promise<void> {
    const { folders, log } = this.props;
    const from = join(folders.queue, name);
    const to = join(folders.active, name);
    let claimed = false;
    try {
      const st = await lstat(from);
      if (this.stopped) {
        this.backToWaiting(name, observed(st));
        return;
      }
      if (!st.isFile()) {
        await this.refuse(name, st);
        this.activeNames.delete(name);
        this.settle();
        return;
      }
      if (st.mtimeMs !== seen.raw || st.size !== seen.size) {
        // Changed since the first observation: observe again, a settle time from now.
        this.backToWaiting(name, observed(st));
        return;
      }
      if (!(await this.headComplete(from, name))) {
        this.activeNames.delete(name);
        this.wait(name, observed(st), this.now() + this.props.mtimeGuardMs);
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
    this.incomplete.delete(name);
    const claim = new FolderClaim(this, name, to, this.now(), this.props.maxFileBytes ?? Number.MAX_SAFE_INTEGER);
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

  private backToWaiting(name: string, st: Observed): void {
    this.activeNames.delete(name);
    this.wait(name, st);
    this.settle();
  }

  /**
   * False while the file opens a frontmatter block that is not closed yet, for at most
   * `incompleteWaitMs` since first seen so; after that it is claimed and fails with the reason.
   */
  private async headComplete(path: string, name: string): Promise<boolean> {
    let head: Buffer;
    try {
      const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      try {
        const buf = Buffer.alloc(HEAD_BYTES);
        const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
        head = buf.subarray(0, bytesRead);
      } finally {
        await fh.close();
      }
    } catch {
      return true; // unreadable: the claim reads it again and fails it with the reason
    }
    if (head.length >= HEAD_BYTES || frontmatterComplete(head)) return true;
    const waitMax = this.props.incompleteWaitMs ?? INCOMPLETE_WAIT_MS;
    const first = !this.incomplete.has(name);
    const since = this.incomplete.get(name) ?? this.now();
    this.incomplete.set(name, since);
    if (this.now() - since >= waitMax) {
      this.incomplete.delete(name);
      return true;
    }
    if (first)
      this.props.log.info('queued file opens a frontmatter block that is not closed yet; waiting for the writer', {
        file: name,
        maxWaitMs: waitMax,
      });
    return false;
  }

  /** Moves a queue entry that is not a regular file to the failed folder as it is (a link is not followed). */
  private async refuse(name: string, st: Stats): Promise<void> {
    const { folders, log } = this.props;
    const kind = st.isSymbolicLink() ? 'link' : st.isFIFO() ? 'fifo' : st.isDirectory() ? 'folder' : 'special';
    try {
      const target = join(folders.failed, await freeName(folders.failed, name, 'refused'));
      await rename(join(folders.queue, name), target);
      this.failedCount++;
      if (kind === 'link') {
        log.warn('refused a symbolic link in the queue: moved the link itself to the failed folder, its target was not read', {
          file: name,
          to: target,
        });
      } else {
        log.warn(`refused a queue entry that is not a regular file (${kind}): moved it to the failed folder unread`, {
          file: name,
          kind,
          to: target,
        });
      }
    } catch (e) {
      if (!isErrno(e, 'ENOENT'))
        log.warn('could not move a refused queue entry; it is ignored', { file: name, kind, error: describeError(e) });
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

  /** @internal moves used by FolderClaim; `delayMs` holds a file returned to the queue back that long. */
  async moveOut(path: string, name: string, to: 'completed' | 'failed' | 'queue', hint?: string, delayMs = 0): Promise<string> {
    const dir = this.props.folders[to];
    const target = join(dir, await freeName(dir, name, hint));
    await rename(path, target);
    if (to === 'completed') this.completedCount++;
    else if (to === 'failed') this.failedCount++;
    else {
      const st = await lstat(target).catch(() => undefined);
      if (st && !this.stopped) {
        this.wait(basename(target), observed(st), delayMs > 0 ? this.now() + delayMs : 0);
        this.pump();
      }
    }
    return target;
  }

  private startWatcher(): void {
    const { folders, log } = this.props;
    try {
      const ino = statIdentity(folders.queue);
      const self = basename(folders.queue);
      const w = watch(folders.queue, { persistent: false }, (_event, filename) => {
        const name = filename?.toString();
        // The folder itself was deleted or moved (inotify names it): this watch is dead.
        if (!name || name === self) void this.checkDir();
        if (name) this.onEvent(name);
      });
      w.on('error', (e) => {
        log.warn('queue watcher failed; the rescan keeps the queue going', { error: describeError(e) });
        w.close();
        if (this.watcher === w) {
          this.watcher = undefined;
          this.watchedIno = undefined;
        }
      });
      this.watcher = w;
      this.watchedIno = ino;
    } catch (e) {
      log.warn('cannot watch the queue folder; relying on the rescan', { error: describeError(e) });
    }
  }

  /**
   * The watch follows an inode: when the queue folder is deleted and made again, the old watch
   * hears nothing more. Re-arm it on the new folder and rescan.
   */
  private async checkDir(): Promise<void> {
    if (this.stopped || this.props.watch === false) return;
    const { folders, log } = this.props;
    const st = await lstat(folders.queue).catch(() => undefined);
    if (this.stopped) return;
    if (st && st.isDirectory() && dirIdentity(st) === this.watchedIno && this.watcher) return;
    if (this.watcher) {
      this.watcher.close();
      this.watcher = undefined;
      this.watchedIno = undefined;
    }
    if (!st || !st.isDirectory()) {
      if (!this.dirGoneLogged) {
        log.warn(
          st?.isSymbolicLink()
            ? 'the queue folder was replaced by a symbolic link; it is not read until it is a real folder again'
            : 'the queue folder is gone; waiting for it to come back',
          { folder: folders.queue },
        );
        this.dirGoneLogged = true;
      }
      return;
    }
    this.dirGoneLogged = false;
    this.startWatcher();
    if (this.watcher) log.info('queue folder replaced; watch re-armed', { folder: folders.queue });
    await this.rescan();
  }

  private onEvent(name: string): void {
    if (this.stopped || !isJobFileName(name)) return;
    if (this.eventStats.has(name)) {
      this.eventStats.set(name, true);
      return;
    }
    this.eventStats.set(name, false);
    void lstat(join(this.props.folders.queue, name)).then(
      (st) => this.afterEventStat(name, observed(st)),
      () => this.afterEventStat(name, undefined),
    );
  }

  private afterEventStat(name: string, st: Observed | undefined): void {
    const again = this.eventStats.get(name);
    this.eventStats.delete(name);
    if (this.stopped) return;
    if (st === undefined) this.forget(name);
    else if (!this.activeNames.has(name)) this.note(name, st);
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
    if (!this.watcher && this.props.watch !== false && !this.stopped) await this.checkDir();
    let names: string[];
    try {
      // Never list through a link: a queue folder replaced by one is not read.
      if ((await lstat(folders.queue)).isSymbolicLink()) return;
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
      const stats = await Promise.all(batch.map((n) => lstat(join(folders.queue, n)).catch(() => undefined)));
      batch.forEach((name, j) => {
        const st = stats[j];
        if (st && !this.activeNames.has(name)) this.note(name, observed(st));
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

interface Observed {
  mtimeMs: number;
  size: number;
  regular: boolean;
}

interface Waiting {
  /** Heap key: the mtime, or when first seen if the mtime is in the future. */
  key: number;
  /** The mtime and size last observed. */
  raw: number;
  size: number;
  /** When this mtime and size were first observed. */
  seenAt: number;
  /** Not claimed before this time (a storage retry's backoff). */
  notBefore: number;
  regular: boolean;
}

/** Default longest wait for a writer to close a frontmatter block it opened. */
const INCOMPLETE_WAIT_MS = 60_000;

function observed(st: Stats): Observed {
  return { mtimeMs: st.mtimeMs, size: st.size, regular: st.isFile() };
}

/** Inode and birth time: an inode number alone may be reused by a folder made right after. */
function dirIdentity(st: Stats): string {
  return `${st.ino}:${st.birthtimeMs}`;
}

function statIdentity(path: string): string | undefined {
  try {
    return dirIdentity(lstatSync(path));
  } catch {
    return undefined;
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
    private readonly maxBytes: number,
  ) {}

  /** The file's bytes: a regular file, not through a link, at most the size cap. */
  readBytes(): Promise<Buffer> {
    return readRegularFile(this.path, { maxBytes: this.maxBytes });
  }

  async read(): Promise<string> {
    return (await this.readBytes()).toString('utf8');
  }

  async write(content: string | Buffer): Promise<void> {
    this.assertOpen();
    await writeFileAtomic(this.path, content);
  }

  async append(bytes: Buffer): Promise<void> {
    this.assertOpen();
    await appendToRegularFile(this.path, bytes);
  }

  complete(hint?: string): Promise<string> {
    return this.settle('completed', hint);
  }

  fail(hint?: string): Promise<string> {
    return this.settle('failed', hint);
  }

  async release(delayMs?: number): Promise<void> {
    await this.settle('queue', undefined, delayMs);
  }

  private async settle(to: 'completed' | 'failed' | 'queue', hint?: string, delayMs?: number): Promise<string> {
    this.assertOpen();
    const target = await this.queue.moveOut(this.path, this.name, to, hint, delayMs);
    this.settled = true;
    return target;
  }

  private assertOpen(): void {
    if (this.settled)
      throw new RuntimeError('INTERNAL', `claim on ${this.name} is already settled`, {
        hint: 'this is a bug in the worker: a claim is completed, failed or released once',
      });
  }
}
