import { resolve } from 'node:path';
import type { RuntimeConfig } from '../config/index.js';
import { describeError, isRuntimeError } from '../errors.js';
import { JobLedger } from '../jobs/ledger.js';
import { JobProcessor, type JobOutcome } from '../jobs/process.js';
import type { ChatRouter } from '../jobs/execute.js';
import type { JobType } from '../jobs/schema.js';
import type { Logger } from '../log.js';
import type { ResearchSettings } from '../mcp/research.js';
import { FolderQueue } from '../queue/folder-queue.js';
import type { JobQueue, QueueStats } from '../queue/types.js';
import { SkillRegistry } from '../skills/registry.js';
import type { RateLimitNotice } from '../router/index.js';
import type { UsageRecorder } from '../store/usage.js';
import type { Metrics } from '../telemetry/metrics.js';
import { openVaultLayout } from '../vault/files.js';
import { QueueLease } from '../vault/lease.js';

/*
 * The worker service: claims job files from the vault queue, runs them with bounded
 * concurrency, records completions, tells Discord, and shuts down without losing a job.
 */

export type WorkerConfig = Pick<RuntimeConfig, 'vault' | 'dataDir'> & { routing: Pick<RuntimeConfig['routing'], 'default'> };

/** A finished job, as the notifier hears of it. */
export interface JobNotice {
  name: string;
  jobId?: string;
  type?: JobType;
  model?: string;
  status: JobOutcome['status'];
  /** Vault-relative output path. */
  output?: string;
  durationMs: number;
  tokensIn: number;
  tokensOut: number;
  error?: { code: string; message: string; hint?: string };
}

/** A job waiting out a provider's rate limit. */
export interface JobHeldNotice {
  name: string;
  jobId: string;
  model: string;
  provider?: string;
  /** How long until the retry: the provider's hint when it gave one, else the router's backoff. */
  retryAfterMs?: number;
  attempt?: number;
  maxRetries?: number;
}

/** What the worker needs from the Discord notifier. Calls are never awaited by a job. */
export interface JobNotifier {
  jobCompleted(notice: JobNotice): Promise<unknown> | void;
  jobFailed(notice: JobNotice): Promise<unknown> | void;
  jobHeld?(notice: JobHeldNotice): Promise<unknown> | void;
}

export type WorkerMetrics = Pick<Metrics, 'add' | 'record' | 'set'>;

export interface WorkerDeps {
  readonly config: WorkerConfig;
  readonly router: ChatRouter;
  readonly notifier?: JobNotifier;
  /**
   * Accepted so one deps object serves every service; provider calls are recorded by the router
   * (it is given the same store and the job id), so the worker writes no rows itself.
   */
  readonly usage?: UsageRecorder;
  readonly log: Logger;
  readonly metrics?: WorkerMetrics;
  /** Ledger location; `<dataDir>/jobs.db` by default. */
  readonly ledgerPath?: string;
  /** Watch the queue folder (fs.watch) and the skills folder (chokidar); default true. Rescans run either way. */
  readonly watch?: boolean;
  /** How often the queue gauges are refreshed. */
  readonly gaugeIntervalMs?: number;
  /** Called after every job, for tests and benchmarks. */
  readonly onOutcome?: (outcome: JobOutcome) => void;
  /** The MCP tool server research jobs use; without it they fail with MCP_UNAVAILABLE. */
  readonly research?: ResearchSettings;
}

export interface Worker {
  start(): Promise<void>;
  /** Stops claiming, lets running jobs finish within graceMs, then aborts and requeues them. */
  stop(): Promise<void>;
  stats(): QueueStats;
}

