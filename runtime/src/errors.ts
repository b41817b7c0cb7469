/*
 * The runtime's error catalogue: a stable code, a message and a hint on how to fix it.
 * Callers switch on `code`; people read `message` and `hint`. `httpStatus` is what the web
 * service answers with; `retryAfterMs` is the provider's retry hint when it gave one.
 */

export const RUNTIME_ERRORS = {
  CONFIG_INVALID: { summary: 'the runtime configuration is invalid', httpStatus: 500 },
  PROVIDER_UNAVAILABLE: { summary: 'the model is unavailable right now', httpStatus: 503 },
  PROVIDER_RATE_LIMITED: { summary: 'the provider rate-limited the request', httpStatus: 429 },
  PROVIDER_TIMEOUT: { summary: 'the provider did not answer in time', httpStatus: 504 },
  PROVIDER_ERROR: { summary: 'the provider returned an error', httpStatus: 502 },
  PROVIDER_AUTH: { summary: 'the provider rejected the credentials', httpStatus: 502 },
  MODEL_UNKNOWN: { summary: 'no route for this model id', httpStatus: 404 },
  MCP_UNAVAILABLE: { summary: 'the MCP tool server is unavailable', httpStatus: 503 },
  MCP_AUTH: { summary: 'the MCP request carried no valid bearer token', httpStatus: 401 },
  MCP_TOOL_INPUT: { summary: 'a tool was called with arguments it cannot use', httpStatus: 400 },
  FETCH_BLOCKED: { summary: 'the URL points at an address the fetch tool may not reach', httpStatus: 403 },
  FETCH_FAILED: { summary: 'the page could not be fetched', httpStatus: 502 },
  SEARCH_UNAVAILABLE: { summary: 'the search engine is unavailable', httpStatus: 503 },
  VAULT_PATH_REFUSED: { summary: 'the vault path is refused', httpStatus: 400 },
  VAULT_NOT_FOUND: { summary: 'no such note in the vault', httpStatus: 404 },
  RESEARCH_BUDGET: { summary: 'the research job ran out of steps, time or tokens', httpStatus: 422 },
  SANDBOX_UNAVAILABLE: { summary: 'the code sandbox cannot run', httpStatus: 503 },
  RAG_UNAVAILABLE: { summary: 'the retrieval service is unavailable', httpStatus: 503 },
  RAG_BAD_REQUEST: { summary: 'the retrieval request is invalid', httpStatus: 400 },
  RAG_INDEX_MISMATCH: { summary: 'the index was built with another embedding model', httpStatus: 409 },
  RAG_STORE_ERROR: { summary: 'a vector or graph store failed', httpStatus: 502 },
  RAG_EMBEDDER: { summary: 'the embedding model failed', httpStatus: 502 },
  JOB_INVALID: { summary: 'the job file is invalid', httpStatus: 400 },
  SKILL_UNKNOWN: { summary: 'the job names a skill that does not exist', httpStatus: 400 },
  QUEUE_IO: { summary: 'a vault queue file operation failed', httpStatus: 500 },
  VAULT_IO: {
    summary: 'the vault storage failed (disk full, quota, I/O error)',
    httpStatus: 503,
    hint: 'free space or fix the disk under the vault; the job is retried with backoff and fails with this reason after the last attempt',
  },
  VAULT_LAYOUT: {
    summary: 'a vault layout folder is missing, not a folder, or a symbolic link',
    httpStatus: 500,
    hint: 'make each layout folder (vault.folders in platform.yaml) a real folder inside the vault, not a link',
  },
  VAULT_UNSAFE: {
    summary: 'a vault path is a link, not a regular file, or outside the vault',
    httpStatus: 400,
    hint: 'put regular files in the vault; links and devices are refused so nothing outside the vault is read',
  },
  FRONTMATTER_INVALID: {
    summary: 'the frontmatter is not a YAML block',
    httpStatus: 400,
    hint: 'open the file with a `---` line, write YAML keys, close with `---`; other languages (---js, ---coffee, ...) are refused',
  },
  QUEUE_LOCKED: {
    summary: 'another worker holds the lease on this vault queue',
    httpStatus: 409,
    hint: 'run one worker per vault; this one takes over when the other stops or misses its heartbeats',
  },
  ANSWER_TOO_LARGE: {
    summary: 'the answer went over the size cap',
    httpStatus: 502,
    hint: 'ask for a shorter answer or raise vault.worker.maxAnswerChars in platform.yaml',
  },
  STORE_ERROR: { summary: 'the local database failed', httpStatus: 500 },
  SERVICE_NOT_BUILT: { summary: 'this runtime service is not built yet', httpStatus: 501 },
  USAGE: { summary: 'the command line was not understood', httpStatus: 400 },
  BAD_REQUEST: { summary: 'the request is malformed or out of bounds', httpStatus: 400 },
  UNAUTHORIZED: { summary: 'the request carries no valid credentials', httpStatus: 401 },
  FORBIDDEN: { summary: 'the credentials do not allow this', httpStatus: 403 },
  NOT_FOUND: { summary: 'no such resource', httpStatus: 404 },
  CONFLICT: { summary: 'the resource is not in a state that allows this', httpStatus: 409 },
  PAYLOAD_TOO_LARGE: { summary: 'the request body is too large', httpStatus: 413 },
  RATE_LIMITED: { summary: 'too many requests from this identity', httpStatus: 429 },
  INTERNAL: { summary: 'an unexpected internal error', httpStatus: 500 },
} as const;

