import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, lstat, readFile, rename, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { RuntimeError, describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { errnoOf } from './files.js';

/*
 * One worker per vault queue: a lease file at the vault root (`<vault>/.runtime-lease-_queue.json`,
 * named after the queue folder), not inside the queue folder, which an operator or a sync may
 * delete and recreate while the worker runs.
 *
 * Why in the vault and not the data dir: two workers on one vault (a deploy overlap, a second
 * container, a second host) need not share a data dir, but they always share the vault. Syncthing
 * syncs the lease to the operator's other devices too: a worker there sees it after the sync
 * delay, so across devices the lease is best effort (the design runs one worker per vault, and
 * scale-out puts a broker behind the queue); on one host it is exact, because every step below is
 * one atomic filesystem operation on the local disk.
 *
 * - Acquire: write the owner record to a temp file, `link()` it to the lease name (fails if a
 *   lease exists; atomic).
 * - Heartbeat: the owner touches the lease's mtime every heartbeat (the content, the owner's
 *   identity, stays the same, so Syncthing sends a metadata change, not a new file) and checks
 *   the lease still names it; if not, it has lost the lease and stops claiming.
 * - Takeover: the owner is gone when it is on this host and boot and its pid is dead (or reused:
 *   the process start time differs), when it is on this host from an earlier boot, or when the
 *   lease's mtime has not moved for `staleBeats` heartbeats as timed by the waiter's own clock
 *   (no clock comparison across devices). The taker first `link()`s the lease to a name derived
 *   from the content it judged stale: only one taker can win that; it checks the linked content
 *   is still that stale owner, then renames its own record over the lease.
 */

export interface LeaseOwner {
  host: string;
  pid: number;
  /** /proc/<pid>/stat start time (clock ticks since boot), to tell a reused pid. */
  pidStart: string | null;
  bootId: string | null;
  startedAt: string;
  nonce: string;
  vault: string;
}

export interface QueueLeaseProps {
  /** The vault root; the lease file lives in it. */
  readonly dir: string;
  /** The queue folder (vault-relative), which the lease file is named after. */
  readonly queue: string;
  readonly heartbeatMs: number;
  /** Heartbeats missed before a lease from another host (or an unprovable owner) is stale. */
  readonly staleBeats: number;
  readonly log: Logger;
  /** Called once when another worker took the lease over (this one was judged gone). */
  readonly onLost?: (owner: LeaseOwner | undefined) => void;
}

/** The lease file name for a queue folder: a dotfile (never a job, hidden in Obsidian). */
export function leaseFileName(queue: string): string {
  return `.runtime-lease-${queue.replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 100)}.json`;
}

function readBootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
  } catch {
    return null;
  }
}

function readPidStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22, counted after the command name, which may itself hold spaces and parentheses.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function pidAlive(pid: number, start: string | null): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if (errnoOf(e) === 'ESRCH') return false;
  }
  if (start === null) return true;
  const now = readPidStart(pid);
  return now === null || now === start;
}