export function createWorker(deps: WorkerDeps): Worker {
  const { config, log, metrics } = deps;
  const vault = config.vault;
  const vaultPath = resolve(vault.path);
  const running = new Set<AbortController>();
  /** Aborts a start still waiting for the queue lease. */
  const starting = new AbortController();
  let lease: QueueLease | undefined;
  let ledger: JobLedger | undefined;
  let skills: SkillRegistry | undefined;
  let queue: JobQueue | undefined;
  let gaugeTimer: NodeJS.Timeout | undefined;
  let state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  let stopping: Promise<void> | undefined;

  const background = (what: string, fn: () => unknown): void => {
    // Notices never hold up a job: fire, and log if it fails.
    void Promise.resolve()
      .then(fn)
      .catch((e: unknown) => log.warn(`${what} failed`, { error: describeError(e) }));
  };

  const updateGauges = (): void => {
    if (!metrics || !queue) return;
    const s = queue.stats();
    metrics.set('platform_queue_depth', s.queued, { folder: 'queue' });
    metrics.set('platform_queue_depth', s.active, { folder: 'active' });
    metrics.set('platform_queue_depth', s.completed, { folder: 'completed' });
    metrics.set('platform_queue_depth', s.failed, { folder: 'failed' });
    metrics.set('platform_queue_oldest_age_seconds', s.oldestAgeMs / 1000, {});
  };

  const report = (o: JobOutcome): void => {
    const fields = { file: o.name, jobId: o.jobId, type: o.type, model: o.model, durationMs: o.durationMs, output: o.output, to: o.finalPath };
    if (o.status === 'failed') log.warn('job failed', { ...fields, error: o.error });
    else log.info(`job ${o.status}`, fields);
    if (o.status !== 'requeued') {
      metrics?.add('platform_jobs_total', 1, { type: o.type ?? 'unknown', outcome: o.status });
      metrics?.record('platform_job_duration_seconds', o.durationMs / 1000, { type: o.type ?? 'unknown', outcome: o.status });
    }
    updateGauges();
    deps.onOutcome?.(o);
    const notifier = deps.notifier;
    if (!notifier || !o.notify || (o.status !== 'completed' && o.status !== 'failed')) return;
    const notice: JobNotice = {
      name: o.name,
      status: o.status,
      durationMs: o.durationMs,
      tokensIn: o.tokensIn,
      tokensOut: o.tokensOut,
      ...(o.jobId ? { jobId: o.jobId } : {}),
      ...(o.type ? { type: o.type } : {}),
      ...(o.model ? { model: o.model } : {}),
      ...(o.output ? { output: o.output } : {}),
      ...(o.error ? { error: { code: o.error.code, message: o.error.message, ...(o.error.hint ? { hint: o.error.hint } : {}) } } : {}),
    };
    if (o.status === 'completed') background('job notice', () => notifier.jobCompleted(notice));
    else background('job failure notice', () => notifier.jobFailed(notice));
  };

  const onRateLimited = (job: { name: string; jobId: string }, n: RateLimitNotice): void => {
    log.warn('job held: provider rate limit', { file: job.name, jobId: job.jobId, model: n.model, attempt: n.attempt, waitMs: n.waitMs, retryAfterMs: n.retryAfterMs });
    const notifier = deps.notifier;
    if (!notifier?.jobHeld) return;
    const notice: JobHeldNotice = {
      name: job.name,
      jobId: job.jobId,
      model: n.model,
      provider: n.provider,
      retryAfterMs: n.retryAfterMs ?? n.waitMs,
      attempt: n.attempt,
      maxRetries: n.maxRetries,
    };
    background('job held notice', () => notifier.jobHeld?.(notice));
  };

  const startParts = async (): Promise<void> => {
    // Every layout folder is a real folder inside the vault before anything reads or moves files.
    const layout = await openVaultLayout(vaultPath, vault.folders);
    const folder = (f: keyof typeof vault.folders): string => layout.folders[f]!;
    const w = vault.worker;
    ledger = new JobLedger(deps.ledgerPath ?? resolve(config.dataDir, 'jobs.db'));
    skills = new SkillRegistry({ dir: folder('skills'), log: log.child({ component: 'skills' }), watch: deps.watch !== false, maxBytes: w.maxJobBytes });
    await skills.start();
    // One worker per queue: wait for the lease before requeueing what a previous owner left active.
    lease = new QueueLease({
      dir: layout.root,
      queue: vault.folders.queue,
      heartbeatMs: w.leaseHeartbeatMs,
      staleBeats: w.leaseStaleHeartbeats,
      log: log.child({ component: 'lease' }),
      onLost: () => void queue?.stop(),
    });
    await lease.acquire(starting.signal);
    const processor = new JobProcessor({
      vaultPath: layout.root,
      limits: {
        maxChainSteps: w.maxChainSteps,
        maxAnswerChars: w.maxAnswerChars,
        firstTokenTimeoutMs: w.firstTokenTimeoutMs,
        idleTimeoutMs: w.idleTimeoutMs,
        jobTimeoutMs: w.jobTimeoutMs,
        ioRetries: w.ioRetries,
        ioRetryBackoffMs: w.ioRetryBackoffMs,
      },
      outputsFolder: vault.folders.outputs,
      ledger,
      router: deps.router,
      skills,
      defaultModel: config.routing.default,
      log,
      onRateLimited,
      ...(deps.research ? { research: deps.research } : {}),
    });
    await processor.prepare();
    queue = new FolderQueue({
      folders: {
        queue: folder('queue'),
        active: folder('active'),
        completed: folder('completed'),
        failed: folder('failed'),
      },
      maxFileBytes: w.maxJobBytes,
      incompleteWaitMs: w.incompleteWaitMs,
      concurrency: vault.worker.concurrency,
      mtimeGuardMs: vault.worker.mtimeGuardMs,
      rescanMs: vault.worker.rescanMs,
      log: log.child({ component: 'queue' }),
      watch: deps.watch !== false,
    });
    await queue.start(async (claim) => {
      const ac = new AbortController();
      running.add(ac);
      try {
        report(await processor.process(claim, ac.signal));
      } catch (e) {
        // Even filing the failure failed (disk full, folder gone): the file stays where it is,
        // in the active folder at worst, and the next start requeues it.
        log.error('job could not be processed', { file: claim.name, error: describeError(e) });
      } finally {
        running.delete(ac);
      }
    });
  };

  let startDone: Promise<void> | undefined;
  return {
    async start() {
      if (state !== 'new') return;
      state = 'running';
      let finishStart: () => void = () => undefined;
      startDone = new Promise((r) => (finishStart = r));
      try {
        await startParts();
      } catch (e) {
        // Half started: release what did start, so the process can exit with the error.
        const stoppedWhileWaiting = starting.signal.aborted && isRuntimeError(e, 'QUEUE_LOCKED');
        state = 'stopped';
        await queue?.stop().catch(() => undefined);
        await skills?.stop().catch(() => undefined);
        await lease?.release().catch(() => undefined);
        ledger?.close();
        finishStart();
        if (stoppedWhileWaiting) {
          log.info('worker stopped while waiting for the queue lease');
          return;
        }
        throw e;
      }
      finishStart();
      if (metrics) {
        updateGauges();
        gaugeTimer = setInterval(updateGauges, deps.gaugeIntervalMs ?? 5_000);
        gaugeTimer.unref();
      }
      log.info('worker started', { vault: vaultPath, concurrency: vault.worker.concurrency });
    },

    stop() {
      if (stopping) return stopping;
      if (state !== 'running') {
        state = 'stopped';
        return Promise.resolve();
      }
      state = 'stopping';
      stopping = (async () => {
        if (!queue) {
          // Still starting (waiting for the lease): give up the wait; start() cleans up.
          starting.abort();
          await startDone;
          if (!queue) {
            state = 'stopped';
            return;
          }
        }
        const q: JobQueue = queue;
        await q.stop();
        const graceMs = vault.worker.graceMs;
        let graceTimer: NodeJS.Timeout | undefined;
        const graceOver = new Promise<'timeout'>((r) => {
          graceTimer = setTimeout(() => r('timeout'), graceMs);
        });
        const first = await Promise.race([q.idle().then(() => 'idle' as const), graceOver]);
        clearTimeout(graceTimer);
        if (first === 'timeout') {
          log.warn('grace period over: aborting running jobs, they go back to the queue', { running: running.size, graceMs });
          for (const ac of running) ac.abort();
          await q.idle();
        }
        if (gaugeTimer) clearInterval(gaugeTimer);
        updateGauges();
        await skills?.stop();
        await lease?.release();
        ledger?.close();
        state = 'stopped';
        log.info('worker stopped');
      })();
      return stopping;
    },

    stats() {
      return queue ? queue.stats() : { queued: 0, active: 0, completed: 0, failed: 0, oldestAgeMs: 0 };
    },
  };
}

export interface RunWorkerOptions {
  /** Signals that start a graceful shutdown (default SIGTERM and SIGINT). */
  readonly signals?: readonly NodeJS.Signals[];
}

/** Runs the worker until SIGTERM or SIGINT, then shuts down gracefully; resolves when done. */
export async function runWorker(deps: WorkerDeps, opts: RunWorkerOptions = {}): Promise<void> {
  const worker = createWorker(deps);
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  let onSignal: ((s: NodeJS.Signals) => void) | undefined;
  const stopped = new Promise<void>((resolveStopped) => {
    onSignal = (s) => {
      deps.log.info('shutdown requested', { signal: s });
      void worker.stop().then(resolveStopped, (e: unknown) => {
        deps.log.error('shutdown failed', { error: describeError(e) });
        resolveStopped();
      });
    };
  });
  for (const s of signals) process.once(s, onSignal!);
  try {
    await worker.start();
    await stopped;
  } finally {
    for (const s of signals) process.removeListener(s, onSignal!);
  }
}
