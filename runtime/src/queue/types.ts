/*
 * The job queue contract. The vault folder queue implements it today; a broker (NATS JetStream
 * work queue) can implement it for workers on several hosts without the worker changing.
 */

/** A job file this worker holds. Exactly one of complete, fail or release ends the claim. */
export interface Claim {
  /** The file name as it was dropped into the queue, e.g. `summary.md`. */
  readonly name: string;
  /** Where the file is now (inside the active folder). */
  readonly path: string;
  /** Epoch ms when the file was claimed. */
  readonly claimedAt: number;
  /** True once complete, fail or release has moved the file. */
  readonly settled: boolean;
  /** The file as text (UTF-8 decoded; for display and tests, never written back). */
  read(): Promise<string>;
  /** The file's bytes: a regular file read without following links, within the size cap. */
  readBytes(): Promise<Buffer>;
  /** Replaces the file's content atomically; the file stays claimed. */
  write(content: string | Buffer): Promise<void>;
  /** Appends bytes in place (for a file too large to read whole); the file stays claimed. */
  append(bytes: Buffer): Promise<void>;
  /** Moves the file to the completed folder; returns its new path. `hint` disambiguates names. */
  complete(hint?: string): Promise<string>;
  /** Moves the file to the failed folder; returns its new path. */
  fail(hint?: string): Promise<string>;
  /** Returns the file to the queue, to be claimed again, not before `delayMs` from now. */
  release(delayMs?: number): Promise<void>;
}

export type ClaimHandler = (claim: Claim) => Promise<void>;

export interface QueueStats {
  /** Files waiting in the queue folder (as far as the queue knows). */
  queued: number;
  active: number;
  completed: number;
  failed: number;
  /** Age in ms of the oldest waiting file, 0 when none. */
  oldestAgeMs: number;
}

export interface JobQueue {
  /** Prepares the folders, requeues what a previous run left active, starts claiming. */
  start(handler: ClaimHandler): Promise<void>;
  /** Stops claiming new files. Handlers already running carry on. */
  stop(): Promise<void>;
  /** Resolves when no handler is running. */
  idle(): Promise<void>;
  stats(): QueueStats;
}
