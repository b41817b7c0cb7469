import type { JobType } from '../jobs/schema.js';

/*
 * Job outcomes as notices: one vocabulary for whoever reports them (the worker, later the web
 * service) and whoever tells people (the Discord notifier). A type-only module, so services
 * import it without loading a notifier.
 */

interface JobNoticeBase {
  /** The job file's name as dropped into the queue. */
  name: string;
  jobId?: string;
  type?: JobType;
  model?: string;
}

/** A finished job. */
export interface JobNotice extends JobNoticeBase {
  status: 'completed' | 'failed';
  /** Vault-relative output path. */
  output?: string;
  durationMs: number;
  tokensIn?: number;
  tokensOut?: number;
  error?: { code: string; message: string; hint?: string };
  /** ISO instant before which the notice is not sent (a schedule's quiet hours). */
  notBefore?: string;
}

/** A job waiting out a provider's rate limit. */
export interface JobHeldNotice extends JobNoticeBase {
  status: 'held';
  model: string;
  provider?: string;
  /** How long until the retry: the provider's hint when it gave one, else the router's backoff. */
  retryAfterMs?: number;
  /** 1 for the first retry. */
  attempt?: number;
  maxRetries?: number;
}

/** What a job reporter needs from a notifier. Calls are never awaited by a job. */
export interface JobNotifier {
  jobCompleted(notice: JobNotice): Promise<unknown> | void;
  jobFailed(notice: JobNotice): Promise<unknown> | void;
  jobHeld?(notice: JobHeldNotice): Promise<unknown> | void;
}
