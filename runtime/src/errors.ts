import { defineErrors, type CatalogErrorOptions } from '@platform/contract';

/*
 * The runtime's error catalogue: a stable code, a message and a hint on how to fix it.
 * Callers switch on `code`; people read `message` and `hint`. `httpStatus` is what the web
 * service answers with; `retryAfterMs` is the provider's retry hint when it gave one. A thrower
 * that knows more (the key to set, the model to pull) gives its own hint.
 */

export const RUNTIME_ERRORS = {
  CONFIG_INVALID: {
    message: 'the runtime configuration is invalid',
    httpStatus: 500,
    hint: 'run `make render` to regenerate runtime.json and check the environment variables it names',
  },
  PROVIDER_UNAVAILABLE: {
    message: 'the model is unavailable right now',
    httpStatus: 503,
    hint: 'wait for the provider or its host to come back, or pick another model yourself',
  },
  PROVIDER_RATE_LIMITED: {
    message: 'the provider rate-limited the request',
    httpStatus: 429,
    hint: 'retry later, or pick a model on another provider',
  },
  PROVIDER_TIMEOUT: {
    message: 'the provider did not answer in time',
    httpStatus: 504,
    hint: 'retry, or raise timeoutSeconds for the route in platform.yaml',
  },
  PROVIDER_ERROR: {
    message: 'the provider returned an error',
    httpStatus: 502,
    hint: "retry; if it persists, read the provider's message above and its status page",
  },
  PROVIDER_AUTH: {
    message: 'the provider rejected the credentials',
    httpStatus: 502,
    hint: 'check the API key secret named in routing.providers',
  },
  MODEL_UNKNOWN: { message: 'no route for this model id', httpStatus: 404, hint: 'use a model id from routing.models in platform.yaml' },
  MCP_UNAVAILABLE: {
    message: 'the MCP tool server is unavailable',
    httpStatus: 503,
    hint: 'start the mcp service, or check services.mcpUrl in runtime.json',
  },
  MCP_AUTH: {
    message: 'the MCP request carried no valid bearer token',
    httpStatus: 401,
    hint: 'send the token from the MCP auth secret (mcp.authTokenSecret) as `Authorization: Bearer <token>`',
  },
  MCP_TOOL_INPUT: {
    message: 'a tool was called with arguments it cannot use',
    httpStatus: 400,
    hint: 'call the tool with the arguments its input schema lists (tools/list shows them)',
  },
  FETCH_BLOCKED: {
    message: 'the URL points at an address the fetch tool may not reach',
    httpStatus: 403,
    hint: 'fetch public http(s) URLs only, or add the host:port to mcp.fetch.allowHosts in platform.yaml',
  },
  FETCH_FAILED: {
    message: 'the page could not be fetched',
    httpStatus: 502,
    hint: 'check the URL in a browser; retry later if the site is down or slow',
  },
  SEARCH_UNAVAILABLE: {
    message: 'the search engine is unavailable',
    httpStatus: 503,
    hint: 'set mcp.search.searxngUrl in platform.yaml and check that SearXNG answers',
  },
  VAULT_PATH_REFUSED: {
    message: 'the vault path is refused',
    httpStatus: 400,
    hint: 'use a relative path to a note inside the vault, in a folder the tool may write (mcp.vault.writableFolders)',
  },
  VAULT_NOT_FOUND: {
    message: 'no such note in the vault',
    httpStatus: 404,
    hint: "list the vault's notes to find the path, and check its spelling",
  },
  RESEARCH_BUDGET: {
    message: 'the research job ran out of steps, time or tokens',
    httpStatus: 422,
    hint: 'narrow the question, or raise mcp.research.maxSteps, timeoutSeconds or maxTokens in platform.yaml',
  },
  SANDBOX_UNAVAILABLE: {
    message: 'the code sandbox cannot run',
    httpStatus: 503,
    hint: 'install bubblewrap in the runtime image and give services.mcp "sandbox: bubblewrap"',
  },
  RAG_UNAVAILABLE: {
    message: 'the retrieval service is unavailable',
    httpStatus: 503,
    hint: 'start the rag service, or check services.ragUrl in runtime.json',
  },
  RAG_BAD_REQUEST: {
    message: 'the retrieval request is invalid',
    httpStatus: 400,
    hint: 'send a query the retrieval API accepts; the message names the field',
  },
  RAG_INDEX_MISMATCH: {
    message: 'the index was built with another embedding model',
    httpStatus: 409,
    hint: 're-index with `runtime index` after changing routing.embedding, or switch the embedding model back',
  },
  RAG_STORE_ERROR: {
    message: 'a vector or graph store failed',
    httpStatus: 502,
    hint: 'check that Qdrant and Neo4j answer at the URLs in runtime.json (services.qdrantUrl, services.neo4jUri)',
  },
  RAG_EMBEDDER: {
    message: 'the embedding model failed',
    httpStatus: 502,
    hint: 'check that the embedding model in routing.embedding is pulled on its Ollama host',
  },
  AGENT_OUTPUT_INVALID: {
    message: "the model's answer is not the structure the agent asked for",
    httpStatus: 502,
    hint: 'run the job again (models drift), or pick a model that follows JSON instructions for the schedule',
  },
  JOB_INVALID: {
    message: 'the job file is invalid',
    httpStatus: 400,
    hint: "fix the job file's frontmatter and drop it into the queue again",
  },
  SKILL_UNKNOWN: {
    message: 'the job names a skill that does not exist',
    httpStatus: 400,
    hint: "name a skill from the vault's skills folder",
  },
  QUEUE_IO: {
    message: 'a vault queue file operation failed',
    httpStatus: 500,
    hint: 'check that the vault is mounted, writable and not full',
  },
  VAULT_IO: {
    message: 'the vault storage failed (disk full, quota, I/O error)',
    httpStatus: 503,
    hint: 'free space or fix the disk under the vault; the job is retried with backoff and fails with this reason after the last attempt',
  },
  VAULT_LAYOUT: {
    message: 'a vault layout folder is missing, not a folder, or a symbolic link',
    httpStatus: 500,
    hint: 'make each layout folder (vault.folders in platform.yaml) a real folder inside the vault, not a link',
  },
  VAULT_UNSAFE: {
    message: 'a vault path is a link, not a regular file, or outside the vault',
    httpStatus: 400,
    hint: 'put regular files in the vault; links and devices are refused so nothing outside the vault is read',
  },
  FRONTMATTER_INVALID: {
    message: 'the frontmatter is not a YAML block',
    httpStatus: 400,
    hint: 'open the file with a `---` line, write YAML keys, close with `---`; other languages (---js, ---coffee, ...) are refused',
  },
  JOB_UNROUTABLE: {
    message: "no worker takes the route group of this job's model",
    httpStatus: 422,
    hint: "give a host's worker that route group (nats workers in platform.yaml), or use a model whose group a worker takes",
  },
  JOB_GIVEN_UP: {
    message: 'the job was delivered to workers as often as allowed and no result came back',
    httpStatus: 500,
    hint: "check the workers' logs around the job id (a job that crashes or stalls its worker); raise nats maxDeliver or drop the file into the queue again",
  },
  BROKER_UNAVAILABLE: {
    message: 'the NATS JetStream queue cannot be reached',
    httpStatus: 503,
    hint: 'check that the NATS cluster is up and that queue.jetstream.servers and the NATS credentials are right; jobs wait in the vault queue meanwhile',
  },
  BROKER_MESSAGE_INVALID: {
    message: 'a queue message is malformed',
    httpStatus: 400,
    hint: 'only the gateway and the workers publish on the queue subjects; check the NATS permissions',
  },
  QUEUE_LOCKED: {
    message: 'another worker holds the lease on this vault queue',
    httpStatus: 409,
    hint: 'run one worker per vault; this one takes over when the other stops or misses its heartbeats',
  },
  ANSWER_TOO_LARGE: {
    message: 'the answer went over the size cap',
    httpStatus: 502,
    hint: 'ask for a shorter answer or raise vault.worker.maxAnswerChars in platform.yaml',
  },
  STORE_ERROR: { message: 'the local database failed', httpStatus: 500, hint: 'check that DATA_DIR is writable and has free space' },
  SERVICE_NOT_BUILT: {
    message: 'this runtime service is not built yet',
    httpStatus: 501,
    hint: 'run a service this version ships (`runtime --help` lists them)',
  },
  USAGE: { message: 'the command line was not understood', httpStatus: 400, hint: 'run `runtime --help` for the commands' },
  BAD_REQUEST: {
    message: 'the request is malformed or out of bounds',
    httpStatus: 400,
    hint: "fix the request as the message says; the API's limits are in the message",
  },
  UNAUTHORIZED: { message: 'the request carries no valid credentials', httpStatus: 401, hint: 'sign in again, or send valid credentials' },
  FORBIDDEN: { message: 'the credentials do not allow this', httpStatus: 403, hint: 'use an identity that is allowed this action' },
  NOT_FOUND: { message: 'no such resource', httpStatus: 404, hint: 'check the id or path in the request' },
  CONFLICT: {
    message: 'the resource is not in a state that allows this',
    httpStatus: 409,
    hint: 'reload the resource and try again once it is in the state the action needs',
  },
  PAYLOAD_TOO_LARGE: {
    message: 'the request body is too large',
    httpStatus: 413,
    hint: 'send a smaller body; the limit is in the message',
  },
  RATE_LIMITED: { message: 'too many requests from this identity', httpStatus: 429, hint: 'wait a little and retry' },
  INTERNAL: {
    message: 'an unexpected internal error',
    httpStatus: 500,
    hint: 'this is a bug in the runtime: report it with the log lines around it',
  },
} as const;

export type RuntimeErrorCode = keyof typeof RUNTIME_ERRORS;

export interface RuntimeErrorOptions extends CatalogErrorOptions {
  /** The provider's retry hint, when it gave one. */
  retryAfterMs?: number;
}

export class RuntimeError extends defineErrors('RuntimeError', RUNTIME_ERRORS) {
  // Every runtime code has a status, so the runtime's errors always carry one.
  declare readonly httpStatus: number;
  readonly retryAfterMs?: number;

  constructor(code: RuntimeErrorCode, message: string, opts: RuntimeErrorOptions = {}) {
    super(code, message, opts);
    if (opts.retryAfterMs !== undefined) this.retryAfterMs = opts.retryAfterMs;
  }

  /** A plain object for logs and JSON answers. */
  override toJSON(): { code: RuntimeErrorCode; message: string; hint: string; httpStatus: number; retryAfterMs?: number } {
    return {
      ...super.toJSON(),
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
