import { RuntimeError } from '../errors.js';
import { formatMs } from '../providers/retry-hint.js';
import type { ChatMode } from './types.js';

/*
 * Rate-limit retries. Only a job retries, and only a refusal before any text went out (a retry
 * after text would repeat it); the wait is the provider's hint or an exponential backoff, within
 * the provider's retry count and total wait budget.
 */

export interface RetryBudget {
  retries: number;
  maxRetryWaitMs: number;
}

export interface RetryState {
  mode: ChatMode;
  /** 0 for the first call. */
  attempt: number;
  /** Whether the failed stream had already yielded events. */
  yielded: boolean;
  /** Total wait so far, in ms. */
  waitedMs: number;
}

/** How long to wait before retrying a rate-limited call; throws the final error when it must not be retried. */
export function retryWait(err: RuntimeError, budget: RetryBudget, s: RetryState): number {
  if (s.mode !== 'job' || s.yielded) throw rateLimited(err, s.mode === 'job' ? 'the stream had already started' : undefined);
  if (s.attempt >= budget.retries) throw rateLimited(err, `gave up after ${budget.retries} retr${budget.retries === 1 ? 'y' : 'ies'}`);
  const waitMs = err.retryAfterMs ?? Math.min(1000 * 2 ** s.attempt, budget.maxRetryWaitMs);
  if (s.waitedMs + waitMs > budget.maxRetryWaitMs) {
    throw rateLimited(err, `waiting ${formatMs(waitMs)} more would pass the ${formatMs(budget.maxRetryWaitMs)} retry budget`);
  }
  return waitMs;
}

function rateLimited(err: RuntimeError, why?: string): RuntimeError {
  return new RuntimeError('PROVIDER_RATE_LIMITED', why ? `${err.message} (${why})` : err.message, {
    hint: err.hint || 'retry later',
    httpStatus: err.httpStatus === 503 ? 503 : 429,
    ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}),
    cause: err,
  });
}

/** Resolves true after `ms`, false if the signal aborted first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      resolve(false);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
