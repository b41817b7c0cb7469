import {
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { routeGroup, type RuntimeJetStream, type RuntimeRoute } from '@platform/contract';
import { RuntimeError, describeError } from '../errors.js';
import type { JobLedger } from '../jobs/ledger.js';
import type { JobExecutor, PreparedJob } from '../jobs/process.js';
import type { JobRunner, RunResult } from '../jobs/run.js';
import type { JobType } from '../jobs/schema.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../telemetry/metrics.js';
import { ResultMessageSchema, decode, encode, jobSubject, msgId, resultError, resultSubject, type ResultMessage } from './messages.js';
import { GATEWAY_CONSUMER, ensureGroupConsumer, ensureResultsConsumer, ensureStreams, servedGroups } from './setup.js';

/*
 * The gateway's half of the JetStream queue: the executor the vault queue's JobProcessor runs
 * each claimed job with. The gateway (one process, holding the vault queue's lease) claims,
 * settles and files exactly as the folder worker does; only the run happens elsewhere:
 *
 *   1. route: the job's model → its route group; a group no worker takes fails the job
 *   2. a result for this run already in the results stream (a gateway died after the publish)?
 *      → that result, no publish (looked up unless this claim gave the job its id just now)
 *   3. publish {job} to <prefix>.run.<group>, Nats-Msg-Id = the job id (the server drops a
 *      second publish within the duplicate window), wait for the PubAck
 *   4. hold the claim until the result comes back on the results consumer
 *
 * The ledger stays the judge: the JobProcessor settles a result only for a claimed job whose id
 * has not completed, so a second result (a job run twice after a redelivery) is acked and
 * dropped. A result with no claim waiting (this gateway restarted, its file is back in the
 * queue) is acked too: it stays in the results stream, and step 2 finds it when the file is
 * claimed again. Results are never lost by acking them.
 */

/** Job types that read or write the vault, or the stores beside it, which workers on other hosts do not have. */
export const VAULT_BOUND_TYPES: ReadonlySet<JobType> = new Set<JobType>(['memory', 'reindex']);

/**
 * The gateway's executor: vault-bound jobs (memory, reindex) run in the gateway's process with
 * `local`; every other job goes to the workers through `remote` (JetStreamGateway.execute).
 */
export function gatewayExecutor(remote: JobExecutor, local: Pick<JobRunner, 'run'>): JobExecutor {
  return (job, signal) =>
    VAULT_BOUND_TYPES.has(job.doc.frontmatter.type)
      ? local.run({ jobId: job.jobId, name: job.name, doc: job.doc, system: job.system, signal })
      : remote(job, signal);
}

/** Stream and consumer setup attempts at start, a second apart. */
const SETUP_ATTEMPTS = 60;

export type GatewayMetrics = Pick<Metrics, 'add' | 'record'>;

export interface JetStreamGatewayProps {
  readonly nc: NatsConnection;
  readonly js: RuntimeJetStream;
  readonly routes: readonly RuntimeRoute[];
  readonly defaultModel: string;
  readonly ledger: Pick<JobLedger, 'failedRuns' | 'addFailedRun'>;
  readonly log: Logger;
  readonly metrics?: GatewayMetrics;
  /** Results consumer batch (messages buffered at once). */
  readonly resultBatch?: number;
  readonly now?: () => number;
}

interface Pending {
  readonly jobId: string;
  readonly run: number;
  readonly group: string;
  readonly publishedAt: number;
  seq?: number;
  readonly settle: (r: RunResult) => void;
}

export class JetStreamGateway {
  private readonly js: RuntimeJetStream;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly pending = new Map<string, Pending>();
  private readonly bySeq = new Map<number, string>();
  private readonly served: Set<string>;
  private client!: JetStreamClient;
  private manager!: JetStreamManager;
  private results: ConsumerMessages | undefined;
  private advisories: Subscription | undefined;
  private loop: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly props: JetStreamGatewayProps) {
    this.js = props.js;
    this.log = props.log;
    this.now = props.now ?? Date.now;
    this.served = new Set(servedGroups(props.js));
  }

  /** Creates or updates the streams and consumers, then starts consuming results. */
  async start(): Promise<void> {
    this.manager = await jetstreamManager(this.props.nc);
    this.client = jetstream(this.props.nc);
    // A cluster that is still electing its leaders answers "temporarily unavailable": retry a while.
    for (let attempt = 1; ; attempt++) {
      try {
        await ensureStreams(this.manager, this.js);
        for (const g of this.served) await ensureGroupConsumer(this.manager, this.js, g);
        await ensureResultsConsumer(this.manager, this.js);
        break;
      } catch (e) {
        if (attempt >= SETUP_ATTEMPTS) {
          throw new RuntimeError('BROKER_UNAVAILABLE', `cannot create the queue's streams and consumers: ${describeError(e)}`, {
            cause: e,
          });
        }
        this.log.warn('the JetStream cluster refused the stream setup; retrying', { attempt, error: describeError(e) });
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
    // A job no worker could finish within maxDeliver (each delivery crashed or timed out its
    // worker): the server says so once; the job fails with the reason instead of waiting forever.
    this.advisories = this.props.nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${this.js.stream}.*`, {
      callback: (err, m) => {
        if (err) return;
        try {
          const a = JSON.parse(new TextDecoder().decode(m.data.subarray(0, 65_536))) as { stream_seq?: unknown; deliveries?: unknown };
          if (typeof a.stream_seq === 'number') this.givenUp(a.stream_seq, Number(a.deliveries) || this.js.maxDeliver);
        } catch {
          // Not an advisory we can read: nothing to do.
        }
      },
    });
    const consumer = await this.client.consumers.get(this.js.resultsStream, GATEWAY_CONSUMER);
    // Short pulls: a pull a dead server held is noticed (missed heartbeats) and renewed within seconds.
    this.results = await consumer.consume({ max_messages: this.props.resultBatch ?? 256, expires: 5_000 });
    const results = this.results;
    this.loop = (async () => {
      for await (const m of results) this.onResult(m);
    })().catch((e: unknown) => {
      if (!this.stopped) this.log.error('the results consumer stopped', { error: describeError(e) });
    });
    this.log.info('jetstream gateway started', { stream: this.js.stream, results: this.js.resultsStream, groups: [...this.served] });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.advisories?.unsubscribe();
    await this.results?.close();
    await this.loop;
    for (const p of this.pending.values()) p.settle({ status: 'requeued' });
    this.pending.clear();
    this.bySeq.clear();
  }

  /** Jobs published and waiting for their result. */
  get waiting(): number {
    return this.pending.size;
  }

  /** The executor for JobProcessor: publish the job, hold the claim until its result. */
  readonly execute: JobExecutor = async (job, signal) => {
    const route = this.route(job);
    if ('error' in route) return { status: 'failed', error: route.error };
    const { group } = route;
    const run = this.props.ledger.failedRuns(job.jobId);
    const started = this.now();
    let settle!: (r: RunResult) => void;
    let early: RunResult | undefined;
    const result = new Promise<RunResult>((r) => {
      settle = (x) => {
        early ??= x;
        r(x);
      };
    });
    const entry: Pending = { jobId: job.jobId, run, group, publishedAt: started, settle };
    this.pending.set(job.jobId, entry);
    const onAbort = (): void => settle({ status: 'requeued' });
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      // A gateway that died after publishing: the result may be waiting in the results stream.
      // An id this claim just gave the job was never published: nothing to look up.
      let found: ResultMessage | undefined;
      try {
        found = job.fresh ? undefined : await this.lookup(job.jobId, group, run);
      } catch (e) {
        return this.brokerDown(job, e);
      }
      if (found) {
        this.props.metrics?.add('platform_jetstream_results_total', 1, { outcome: 'found' });
        return this.toRunResult(found);
      }
      // Settled meanwhile (its result came in while it was looked up, or a shutdown): no publish.
      if (early) return early;
      const body = encode({
        v: 1,
        jobId: job.jobId,
        name: job.name,
        group,
        run,
        job: job.raw.toString('base64'),
        ...(job.system !== undefined ? { system: job.system } : {}),
      });
      const max = this.props.nc.info?.max_payload;
      if (max !== undefined && body.byteLength > max) {
        return {
          status: 'failed',
          error: new RuntimeError(
            'JOB_INVALID',
            `the job is ${body.byteLength} bytes as a queue message; the NATS server takes at most ${max}`,
            {
              hint: "split the job, or raise max_payload in the NATS cluster's config",
            },
          ),
        };
      }
      try {
        const ack = await this.client.publish(jobSubject(this.js, group), body, { msgID: msgId(job.jobId, run), timeout: 5_000 });
        entry.seq = ack.seq;
        this.bySeq.set(ack.seq, job.jobId);
        this.props.metrics?.add('platform_jetstream_published_total', 1, { outcome: ack.duplicate ? 'duplicate' : 'stored' });
        if (ack.duplicate)
          this.log.info('job already on the queue (same id within the duplicate window)', { jobId: job.jobId, seq: ack.seq });
      } catch (e) {
        this.props.metrics?.add('platform_jetstream_published_total', 1, { outcome: 'error' });
        return this.brokerDown(job, e);
      }
      const r = await result;
      if (r.status !== 'requeued') {
        this.props.metrics?.record('platform_jetstream_round_trip_seconds', (this.now() - started) / 1000, { group });
      }
      return r;
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (this.pending.get(job.jobId) === entry) this.pending.delete(job.jobId);
      if (entry.seq !== undefined) this.bySeq.delete(entry.seq);
    }
  };

  /** NATS did not answer (a node down, a leader election): the file goes back to the vault queue for a while. */
  private brokerDown(job: PreparedJob, e: unknown): RunResult {
    this.log.warn('the queue did not answer; the job goes back to the vault queue', {
      file: job.name,
      jobId: job.jobId,
      error: describeError(e),
    });
    return { status: 'requeued', delayMs: Math.max(1_000, this.js.nakDelayMs) };
  }

  /** The route group of a job's models; one group per job (a worker runs the whole job). */
  private route(job: PreparedJob): { group: string } | { error: RuntimeError } {
    const fm = job.doc.frontmatter;
    const jobModel = fm.model ?? this.props.defaultModel;
    const models = fm.type === 'chain' ? (fm.steps ?? []).map((s) => s.model ?? jobModel) : [jobModel];
    const groups = new Map<string, string>();
    for (const m of models) {
      const route = this.props.routes.find((r) => r.id === m);
      if (!route) return { error: new RuntimeError('MODEL_UNKNOWN', `no route for the model "${m}"`) };
      groups.set(routeGroup(route), m);
    }
    if (groups.size > 1) {
      return {
        error: new RuntimeError(
          'JOB_UNROUTABLE',
          `the job's models are in different route groups (${[...groups].map(([g, m]) => `${m}: ${g}`).join(', ')}); one worker runs a whole job`,
          { hint: 'use models of one route group in a chain, or split it into jobs' },
        ),
      };
    }
    const [group, model] = [...groups][0]!;
    if (!this.served.has(group)) {
      return {
        error: new RuntimeError('JOB_UNROUTABLE', `no worker takes the route group "${group}" of the model "${model}"`, {
          hint: `give a host's worker the group "${group}" (nats workers in platform.yaml), or use a model of a group a worker takes (${[...this.served].join(', ')})`,
        }),
      };
    }
    return { group };
  }

  /** The result of this run, if the results stream has it. */
  private async lookup(jobId: string, group: string, run: number): Promise<ResultMessage | undefined> {
    const stored = await this.manager.streams
      .getMessage(this.js.resultsStream, { last_by_subj: resultSubject(this.js, group, jobId) })
      .catch((e: unknown) => {
        if (/no message found|not found/i.test(describeError(e))) return null;
        throw e;
      });
    if (!stored) return undefined;
    try {
      const r = decode(ResultMessageSchema, stored.data, this.maxResultBytes());
      return r.jobId === jobId && r.run === run ? r : undefined;
    } catch (e) {
      this.log.warn('ignoring an invalid stored result', { jobId, error: describeError(e) });
      return undefined;
    }
  }

  private maxResultBytes(): number {
    return Math.max(this.props.nc.info?.max_payload ?? 1_048_576, 1_048_576);
  }

  private onResult(m: JsMsg): void {
    let r: ResultMessage;
    try {
      r = decode(ResultMessageSchema, m.data, this.maxResultBytes());
    } catch (e) {
      this.props.metrics?.add('platform_jetstream_results_total', 1, { outcome: 'invalid' });
      this.log.warn('invalid result message dropped', { subject: m.subject, seq: m.seq, error: describeError(e) });
      m.term('invalid result');
      return;
    }
    const p = this.pending.get(r.jobId);
    if (!p || p.run !== r.run || resultSubject(this.js, p.group, r.jobId) !== m.subject) {
      // Settled already (a second result), or not claimed yet: claims look results up, so ack.
      this.props.metrics?.add('platform_jetstream_results_total', 1, { outcome: 'stale' });
      this.log.debug('result with no claim waiting', { jobId: r.jobId, run: r.run });
      m.ack();
      return;
    }
    this.pending.delete(r.jobId);
    this.props.metrics?.add('platform_jetstream_results_total', 1, { outcome: r.status });
    p.settle(this.toRunResult(r));
    m.ack();
  }

  private toRunResult(r: ResultMessage): RunResult {
    if (r.status === 'completed') {
      return { status: 'completed', model: r.model, body: r.body, tokensIn: r.tokensIn, tokensOut: r.tokensOut, durationMs: r.durationMs };
    }
    this.props.ledger.addFailedRun(r.jobId, this.now());
    return { status: 'failed', error: resultError(r), durationMs: r.durationMs };
  }

  private givenUp(seq: number, deliveries: number): void {
    const jobId = this.bySeq.get(seq);
    const p = jobId === undefined ? undefined : this.pending.get(jobId);
    if (!p) return;
    this.pending.delete(p.jobId);
    this.props.ledger.addFailedRun(p.jobId, this.now());
    this.log.warn('job given up: delivered as often as allowed with no result', { jobId: p.jobId, seq, deliveries });
    // Off the work queue, so no worker runs it after it is filed as failed.
    void this.manager.streams.deleteMessage(this.js.stream, seq, false).catch(() => undefined);
    p.settle({
      status: 'failed',
      error: new RuntimeError('JOB_GIVEN_UP', `job ${p.jobId} was delivered to workers ${deliveries} times and no result came back`),
    });
  }
}
