import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { RuntimeError, isRuntimeError, type RuntimeErrorCode } from '../errors.js';
import type { Identity } from './auth.js';
import { isOpenAiPath, openAiErrorBody } from './plugins/openai/errors.js';

/*
 * Request plumbing the feature plugins share: body and query parsing with zod (a bad field is a
 * 400 that names it), write-scope checks, and the `{code, message, hint}` error body.
 */

declare module 'fastify' {
  interface FastifyRequest {
    identity: Identity | undefined;
  }
}

export function httpError(code: RuntimeErrorCode, message: string, hint?: string, httpStatus?: number): RuntimeError {
  return new RuntimeError(code, message, { ...(hint ? { hint } : {}), ...(httpStatus ? { httpStatus } : {}) });
}

export function parse<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `${where}${i.path.length ? `.${i.path.map(String).join('.')}` : ''}: ${i.message}`);
  throw httpError('BAD_REQUEST', lines.join('; '), 'fix the fields named and send again');
}

/** Refuses read-only identities on a route that changes something. */
export function requireWrite(req: FastifyRequest): void {
  if (req.identity?.scope !== 'write')
    throw httpError('FORBIDDEN', 'this API token is read-only', 'create a token with scope write for this action');
}

export interface ErrorBody {
  code: string;
  message: string;
  hint?: string;
}

export function errorBody(e: RuntimeError): ErrorBody {
  return { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) };
}

export function sendError(reply: FastifyReply, e: RuntimeError): FastifyReply {
  if (e.retryAfterMs !== undefined) void reply.header('retry-after', String(Math.max(1, Math.ceil(e.retryAfterMs / 1000))));
  // The OpenAI-compatible API answers in OpenAI's error shape, whoever raised the error.
  const body = isOpenAiPath(reply.request.url) ? openAiErrorBody(e) : errorBody(e);
  return reply.code(e.httpStatus).type('application/json').send(body);
}

/** Maps fastify's own errors (bad JSON, body too large, wrong content type) onto the catalogue. */
export function toHttpError(e: unknown): RuntimeError {
  if (isRuntimeError(e)) return e;
  const fe = e as { code?: string; statusCode?: number; message?: string };
  const msg = fe.message ?? 'bad request';
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return httpError('PAYLOAD_TOO_LARGE', msg, 'send a smaller body');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return httpError('BAD_REQUEST', msg, 'send JSON with Content-Type: application/json', 415);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return httpError('BAD_REQUEST', msg, 'send a valid JSON body');
    default:
      break;
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500)
    return httpError('BAD_REQUEST', msg, undefined, fe.statusCode);
  return new RuntimeError('INTERNAL', 'an unexpected error; the server log has the details', { cause: e });
}

export const IdParam = z.strictObject({ id: z.uuid() });
