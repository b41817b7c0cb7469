import { resolve } from 'node:path';
import type { RuntimeConfig } from '../config/index.js';
import { describeError, isRuntimeError } from '../errors.js';
import type { AgentServices } from '../agents/index.js';
import type { JobLedger } from '../jobs/ledger.js';
import { DeferredNotifier } from '../notify/deferred.js';
import { JobProcessor, type JobExecutor, type JobOutcome } from '../jobs/process.js';
import type { ChatRouter } from '../jobs/execute.js';
import type { JobHeldNotice, JobNotice, JobNotifier } from '../notify/notices.js';
import type { Logger } from '../log.js';
import type { ResearchSettings } from '../mcp/research.js';
import { ScheduleLedger } from '../schedule/ledger.js';
import { Scheduler, type UpcomingRuns } from '../schedule/scheduler.js';
import type { JobQueue, QueueStats } from '../queue/types.js';
import type { SkillRegistry } from '../skills/registry.js';
import type { RateLimitNotice, Router } from '../router/index.js';
import type { UsageStore } from '../store/usage.js';
import type { Metrics } from '../telemetry/metrics.js';

/*
 * The worker service: claims jobs from the queue it is given, runs them with bounded
 * concurrency, records completions, tells the notifier, and shuts down without losing a job.
 * Its queue, ledger and skill registry are built by the composition root (services/worker.ts,
 * or openWorkerParts() for the vault folder queue) so another queue can take the folder's place.
 */

export type WorkerConfig = Pick<RuntimeConfig, 'vault' | 'dataDir'> & { routing: Pick<RuntimeConfig['routing'], 'default'> } & Partial<
    Pick<RuntimeConfig, 'schedules'>
  >;

export type { JobHeldNotice, JobNotice, JobNotifier } from '../notify/notices.js';

export type WorkerMetrics = Pick<Metrics, 'add' | 'record' | 'set'>;

/** Held while the worker runs, so one worker serves a queue; released on stop. */
export interface WorkerLease {
  acquire(signal?: AbortSignal): Promise<void>;
  release(): Promise<void>;
  /** Calls `fn` if the lease is lost to another worker. */
  whenLost(fn: () => void): unknown;
}

/** What the worker runs on. The worker owns them once given: it starts and stops them and closes the ledger. */
export interface WorkerParts {
  /** The vault root as resolved (real path): outputs are written under it. */
  readonly vaultRoot: string;
  readonly queue: JobQueue;
  readonly ledger: JobLedger;
  readonly skills: SkillRegistry;
  /** Taken before the queue starts (which requeues what a previous owner left active). */
  readonly lease?: WorkerLease;
}

export interface WorkerDeps extends WorkerParts {
  readonly config: WorkerConfig;
  /** Runs the jobs in this process; not needed with an executor. */
  readonly router?: ChatRouter;
  /** Runs each claimed job elsewhere (the JetStream gateway): this worker only claims and settles. */
  readonly executor?: JobExecutor;
  readonly notifier?: JobNotifier;
  readonly log: Logger;
  readonly metrics?: WorkerMetrics;
  /** How often the queue gauges are refreshed. */
  readonly gaugeIntervalMs?: number;
  /** Called after every job, for tests and benchmarks. */
  readonly onOutcome?: (outcome: JobOutcome) => void;
  /** The scheduler's clock, for tests. */
  readonly now?: () => number;
  /** Token spend by model, for the briefing agent's templates. */
  readonly spend?: Pick<UsageStore, 'totalsByModel'>;
  /** The MCP tool server research jobs use; without it they fail with MCP_UNAVAILABLE. */
  readonly research?: ResearchSettings;
  /** The built-in agents (memory, reindex); without one, its job type fails with RAG_UNAVAILABLE. */
  readonly agents?: AgentServices;
  /** Model hosts and models as the router sees them, for the briefing's {{health}}. */
  readonly health?: Pick<Router, 'hostStatuses' | 'models'>;
}

/**
 * Whether the worker serves its queue right now: it holds the queue lease (when it was given one),
 * its queue has started, and it is not stopping. What `/healthz` on the metrics port answers.
 */
