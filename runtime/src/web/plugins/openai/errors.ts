import { RuntimeError, type RuntimeErrorCode } from '../../../errors.js';

/*
 * Errors on /v1 speak OpenAI's shape, `{error: {message, type, param, code}}`, because the
 * clients that call it (the `openai` SDKs, editors, agents) read that and nothing else. The
 * status codes are the platform's; `type` and `code` follow what api.openai.com sends for the
 * same status, so a client's retry and error handling do the right thing.
 */

export interface OpenAiErrorBody {
  error: {
    message: string;
    type: string;
    param: string | null;
    code: string | null;
  };
}

// The request field an error is about, when it is about one (kept beside the error, not in it).
const params = new WeakMap<RuntimeError, string>();

/** A 400 about one request field, e.g. `messages[2].role`. */
export function invalidParam(param: string, message: string, hint?: string): RuntimeError {
  const e = new RuntimeError('BAD_REQUEST', message, hint ? { hint } : {});
  params.set(e, param);
  return e;
}

/** An error of another code about one request field. */
export function withParam<E extends RuntimeError>(e: E, param: string): E {
  params.set(e, param);
  return e;
}

const TYPE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'invalid_request_error',
  403: 'permission_error',
  404: 'invalid_request_error',
  409: 'invalid_request_error',
  413: 'invalid_request_error',
  415: 'invalid_request_error',
  429: 'rate_limit_error',
};

const CODE_BY_CODE: Partial<Record<RuntimeErrorCode, string>> = {
  UNAUTHORIZED: 'invalid_api_key',
  FORBIDDEN: 'insufficient_permissions',
  MODEL_UNKNOWN: 'model_not_found',
  PAYLOAD_TOO_LARGE: 'request_too_large',
  RATE_LIMITED: 'rate_limit_exceeded',
  PROVIDER_RATE_LIMITED: 'rate_limit_exceeded',
  PROVIDER_UNAVAILABLE: 'model_unavailable',
  PROVIDER_TIMEOUT: 'provider_timeout',
  PROVIDER_ERROR: 'provider_error',
  PROVIDER_AUTH: 'provider_auth_error',
  NOT_FOUND: 'not_found',
  BAD_REQUEST: 'invalid_request',
  INTERNAL: 'internal_error',
};

export function openAiErrorBody(e: RuntimeError): OpenAiErrorBody {
  const status = e.httpStatus;
  const type = TYPE_BY_STATUS[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error');
  const message = e.hint ? `${e.message} (${e.hint})` : e.message;
  return { error: { message, type, param: params.get(e) ?? null, code: CODE_BY_CODE[e.code] ?? e.code.toLowerCase() } };
}

/** True for a request path the OpenAI-compatible API serves (its errors use OpenAI's shape). */
export function isOpenAiPath(url: string): boolean {
  return url === '/v1' || url.startsWith('/v1/') || url.startsWith('/v1?');
}
