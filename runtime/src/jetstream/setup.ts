import { AckPolicy, DeliverPolicy, RetentionPolicy, StorageType, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import type { RuntimeJetStream } from '@platform/contract';
import { RuntimeError, describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { jobSubject, resultSubjects } from './messages.js';

/*
 * Connecting to the NATS cluster, and the streams and consumers the queue runs on. Creation is
 * "add, or update when it exists", so every start converges on the config in runtime.json:
 *
 *   <stream>         work queue: <prefix>.run.<group>; a message is removed once a worker acks it
 *   <resultsStream>  limits: <prefix>.result.<group>.<job key>, kept RESULTS_MAX_AGE_MS, so a result
 *                    outlives a gateway restart and "has this job a result" is a lookup
 *   run-<group>      one durable pull consumer per route group, shared by every worker that takes
 *                    the group (work-queue consumers may not overlap, so one per group, not per
 *                    worker's group set)
 *   gateway          the gateway's durable consumer of every result
 */

/** How long results are kept: longer than any gateway outage the vault queue should survive. */
export const RESULTS_MAX_AGE_MS = 7 * 24 * 3_600_000;
export const GATEWAY_CONSUMER = 'gateway';

export function groupConsumer(group: string): string {
  return `run-${group}`;
}

/** Every route group some host's worker takes, sorted. */
export function servedGroups(js: RuntimeJetStream): string[] {
  return [...new Set(Object.values(js.workers).flat())].sort();
}

export interface ConnectOptions {
  readonly js: RuntimeJetStream;
  readonly role: 'gateway' | 'worker';
  /** The role's password (the secret queue.jetstream.<role>.passwordSecret names); none: no credentials. */
  readonly password: string | undefined;
  /** The connection name the server shows (`runtime-worker@davas`). */
  readonly name: string;
  readonly log: Logger;
}

/** Connects, retrying forever once connected; the first connect fails with BROKER_UNAVAILABLE. */
export async function connectNats(o: ConnectOptions): Promise<NatsConnection> {
  const cred = o.role === 'gateway' ? o.js.gateway : o.js.worker;
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: o.js.servers.map((s) => s.replace(/^nats:\/\//, '')),
      name: o.name,
      ...(o.password !== undefined ? { user: cred.user, pass: o.password } : {}),
      ...(o.js.tls ? { tls: { caFile: o.js.tls.caFile } } : {}),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      waitOnFirstConnect: false,
      timeout: 5_000,
    });
  } catch (e) {
    throw new RuntimeError('BROKER_UNAVAILABLE', `cannot connect to NATS at ${o.js.servers.join(', ')}: ${describeError(e)}`, { cause: e });
  }
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'error' || s.type === 'ldm') {
        o.log.warn(`nats ${s.type}`, {
          server: 'server' in s ? s.server : undefined,
          error: 'error' in s ? describeError(s.error) : undefined,
        });
      }
    }
  })().catch(() => undefined);
  return nc;
}

/** The job and results streams (gateway). */
export async function ensureStreams(jsm: JetStreamManager, js: RuntimeJetStream): Promise<void> {
  const dup = nanos(js.duplicateWindowMs);
  await addOrUpdateStream(jsm, {
    name: js.stream,
    subjects: [`${js.subjectPrefix}.run.*`],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    num_replicas: js.replicas,
    duplicate_window: dup,
  });
  await addOrUpdateStream(jsm, {
    name: js.resultsStream,
    subjects: [resultSubjects(js)],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: js.replicas,
    duplicate_window: dup,
    max_age: nanos(Math.max(RESULTS_MAX_AGE_MS, js.duplicateWindowMs)),
  });
}

type StreamSettings = Parameters<JetStreamManager['streams']['add']>[0] & { name: string };

async function addOrUpdateStream(jsm: JetStreamManager, cfg: StreamSettings): Promise<void> {
  const exists = await jsm.streams.info(cfg.name).then(
    () => true,
    (e: unknown) => {
      if (isNotFound(e)) return false;
      throw e;
    },
  );
  if (exists) await jsm.streams.update(cfg.name, cfg);
  else await jsm.streams.add(cfg);
}

/** The durable pull consumer of one route group's jobs. */
export async function ensureGroupConsumer(jsm: JetStreamManager, js: RuntimeJetStream, group: string): Promise<void> {
  const cfg = {
    durable_name: groupConsumer(group),
    filter_subject: jobSubject(js, group),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(js.ackWaitMs),
    max_deliver: js.maxDeliver,
    num_replicas: 0,
  };
  await addOrUpdateConsumer(jsm, js.stream, cfg);
}

/** The gateway's durable consumer of results. */
export async function ensureResultsConsumer(jsm: JetStreamManager, js: RuntimeJetStream): Promise<void> {
  await addOrUpdateConsumer(jsm, js.resultsStream, {
    durable_name: GATEWAY_CONSUMER,
    filter_subject: resultSubjects(js),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(30_000),
    max_deliver: -1,
    num_replicas: 0,
  });
}

type ConsumerSettings = Parameters<JetStreamManager['consumers']['add']>[1] & { durable_name: string };

async function addOrUpdateConsumer(jsm: JetStreamManager, stream: string, cfg: ConsumerSettings): Promise<void> {
  const exists = await jsm.consumers.info(stream, cfg.durable_name).then(
    () => true,
    (e: unknown) => {
      if (isNotFound(e)) return false;
      throw e;
    },
  );
  if (exists) {
    const { durable_name: _name, deliver_policy: _deliver, ...mutable } = cfg;
    await jsm.consumers.update(stream, cfg.durable_name, mutable);
  } else await jsm.consumers.add(stream, cfg);
}

function isNotFound(e: unknown): boolean {
  const code = (e as { api_error?: { err_code?: number }; code?: unknown }).api_error?.err_code;
  // 10059 stream not found, 10014 consumer not found.
  return code === 10059 || code === 10014 || /not found/i.test(describeError(e));
}

export { jetstreamManager };
