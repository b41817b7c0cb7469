import {
  jetstream,
  jetstreamManager,
  type Consumer,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { RuntimeJetStream } from '@platform/contract';
import { RuntimeError, describeError, type RuntimeErrorCode } from '../errors.js';
import { parseJobDocument } from '../jobs/document.js';
import type { ChatRouter } from '../jobs/execute.js';
import { JobRunner, runLimits, toJobError, type RunResult } from '../jobs/run.js';
import type { Logger } from '../log.js';
import type { ResearchSettings } from '../mcp/research.js';
import type { RateLimitNotice } from '../router/index.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { WorkerConfig } from '../worker/index.js';
import {
  JobMessageSchema,
  ResultMessageSchema,
  decode,
  encode,
  jobSubject,
  maxJobMessageBytes,
  msgId,
  resultSubject,
  type JobMessage,
  type ResultMessage,
} from './messages.js';
import { ensureGroupConsumer, groupConsumer } from './setup.js';

/*
 * A worker on any host with queue.backend jetstream: it pulls jobs of the route groups its host
 * takes (queue.jetstream.workers[host]) from their durable consumers, runs them with the same
 * JobRunner as the folder worker, and publishes the result. It needs no vault: the gateway
 * sends the job's bytes and system prompt, and files the result.
 *
 * Per delivery:
 *   - malformed (size, JSON, schema) or for a group this worker does not take → term, log line
 *   - a redelivery whose result is in the results stream already (the last worker published it
 *     and died before its ack) → ack, not run again
 *   - run, with an in-progress ack every progressIntervalMs so a long job keeps its delivery
 *   - completed or failed for good → publish the result (Nats-Msg-Id = the job id), wait for the
 *     PubAck, and only then ack (completed) or term (failed): a worker killed in between leaves
 *     the job to be redelivered, and the redelivery finds the result
 *   - retryable (provider down or rate limited, storage) → nak with nakDelayMs, until the last
 *     delivery, which publishes the failure instead
 *   - shutdown mid-job → nak at once, another worker takes it
 */

export type JetStreamWorkerConfig = WorkerConfig & {
  readonly host: string;
  readonly queue: { readonly jetstream?: RuntimeJetStream | undefined };
};

export interface JetStreamWorkerDeps {
  readonly config: JetStreamWorkerConfig;
  readonly nc: NatsConnection;
  readonly router: ChatRouter;
  readonly log: Logger;
  readonly metrics?: Pick<Metrics, 'add' | 'set'>;
  readonly research?: ResearchSettings;
  readonly onRateLimited?: (job: { name: string; jobId: string }, notice: RateLimitNotice) => void;
  /** Called after each delivery is handled, for tests and benchmarks. */
  readonly onHandled?: (e: { jobId?: string; group: string; outcome: WorkerOutcome; deliveries: number }) => void;
  /** How long one pull waits for a job before asking again. */
  readonly pullExpiresMs?: number;
}

export type WorkerOutcome = 'completed' | 'failed' | 'retried' | 'skipped' | 'invalid' | 'requeued';

/** Tries to publish a result (5 s each) before the job is left to a redelivery. */
const RESULT_PUBLISH_ATTEMPTS = 6;

const RETRYABLE: ReadonlySet<RuntimeErrorCode> = new Set(['PROVIDER_UNAVAILABLE', 'PROVIDER_RATE_LIMITED', 'VAULT_IO', 'QUEUE_IO']);

export class JetStreamWorker {
  private readonly js: RuntimeJetStream;
  private readonly groups: readonly string[];
  private readonly runner: JobRunner;
  private readonly log: Logger;
  private client!: JetStreamClient;
  private manager!: JetStreamManager;
  private readonly running = new Set<AbortController>();
  private readonly loops: Promise<void>[] = [];
  private readonly stopping = new AbortController();
  private active = 0;
  private waiters: (() => void)[] = [];
  private readonly concurrency: number;
  /** The pulls waiting now, stopped at shutdown so it does not wait out their expiry. */
  private readonly batches = new Set<ConsumerMessages>();

  constructor(private readonly deps: JetStreamWorkerDeps) {
    const js = deps.config.queue.jetstream;
    if (!js) throw new RuntimeError('CONFIG_INVALID', 'queue.backend is jetstream but queue.jetstream is missing');
    this.js = js;
    const groups = js.workers[deps.config.host];
    if (!groups?.length) {
      throw new RuntimeError('CONFIG_INVALID', `queue.jetstream.workers has no route groups for this host ("${deps.config.host}")`, {
        hint: `list the groups ${deps.config.host}'s worker takes under nats workers in platform.yaml (known hosts: ${Object.keys(js.workers).join(', ') || 'none'})`,
      });
    }
    this.groups = [...new Set(groups)].sort();
    this.log = deps.log;
    const w = deps.config.vault.worker;
    this.concurrency = w.concurrency;
    this.runner = new JobRunner({
      router: deps.router,
      defaultModel: deps.config.routing.default,
      log: deps.log,
      limits: runLimits(w),
      ...(deps.research ? { research: deps.research } : {}),
      ...(deps.onRateLimited ? { onRateLimited: deps.onRateLimited } : {}),
    });
  }

  get takes(): readonly string[] {
    return this.groups;
  }

  /** What /healthz answers: pulling its groups' jobs over a live connection, and not stopping. */
  health(): { ok: boolean; groups: readonly string[]; started: boolean; connected: boolean; stopping: boolean; running: number } {
    const started = this.loops.length > 0;
    const connected = !this.deps.nc.isClosed();
    const stopping = this.stopping.signal.aborted;
    return { ok: started && connected && !stopping, groups: this.groups, started, connected, stopping, running: this.active };
  }

  async start(): Promise<void> {
    this.manager = await jetstreamManager(this.deps.nc);
    this.client = jetstream(this.deps.nc);
    for (const g of this.groups) {
      const consumer = await this.consumerFor(g);
      this.loops.push(this.pull(g, consumer));
    }
    this.log.info('jetstream worker started', { groups: this.groups, concurrency: this.concurrency });
  }

  /** Stops pulling, lets running jobs finish within graceMs, then aborts them (they are nak'd). */
  async stop(): Promise<void> {
    this.stopping.abort();
    for (const w of this.waiters.splice(0)) w();
    for (const b of this.batches) await b.close().catch(() => undefined);
    await Promise.all(this.loops);
    const graceMs = this.deps.config.vault.worker.graceMs;
    const deadline = Date.now() + graceMs;
    while (this.active > 0 && Date.now() < deadline) await sleep(20);
    if (this.active > 0) {
      this.log.warn('grace period over: aborting running jobs, they go back to the queue', { running: this.active, graceMs });
      for (const ac of this.running) ac.abort();
      while (this.active > 0) await sleep(20);
    }
    this.log.info('jetstream worker stopped');
  }

  /** The group's consumer, created when missing (the streams are the gateway's: wait for them). */
  private async consumerFor(group: string): Promise<Consumer> {
    for (let attempt = 1; ; attempt++) {
      try {
        await ensureGroupConsumer(this.manager, this.js, group);
        return await this.client.consumers.get(this.js.stream, groupConsumer(group));
      } catch (e) {
        if (this.stopping.signal.aborted) throw e;
        if (attempt === 1 || attempt % 30 === 0) {
          this.log.warn('waiting for the job stream (the gateway creates it)', { stream: this.js.stream, group, error: describeError(e) });
        }
        await sleep(1_000);
      }
    }
  }

  private async pull(group: string, consumer: Consumer): Promise<void> {
    const expires = this.deps.pullExpiresMs ?? 5_000;
    while (!this.stopping.signal.aborted) {
      await this.slotFree();
      if (this.stopping.signal.aborted) break;
      // One pull asks for as many jobs as there are free slots; jobs are handed out as they arrive.
      const want = Math.max(1, this.concurrency - this.active);
      let batch: ConsumerMessages | undefined;
      try {
        batch = await consumer.fetch({ max_messages: want, expires });
        this.batches.add(batch);
        for await (const m of batch) {
          if (this.stopping.signal.aborted) {
            m.nak();
            continue;
          }
          // Another group's loop may have taken the last slot meanwhile: hold this one, keeping it ours.
          if (this.active >= this.concurrency) {
            const hold = setInterval(() => m.working(), this.js.progressIntervalMs);
            await this.slotFree();
            clearInterval(hold);
            if (this.stopping.signal.aborted) {
              m.nak();
              continue;
            }
          }
          this.active++;
          void this.handle(group, m).finally(() => {
            this.active--;
            this.waiters.shift()?.();
          });
        }
      } catch (e) {
        if (this.stopping.signal.aborted) break;
        this.log.warn('pulling jobs failed; retrying', { group, error: describeError(e) });
        await sleep(1_000);
      } finally {
        if (batch) this.batches.delete(batch);
      }
    }
  }

  private slotFree(): Promise<void> {
    if (this.active < this.concurrency || this.stopping.signal.aborted) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  private async handle(group: string, m: JsMsg): Promise<void> {
    const deliveries = m.info.deliveryCount;
    if (deliveries > 1) this.deps.metrics?.add('platform_jetstream_redeliveries_total', 1, { group });
    const done = (outcome: WorkerOutcome, jobId?: string): void => {
      if (outcome !== 'requeued') this.deps.metrics?.add('platform_jetstream_worker_jobs_total', 1, { group, outcome });
      this.deps.onHandled?.({ ...(jobId !== undefined ? { jobId } : {}), group, outcome, deliveries });
    };
    let job: JobMessage;
    try {
      job = decode(JobMessageSchema, m.data, maxJobMessageBytes(this.deps.config.vault.worker.maxJobBytes));
      if (job.group !== group || m.subject !== jobSubject(this.js, job.group)) {
        throw new RuntimeError('BROKER_MESSAGE_INVALID', `a job for group "${job.group}" on ${m.subject}; this consumer takes ${group}`);
      }
    } catch (e) {
      this.log.warn('invalid job message termed', { subject: m.subject, seq: m.seq, error: describeError(e) });
      m.term('invalid job message');
      done('invalid');
      return;
    }
    const { jobId } = job;
    const fields = { jobId, file: job.name, group, delivery: deliveries };
    try {
      // Only a redelivery can follow a published result (the gateway looks results up before it
      // publishes a job again), so a first delivery runs without the lookup.
      if (deliveries > 1 && (await this.hasResult(job))) {
        m.ack();
        this.log.info('job has its result already (published before a redelivery): acked, not run again', fields);
        done('skipped', jobId);
        return;
      }
    } catch (e) {
      this.log.warn('could not look the result up; retried later', { ...fields, error: describeError(e) });
      m.nak(this.js.nakDelayMs);
      done('retried', jobId);
      return;
    }

    const ac = new AbortController();
    this.running.add(ac);
    const progress = setInterval(() => m.working(), this.js.progressIntervalMs);
    const started = Date.now();
    let result: RunResult;
    try {
      const doc = parseJobDocument(Buffer.from(job.job, 'base64'), { maxChainSteps: this.deps.config.vault.worker.maxChainSteps });
      result = await this.runner.run({ jobId, name: job.name, doc, system: job.system, signal: ac.signal });
    } catch (e) {
      result = { status: 'failed', error: toJobError(e) };
    } finally {
      clearInterval(progress);
      this.running.delete(ac);
    }
    const durationMs = Date.now() - started;

    try {
      if (result.status === 'requeued') {
        m.nak();
        this.log.info('job returned to the queue (shutdown)', fields);
        done('requeued', jobId);
        return;
      }
      if (result.status === 'failed' && RETRYABLE.has(result.error.code) && deliveries < this.js.maxDeliver) {
        const delay = Math.max(this.js.nakDelayMs, result.error.retryAfterMs ?? 0);
        this.log.warn('job failed for now; retried later', { ...fields, delayMs: delay, error: result.error });
        m.nak(delay);
        done('retried', jobId);
        return;
      }
      const res: ResultMessage =
        result.status === 'completed'
          ? {
              v: 1,
              jobId,
              run: job.run,
              status: 'completed',
              model: result.model,
              body: result.body,
              tokensIn: result.tokensIn,
              tokensOut: result.tokensOut,
              durationMs,
              worker: this.deps.config.host,
            }
          : {
              v: 1,
              jobId,
              run: job.run,
              status: 'failed',
              error: {
                code: result.error.code,
                message: result.error.message.slice(0, 8_000),
                ...(result.error.hint ? { hint: result.error.hint.slice(0, 8_000) } : {}),
              },
              durationMs,
              worker: this.deps.config.host,
            };
      // A cluster electing a stream leader does not answer for some seconds: keep the delivery
      // (in-progress acks) and publish again, the same Nats-Msg-Id making a repeat harmless,
      // rather than give the job up to a redelivery that would run it again.
      const keep = setInterval(() => m.working(), this.js.progressIntervalMs);
      try {
        for (let attempt = 1; ; attempt++) {
          try {
            await this.publishResult(group, res);
            break;
          } catch (e) {
            if (attempt >= RESULT_PUBLISH_ATTEMPTS || this.stopping.signal.aborted) throw e;
            this.log.warn('publishing the result failed; trying again', { ...fields, attempt, error: describeError(e) });
            await sleep(500);
          }
        }
      } finally {
        clearInterval(keep);
      }
      // A lost ack is harmless: the redelivery finds the result and is acked without a run.
      if (res.status === 'completed') m.ack();
      else m.term(`failed: ${res.error.code}`);
      if (res.status === 'failed') this.log.warn('job failed', { ...fields, error: res.error });
      else this.log.info('job completed', { ...fields, durationMs });
      done(res.status, jobId);
    } catch (e) {
      // The result may or may not have landed: the redelivery looks it up before running again.
      this.log.warn('could not publish the result; the job is redelivered', { ...fields, error: describeError(e) });
      m.nak(this.js.nakDelayMs);
      done('retried', jobId);
    }
  }

  /** Publishes a result; one too large for the server becomes a failure saying so. */
  private async publishResult(group: string, res: ResultMessage): Promise<void> {
    let body = encode(res);
    const max = this.deps.nc.info?.max_payload;
    if (max !== undefined && body.byteLength > max) {
      body = encode({
        v: 1,
        jobId: res.jobId,
        run: res.run,
        status: 'failed',
        error: {
          code: 'ANSWER_TOO_LARGE',
          message: `the result is ${body.byteLength} bytes as a queue message; the NATS server takes at most ${max}`,
          hint: "raise max_payload in the NATS cluster's config, or lower vault.worker.maxAnswerChars",
        },
        durationMs: res.durationMs,
        worker: res.worker,
      });
    }
    await this.client.publish(resultSubject(this.js, group, res.jobId), body, { msgID: msgId(res.jobId, res.run), timeout: 5_000 });
  }

  private async hasResult(job: JobMessage): Promise<boolean> {
    const stored = await this.manager.streams
      .getMessage(this.js.resultsStream, { last_by_subj: resultSubject(this.js, job.group, job.jobId) })
      .catch((e: unknown) => {
        if (/no message found|not found/i.test(describeError(e))) return null;
        throw e;
      });
    if (!stored) return false;
    try {
      const r = decode(ResultMessageSchema, stored.data, Math.max(this.deps.nc.info?.max_payload ?? 0, 1_048_576));
      return r.jobId === job.jobId && r.run === job.run;
    } catch {
      return false;
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
