import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { RuntimeJetStream } from '@platform/contract';
import { RuntimeError, type RuntimeErrorCode, RUNTIME_ERRORS } from '../errors.js';

/*
 * What the gateway and the workers say to each other over JetStream, and where. Both directions
 * are untrusted input to the side that reads them: each message is size-bounded, parsed as JSON
 * and validated here before anything acts on it.
 *
 *   job     <prefix>.run.<group>               {v, jobId, name, group, job (base64 bytes), system?}
 *   result  <prefix>.result.<group>.<job key>  {v, jobId, status, model?, body?, tokens, durationMs, error?, worker}
 *
 * Both carry Nats-Msg-Id = the job id, so the server drops a second publish of either within its
 * duplicate window. A result's subject names its job (the job key: the id itself when it is a
 * valid subject token, else a hash of it), so "is there a result for this job already" is one
 * direct lookup of the last message on that subject.
 */

/** A job id, the name and the system prompt are bounded; the job's bytes by vault.worker.maxJobBytes. */
const MAX_ID = 200;
const MAX_NAME = 1_024;
const MAX_SYSTEM = 1_048_576;
const MAX_ERROR_TEXT = 8_192;

export function jobSubject(js: Pick<RuntimeJetStream, 'subjectPrefix'>, group: string): string {
  return `${js.subjectPrefix}.run.${group}`;
}

export function resultSubject(js: Pick<RuntimeJetStream, 'subjectPrefix'>, group: string, jobId: string): string {
  return `${js.subjectPrefix}.result.${group}.${jobKey(jobId)}`;
}

/** Every result subject (the results stream and the gateway's consumer). */
export function resultSubjects(js: Pick<RuntimeJetStream, 'subjectPrefix'>): string {
  return `${js.subjectPrefix}.result.>`;
}

/** Nats-Msg-Id of a job's run and of its result: the job id (a later run of a failed id: `<id>.r<run>`). */
export function msgId(jobId: string, run: number): string {
  return run === 0 ? jobId : `${jobId}.r${run}`;
}

/** A job id as one subject token: itself when it is one, else `h-` and a hash (ids may hold dots or spaces). */
export function jobKey(jobId: string): string {
  return /^[A-Za-z0-9_-]{1,64}$/.test(jobId) && !jobId.startsWith('h-')
    ? jobId
    : `h-${createHash('sha256').update(jobId).digest('hex').slice(0, 40)}`;
}

/** A route group as a subject token: what routeGroup() gives (a host name or `cloud`). */
export const GroupSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a route group (letters, digits, _ and -)');

export const JobMessageSchema = z.strictObject({
  v: z.literal(1),
  jobId: z.string().min(1).max(MAX_ID),
  name: z.string().min(1).max(MAX_NAME),
  group: GroupSchema,
  /** The run of this id: 0, then one more for each earlier run that failed (a failed job dropped in again). */
  run: z.number().int().min(0).max(1_000_000),
  /** The job file's bytes, base64. */
  job: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64'),
  system: z.string().max(MAX_SYSTEM).optional(),
});
export type JobMessage = z.infer<typeof JobMessageSchema>;

const ErrorSchema = z.strictObject({
  code: z.string().max(64),
  message: z.string().max(MAX_ERROR_TEXT),
  hint: z.string().max(MAX_ERROR_TEXT).optional(),
});

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const ResultMessageSchema = z.discriminatedUnion('status', [
  z.strictObject({
    v: z.literal(1),
    jobId: z.string().min(1).max(MAX_ID),
    run: z.number().int().min(0).max(1_000_000),
    status: z.literal('completed'),
    model: z.string().min(1).max(MAX_NAME),
    body: z.string(),
    tokensIn: count,
    tokensOut: count,
    durationMs: count,
    worker: z.string().max(MAX_NAME),
  }),
  z.strictObject({
    v: z.literal(1),
    jobId: z.string().min(1).max(MAX_ID),
    run: z.number().int().min(0).max(1_000_000),
    status: z.literal('failed'),
    error: ErrorSchema,
    durationMs: count,
    worker: z.string().max(MAX_NAME),
  }),
]);
export type ResultMessage = z.infer<typeof ResultMessageSchema>;

export function encode(msg: JobMessage | ResultMessage): Uint8Array {
  return Buffer.from(JSON.stringify(msg), 'utf8');
}

/** Parses a message: size first, then JSON, then the schema. Throws BROKER_MESSAGE_INVALID. */
export function decode<T>(schema: z.ZodType<T>, data: Uint8Array, maxBytes: number): T {
  if (data.byteLength > maxBytes) {
    throw new RuntimeError('BROKER_MESSAGE_INVALID', `the message is ${data.byteLength} bytes; at most ${maxBytes} are read`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch {
    throw new RuntimeError('BROKER_MESSAGE_INVALID', 'the message is not JSON');
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RuntimeError(
      'BROKER_MESSAGE_INVALID',
      `the message does not match its schema: ${issue ? `${issue.path.join('.') || '(top level)'}: ${issue.message}` : 'invalid'}`,
    );
  }
  return parsed.data;
}

/** The error a failed result carries, as a RuntimeError (an unknown code becomes INTERNAL, keeping the text). */
export function resultError(e: ResultMessage & { status: 'failed' }): RuntimeError {
  const known = Object.hasOwn(RUNTIME_ERRORS, e.error.code);
  const code = (known ? e.error.code : 'INTERNAL') as RuntimeErrorCode;
  const message = known ? e.error.message : `${e.error.code}: ${e.error.message}`;
  return new RuntimeError(code, message, e.error.hint !== undefined ? { hint: e.error.hint } : {});
}

/** Bytes a job message may take: the job, base64, plus the system prompt and the envelope. */
export function maxJobMessageBytes(maxJobBytes: number): number {
  return Math.ceil(maxJobBytes / 3) * 4 + MAX_SYSTEM + 64 * 1_024;
}

/** Bytes a result may take: the body (answers are bounded by the model) plus the envelope. */
export function maxResultBytes(maxAnswerChars: number, maxChainSteps: number): number {
  return maxAnswerChars * 4 * Math.max(1, maxChainSteps) + 64 * 1_024;
}
