/*
 * A virtual clock for code that takes an injected clock: `sleep` moves time on at once, so a
 * test of waits (token buckets, backoffs, retry-after) runs in no real time and reads the waits
 * off the clock instead of the wall.
 */

export interface VirtualClock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Every sleep asked for, in ms, in order. */
  readonly sleeps: number[];
  advance(ms: number): void;
}

export function virtualClock(start = 0): VirtualClock {
  let t = start;
  const sleeps: number[] = [];
  return {
    now: () => t,
    async sleep(ms, signal) {
      if (signal?.aborted) return;
      sleeps.push(ms);
      t += ms;
      // Yield like a timer would, so other work interleaves.
      await new Promise<void>((r) => setImmediate(r));
    },
    sleeps,
    advance(ms) {
      t += ms;
    },
  };
}