export type RuntimeErrorCode = keyof typeof RUNTIME_ERRORS;

/** The catalogue's default hint for a code, when it has one. */
function catalogueHint(code: RuntimeErrorCode): string {
  const entry = RUNTIME_ERRORS[code];
  return 'hint' in entry ? entry.hint : '';
}

export interface RuntimeErrorOptions {
  /** How to fix it, in words a person can act on. */
  hint?: string;
  /** Overrides the catalogue's default status. */
  httpStatus?: number;
  /** The provider's retry hint, when it gave one. */
  retryAfterMs?: number;
  cause?: unknown;
}

export class RuntimeError extends Error {
  override readonly name = 'RuntimeError';
  readonly code: RuntimeErrorCode;
  readonly hint: string;
  readonly httpStatus: number;
  readonly retryAfterMs?: number;

  constructor(code: RuntimeErrorCode, message: string, opts: RuntimeErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.hint = opts.hint ?? catalogueHint(code);
    this.httpStatus = opts.httpStatus ?? RUNTIME_ERRORS[code].httpStatus;
    if (opts.retryAfterMs !== undefined) this.retryAfterMs = opts.retryAfterMs;
  }

  /** A plain object for logs and JSON answers. */
  toJSON(): { code: RuntimeErrorCode; message: string; hint: string; httpStatus: number; retryAfterMs?: number } {
    return {
      code: this.code,
      message: this.message,
      hint: this.hint,
      httpStatus: this.httpStatus,
      ...(this.retryAfterMs !== undefined ? { retryAfterMs: this.retryAfterMs } : {}),
    };
  }
}

export function isRuntimeError(e: unknown, code?: RuntimeErrorCode): e is RuntimeError {
  return e instanceof RuntimeError && (code === undefined || e.code === code);
}

/** The message of anything thrown, including the cause chain of fetch errors (ECONNREFUSED). */
export function describeError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  let msg = e.message;
  let cause: unknown = (e as { cause?: unknown }).cause;
  for (let depth = 0; cause instanceof Error && depth < 3; depth++) {
    if (!msg.includes(cause.message)) msg += `: ${cause.message}`;
    cause = (cause as { cause?: unknown }).cause;
  }
  return msg;
}

/** Wraps anything thrown that is not already a RuntimeError. */
export function toRuntimeError(e: unknown, code: RuntimeErrorCode = 'INTERNAL', hint?: string): RuntimeError {
  if (e instanceof RuntimeError) return e;
  return new RuntimeError(code, describeError(e), { cause: e, ...(hint !== undefined ? { hint } : {}) });
}
