import { z } from 'zod';
import type { ProviderKind } from './providers.js';
import { SecretNameSchema } from './secrets.js';

/*
 * The job queue's backend, shared by the model (`vault.queue`, `nats:`) and the runtime slice
 * (`queue` in runtime.json). `folder` is the vault folder queue one worker drains; `jetstream`
 * puts a NATS JetStream work-queue stream between a gateway (the one process that claims files
 * from the vault and settles them) and workers on any host.
 */

export const QUEUE_BACKENDS = ['folder', 'jetstream'] as const;
export type QueueBackend = (typeof QUEUE_BACKENDS)[number];

/** The group hosted providers' jobs go to: any worker with internet access can run them. */
export const CLOUD_GROUP = 'cloud';

/**
 * The route group a model's jobs are published under: the Ollama host that serves it, or
 * `cloud` for hosted providers. A worker takes only the groups it can reach, so no job waits on a
 * worker that cannot run it.
 */
export function routeGroup(route: { provider: ProviderKind; host?: string | undefined }): string {
  return route.provider === 'ollama' ? (route.host ?? CLOUD_GROUP) : CLOUD_GROUP;
}

/** Jobs in flight through the gateway when queue.jetstream.gatewayInFlight is absent. */
export const GATEWAY_IN_FLIGHT_DEFAULT = 256;

/** A NATS user the runtime connects as: the password is a secret name, never a value. */
export const NatsCredentialSchema = z.strictObject({
  user: z.string().regex(/^[A-Za-z0-9_-]+$/, 'a NATS user name (letters, digits, _ and -)'),
  passwordSecret: SecretNameSchema,
});

/** The runtime's view of the JetStream queue (`queue.jetstream` in runtime.json). */
export const RuntimeJetStreamSchema = z.strictObject({
  /** The cluster's client URLs as the runtime's containers reach them (`nats://host:4222`, `tls://...`). */
  servers: z.array(z.string().regex(/^(nats|tls):\/\/[^\s/]+$/, 'a nats:// or tls:// URL with host and port')).min(1),
  /** The gateway connects as this user (publishes jobs, consumes results). */
  gateway: NatsCredentialSchema,
  /** Workers connect as this user (consume jobs, publish results). */
  worker: NatsCredentialSchema,
  /** CA bundle path inside the container when the cluster speaks TLS. */
  tls: z.strictObject({ caFile: z.string().min(1) }).optional(),
  /** The work-queue stream of jobs; subjects `<subjectPrefix>.run.<group>`. */
  stream: z.string().regex(/^[A-Za-z0-9_-]+$/),
  /** The stream of results the gateway settles; subjects `<subjectPrefix>.result.<group>.<job key>`. */
  resultsStream: z.string().regex(/^[A-Za-z0-9_-]+$/),
  subjectPrefix: z.string().regex(/^[a-z][a-z0-9_-]*$/),
  replicas: z.number().int().min(1).max(5),
  /** A delivered job not acked (or progress-acked) within this is redelivered. */
  ackWaitMs: z.number().int().positive(),
  /** Deliveries before a job is given up (the gateway fails it with the reason). */
  maxDeliver: z.number().int().min(1),
  /** Server-side de-duplication window for `Nats-Msg-Id` (the job id). */
  duplicateWindowMs: z.number().int().positive(),
  /** Jobs and results older than this are dropped from the streams (absent: kept until acked). */
  maxAgeMs: z.number().int().positive().optional(),
  /** Delay of a `nak` after a retryable failure. */
  nakDelayMs: z.number().int().min(0),
  /** Workers send an in-progress ack this often on long jobs. */
  progressIntervalMs: z.number().int().positive(),
  /**
   * Jobs the gateway holds published and waiting for their result at once (its vault queue
   * claims); GATEWAY_IN_FLIGHT_DEFAULT when absent. Optional: the model may leave it out.
   */
  gatewayInFlight: z.number().int().positive().optional(),
  /** The route groups each host's worker takes, by host name (`cloud` or an Ollama host). */
  workers: z.record(z.string(), z.array(z.string().min(1)).min(1)),
});

export const RuntimeQueueSchema = z
  .strictObject({
    backend: z.enum(QUEUE_BACKENDS),
    jetstream: RuntimeJetStreamSchema.optional(),
  })
  .refine((q) => q.backend !== 'jetstream' || q.jetstream !== undefined, {
    message: 'the jetstream backend needs queue.jetstream',
    path: ['jetstream'],
  });

export type RuntimeJetStream = z.infer<typeof RuntimeJetStreamSchema>;
export type RuntimeQueue = z.infer<typeof RuntimeQueueSchema>;