function parseOwner(raw: string): LeaseOwner | undefined {
  try {
    const o = JSON.parse(raw) as Partial<LeaseOwner>;
    if (typeof o.host === 'string' && typeof o.pid === 'number' && typeof o.nonce === 'string') return o as LeaseOwner;
  } catch {
    // an unreadable lease is judged by its heartbeat alone
  }
  return undefined;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((r) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      r();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

export class QueueLease {
  readonly path: string;
  readonly me: LeaseOwner;
  private readonly raw: string;
  private timer: NodeJS.Timeout | undefined;
  private held = false;
  private lost = false;
  private readonly lostListeners = new Set<(owner: LeaseOwner | undefined) => void>();

  constructor(private readonly props: QueueLeaseProps) {
    this.path = join(props.dir, leaseFileName(props.queue));
    this.me = {
      host: hostname(),
      pid: process.pid,
      pidStart: readPidStart(process.pid),
      bootId: readBootId(),
      startedAt: new Date().toISOString(),
      nonce: randomBytes(12).toString('hex'),
      vault: props.dir,
    };
    this.raw = `${JSON.stringify(this.me, null, 2)}\n`;
  }

  get isHeld(): boolean {
    return this.held && !this.lost;
  }

  /** Also calls `fn` when the lease is lost (besides the `onLost` prop); returns an unsubscribe function. */
  whenLost(fn: (owner: LeaseOwner | undefined) => void): () => void {
    this.lostListeners.add(fn);
    return () => this.lostListeners.delete(fn);
  }

  /** Why the current owner is gone, or undefined while it looks alive. Same host and boot: its pid decides at once. */
  private goneNow(owner: LeaseOwner | undefined): string | undefined {
    if (!owner || owner.host !== this.me.host || owner.bootId === null || this.me.bootId === null) return undefined;
    if (owner.bootId !== this.me.bootId) return 'its owner ran on this host before the last reboot';
    return pidAlive(owner.pid, owner.pidStart) ? undefined : `its owner (pid ${owner.pid}) is not running`;
  }

  /**
   * Waits until this worker holds the lease (logging who holds it meanwhile), or the signal
   * aborts (then throws QUEUE_LOCKED).
   */
  async acquire(signal?: AbortSignal): Promise<void> {
    const { log, heartbeatMs, staleBeats } = this.props;
    let seen: { key: string; mtimeMs: number; since: number } | undefined;
    let told = '';
    for (;;) {
      if (signal?.aborted) throw this.lockedError();
      if (await this.tryCreate()) break;
      let raw: string;
      let mtimeMs: number;
      try {
        raw = await readFile(this.path, 'utf8');
        mtimeMs = (await lstat(this.path)).mtimeMs;
      } catch (e) {
        if (errnoOf(e) === 'ENOENT') continue; // released meanwhile
        throw e;
      }
      const owner = parseOwner(raw);
      const now = performance.now();
      if (!seen || seen.key !== raw || seen.mtimeMs !== mtimeMs) seen = { key: raw, mtimeMs, since: now };
      const gone =
        this.goneNow(owner) ??
        (now - seen.since >= staleBeats * heartbeatMs ? `its heartbeat stopped ${Math.round(now - seen.since)} ms ago` : undefined);
      if (gone) {
        if (await this.takeOver(raw)) {
          log.warn('took over the queue lease', { lease: this.path, reason: gone, previous: owner ?? raw.slice(0, 200) });
          break;
        }
        continue;
      }
      const who = owner ? `${owner.host} pid ${owner.pid}` : 'an unreadable lease';
      if (told !== raw) {
        log.warn('another worker holds this vault queue; waiting for it to stop or miss its heartbeats', {
          lease: this.path,
          owner: owner ?? null,
          holder: who,
          staleAfterMs: staleBeats * heartbeatMs,
        });
        told = raw;
      }
      await sleep(Math.max(50, Math.floor(heartbeatMs / 2)), signal);
    }
    this.held = true;
    this.lost = false;
    this.timer = setInterval(() => void this.beat(), heartbeatMs);
    this.timer.unref();
    log.info('holding the queue lease', { lease: this.path, pid: this.me.pid, host: this.me.host });
  }

  /** Gives the lease up (only if it still names this worker). */
  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (!this.held) return;
    this.held = false;
    try {
      if ((await readFile(this.path, 'utf8')) === this.raw) await unlink(this.path);
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT') this.props.log.warn('could not release the queue lease', { lease: this.path, error: describeError(e) });
    }
  }

  private tempPath(tag: string): string {
    return join(this.props.dir, `.runtime-lease-${tag}-${this.me.nonce}-${randomBytes(4).toString('hex')}.tmp`);
  }

  private async tryCreate(): Promise<boolean> {
    const tmp = this.tempPath('new');
    await writeFile(tmp, this.raw, { flag: 'wx' });
    try {
      await link(tmp, this.path);
      return true;
    } catch (e) {
      if (errnoOf(e) === 'EEXIST') return false;
      throw e;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  private async takeOver(staleRaw: string): Promise<boolean> {
    const tomb = join(this.props.dir, `.runtime-lease-takeover-${createHash('sha256').update(staleRaw).digest('hex').slice(0, 16)}`);
    try {
      await link(this.path, tomb);
    } catch (e) {
      const code = errnoOf(e);
      if (code === 'ENOENT') return false; // released meanwhile: create it next round
      if (code !== 'EEXIST') throw e;
      // Another taker is at it, or one died half-way: clear a takeover marker older than a heartbeat.
      const st = await lstat(tomb).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > this.props.heartbeatMs) await unlink(tomb).catch(() => undefined);
      await sleep(50);
      return false;
    }
    try {
      if ((await readFile(tomb, 'utf8')) !== staleRaw) return false; // it changed hands meanwhile
      const tmp = this.tempPath('take');
      await writeFile(tmp, this.raw, { flag: 'wx' });
      await rename(tmp, this.path);
      return true;
    } finally {
      await unlink(tomb).catch(() => undefined);
    }
  }

  private async beat(): Promise<void> {
    if (!this.held || this.lost) return;
    let raw: string | undefined;
    try {
      raw = await readFile(this.path, 'utf8');
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT') {
        this.props.log.warn('queue lease heartbeat failed', { lease: this.path, error: describeError(e) });
        return;
      }
      // Deleted under us (a cleanup, a sync): nobody else holds it, so write it again.
      if (await this.tryCreate().catch(() => false)) {
        this.props.log.warn('the queue lease file was deleted; written again', { lease: this.path });
        return;
      }
      raw = await readFile(this.path, 'utf8').catch(() => undefined);
    }
    if (raw !== this.raw) {
      this.lost = true;
      if (this.timer) clearInterval(this.timer);
      this.timer = undefined;
      const owner = raw === undefined ? undefined : parseOwner(raw);
      this.props.log.error('lost the queue lease to another worker; no new jobs are claimed', { lease: this.path, owner: owner ?? null });
      this.props.onLost?.(owner);
      for (const fn of this.lostListeners) fn(owner);
      return;
    }
    const now = new Date();
    await utimes(this.path, now, now).catch((e: unknown) =>
      this.props.log.warn('queue lease heartbeat failed', { lease: this.path, error: describeError(e) }),
    );
  }

  private lockedError(): RuntimeError {
    return new RuntimeError('QUEUE_LOCKED', `another worker holds the lease on the queue ${this.props.queue} (${this.path})`);
  }
}