export interface WorkerHealth {
  readonly ok: boolean;
  /** `unused`: the worker was given no lease (a queue of its own kind). */
  readonly lease: 'unused' | 'waiting' | 'held' | 'lost' | 'released';
  readonly queueStarted: boolean;
  readonly stopping: boolean;
}

export interface Worker {
  start(): Promise<void>;
  /** Stops claiming, lets running jobs finish within graceMs, then aborts and requeues them. */
  stop(): Promise<void>;
  stats(): QueueStats;
  /** Upcoming runs of the schedules this worker runs (none before start). */
  upcoming(n?: number): UpcomingRuns[];
  health(): WorkerHealth;
}

export function createWorker(deps: WorkerDeps): Worker {
  const { config, log, metrics, queue, ledger, skills, lease } = deps;
  const vault = config.vault;
  const vaultPath = resolve(vault.path);
  const running = new Set<AbortController>();
  /** Aborts a start still waiting for the queue lease. */
  const starting = new AbortController();
  let queueStarted = false;
  /** The queue has started claiming (queue.start() resolved); for health only. */
  let queueRunning = false;
  let leaseState: WorkerHealth['lease'] = lease ? 'waiting' : 'unused';
  let scheduleLedger: ScheduleLedger | undefined;
  let scheduler: Scheduler | undefined;
  // Notices a schedule's quiet hours hold back wait in jobs.db until the window ends.
  const held = deps.notifier
    ? new DeferredNotifier({ inner: deps.notifier, path: resolve(config.dataDir, 'jobs.db'), log, ...(deps.now ? { now: deps.now } : {}) })
    : undefined;
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
    if (!metrics) return;
    const s = queue.stats();
    metrics.set('platform_queue_depth', s.queued, { folder: 'queue' });
    metrics.set('platform_queue_depth', s.active, { folder: 'active' });
    metrics.set('platform_queue_depth', s.completed, { folder: 'completed' });
    metrics.set('platform_queue_depth', s.failed, { folder: 'failed' });
    metrics.set('platform_queue_oldest_age_seconds', s.oldestAgeMs / 1000, {});
  };

  const report = (o: JobOutcome): void => {
    const fields = {
      file: o.name,
      jobId: o.jobId,
      type: o.type,
      model: o.model,
      durationMs: o.durationMs,
      output: o.output,
      to: o.finalPath,
    };
    if (o.status === 'failed') log.warn('job failed', { ...fields, error: o.error });
    else log.info(`job ${o.status}`, fields);
    if (o.status !== 'requeued') {
      metrics?.add('platform_jobs_total', 1, { type: o.type ?? 'unknown', outcome: o.status });
      metrics?.record('platform_job_duration_seconds', o.durationMs / 1000, { type: o.type ?? 'unknown', outcome: o.status });
    }
    updateGauges();
    deps.onOutcome?.(o);
    const notifier = held;
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
      ...(o.notifyAfter ? { notBefore: o.notifyAfter } : {}),
    };
    if (o.status === 'completed') background('job notice', () => notifier.jobCompleted(notice));
    else background('job failure notice', () => notifier.jobFailed(notice));
  };

  const onRateLimited = (job: { name: string; jobId: string }, n: RateLimitNotice): void => {
    log.warn('job held: provider rate limit', {
      file: job.name,
      jobId: job.jobId,
      model: n.model,
      attempt: n.attempt,
      waitMs: n.waitMs,
      retryAfterMs: n.retryAfterMs,
    });
    const notifier = deps.notifier;
    if (!notifier?.jobHeld) return;
    const notice: JobHeldNotice = {
      status: 'held',
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
    const w = vault.worker;
    await skills.start();
    held?.start();
    // One worker per queue: wait for the lease before requeueing what a previous owner left active.
    await lease?.acquire(starting.signal);
    if (lease) leaseState = 'held';
    // Only the lease holder schedules: a worker that lost the queue stops enqueueing as well.
    lease?.whenLost(() => {
      leaseState = 'lost';
      void scheduler?.stop();
    });
    const processor = new JobProcessor({
      vaultPath: deps.vaultRoot,
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
      ...(deps.router ? { router: deps.router } : {}),
      ...(deps.executor ? { executor: deps.executor } : {}),
      skills,
      defaultModel: config.routing.default,
      log,
      onRateLimited,
      ...(deps.research ? { research: deps.research } : {}),
      ...(deps.agents ? { agents: deps.agents } : {}),
      protectedFolders: [vault.folders.queue, vault.folders.active, vault.folders.completed, vault.folders.failed, vault.folders.skills],
    });
    await processor.prepare();
    queueStarted = true;
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
    queueRunning = true;
    // Schedules drop ordinary job files into the queue this worker serves.
    if (config.schedules?.length) {
      scheduleLedger = new ScheduleLedger(resolve(config.dataDir, 'jobs.db'));
      scheduler = new Scheduler({
        schedules: config.schedules,
        vaultPath,
        folders: vault.folders,
        ledger: scheduleLedger,
        jobs: ledger,
        ...(deps.spend ? { usage: deps.spend } : {}),
        health: () => ({
          ...(deps.health ? { hosts: deps.health.hostStatuses(), models: deps.health.models() } : {}),
          queue: queue.stats(),
        }),
        log: log.child({ component: 'schedule' }),
        ...(metrics ? { metrics } : {}),
        ...(deps.now ? { now: deps.now } : {}),
      });
      await scheduler.start();
    }
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
        await scheduler?.stop().catch(() => undefined);
        scheduleLedger?.close();
        queueRunning = false;
        await queue.stop().catch(() => undefined);
        await skills.stop().catch(() => undefined);
        await lease?.release().catch(() => undefined);
        if (lease && leaseState === 'held') leaseState = 'released';
        held?.close();
        ledger.close();
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
        // Never started: the parts given were never started either; the ledger is still open.
        if (state === 'new') ledger.close();
        held?.close();
        state = 'stopped';
        return Promise.resolve();
      }
      state = 'stopping';
      queueRunning = false;
      stopping = (async () => {
        await scheduler?.stop();
        scheduleLedger?.close();
        if (!queueStarted) {
          // Still starting (waiting for the lease): give up the wait; start() cleans up.
          starting.abort();
          await startDone;
          if (!queueStarted) {
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
        await skills.stop();
        await lease?.release();
        if (lease && leaseState === 'held') leaseState = 'released';
        held?.close();
        ledger.close();
        state = 'stopped';
        log.info('worker stopped');
      })();
      return stopping;
    },

    upcoming(n = 3) {
      return scheduler ? scheduler.upcoming(n) : [];
    },

    health() {
      const leaseOk = leaseState === 'held' || leaseState === 'unused';
      const stoppingNow = state === 'stopping' || state === 'stopped';
      return { ok: leaseOk && queueRunning && state === 'running', lease: leaseState, queueStarted: queueRunning, stopping: stoppingNow };
    },

    stats() {
      return queueStarted ? queue.stats() : { queued: 0, active: 0, completed: 0, failed: 0, oldestAgeMs: 0 };
    },
  };
}

export interface RunWorkerOptions {
  /** Signals that start a graceful shutdown (default SIGTERM and SIGINT). */
  readonly signals?: readonly NodeJS.Signals[];
}

/** Runs the worker until SIGTERM or SIGINT, then shuts down gracefully; resolves when done. */
export async function runWorker(deps: WorkerDeps, opts: RunWorkerOptions = {}): Promise<void> {
  await runUntilSignalled(createWorker(deps), deps.log, opts);
}

/** Starts a worker already created, runs it until SIGTERM or SIGINT, then stops it gracefully. */
export async function runUntilSignalled(worker: Worker, log: Logger, opts: RunWorkerOptions = {}): Promise<void> {
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  let onSignal: ((s: NodeJS.Signals) => void) | undefined;
  const stopped = new Promise<void>((resolveStopped) => {
    onSignal = (s) => {
      log.info('shutdown requested', { signal: s });
      void worker.stop().then(resolveStopped, (e: unknown) => {
        log.error('shutdown failed', { error: describeError(e) });
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
