import { SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { HOSTED_PROVIDERS, type HostedProvider, type RuntimeConfig, type RuntimeRoute } from '../config/index.js';
import { RuntimeError, describeError, toRuntimeError } from '../errors.js';
import type { Logger } from '../log.js';
import { AnthropicProvider } from '../providers/anthropic.js';
import { OllamaProvider } from '../providers/ollama.js';
import { OpenAiCompatibleProvider } from '../providers/openai-compatible.js';
import { formatMs } from '../providers/retry-hint.js';
import type { ChatEvent, ChatRequest, LlmProvider, Usage } from '../providers/types.js';
import type { CallOutcome, UsageRecorder } from '../store/usage.js';
import type { Metrics } from '../telemetry/metrics.js';

// Literal GenAI semantic-convention names (not imported from telemetry/index, which loads the SDK).
const GEN_AI_SYSTEM = 'gen_ai.system';
const GEN_AI_MODEL = 'gen_ai.request.model';

/*
 * Model id -> route -> provider. The router never falls back to another model: an unavailable
 * model is an immediate PROVIDER_UNAVAILABLE (503) with the reason. Health-gated Ollama hosts
 * are checked in the background; their state changes are logged and handed to a callback.
 */

export type ChatMode = 'chat' | 'job';

// A type alias (not an interface) so it fits callbacks typed with an index signature.
export type RateLimitNotice = {
  provider: string;
  model: string;
  /** 1 for the first retry. */
  attempt: number;
  maxRetries: number;
  /** What the provider asked for, when it said. */
  retryAfterMs: number | undefined;
  /** How long the router waits before the retry. */
  waitMs: number;
  error: RuntimeError;
};

export interface RouterChatOptions {
  signal?: AbortSignal;
  mode: ChatMode;
  /** Job mode: called before each wait, so the caller can say the job is held. */
  onRateLimited?: (notice: RateLimitNotice) => void;
  /** Recorded on the usage row. */
  jobId?: string;
  sessionId?: string;
  /** Who asked (recorded on the usage row and the span). */
  client?: string;
  /** The API token the request came in on. */
  tokenId?: string;
}

export interface EmbedOptions {
  signal?: AbortSignal;
  mode?: ChatMode;
  client?: string;
  tokenId?: string;
}

export interface ModelInfo {
  id: string;
  label: string;
  purpose: string;
  provider: RuntimeRoute['provider'];
  host?: string;
  healthGated: boolean;
  isDefault: boolean;
  available: boolean;
  reason?: string;
}

export type HostState = 'unknown' | 'up' | 'down';

export interface HostStatus {
  host: string;
  url: string;
  state: HostState;
  reason?: string;
  /** ms since epoch of the last check. */
  checkedAt?: number;
  latencyMs?: number;
}

export interface HostStateChange {
  provider: 'ollama';
  host: string;
  url: string;
  previous: HostState;
  state: Exclude<HostState, 'unknown'>;
  reason?: string;
  at: Date;
}

export interface RouterDeps {
  config: RuntimeConfig;
  log: Logger;
  metrics?: Metrics;
  usage?: UsageRecorder;
  /** Called on every health state change (not on the first "up"). */
  onStateChange?: (change: HostStateChange) => void;
  now?: () => number;
}

interface HostedEntry {
  provider: LlmProvider | undefined;
  /** Why it is absent, e.g. "GROQ_API_KEY is not set". */
  missing?: string;
  retries: number;
  maxRetryWaitMs: number;
}

const OUTCOME_BY_CODE: Partial<Record<string, CallOutcome>> = {
  PROVIDER_RATE_LIMITED: 'rate_limited',
  PROVIDER_TIMEOUT: 'timeout',
  PROVIDER_UNAVAILABLE: 'unavailable',
};

export class Router {
  private readonly config: RuntimeConfig;
  private readonly log: Logger;
  private readonly metrics: Metrics | undefined;
  private readonly usage: UsageRecorder | undefined;
  private readonly onStateChange: ((c: HostStateChange) => void) | undefined;
  private readonly now: () => number;
  private readonly routes = new Map<string, RuntimeRoute>();
  private readonly ollama = new Map<string, OllamaProvider>();
  private readonly hosted = new Map<HostedProvider, HostedEntry>();
  private readonly gated = new Map<string, HostStatus>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private inflight: Promise<void> | undefined;

  constructor(deps: RouterDeps) {
    this.config = deps.config;
    this.log = deps.log.child({ component: 'router' });
    this.metrics = deps.metrics;
    this.usage = deps.usage;
    this.onStateChange = deps.onStateChange;
    this.now = deps.now ?? Date.now;
    for (const [host, url] of Object.entries(this.config.ollamaHosts)) this.ollama.set(host, new OllamaProvider({ host, baseUrl: url }));
    for (const r of this.config.routing.models) {
      this.routes.set(r.id, r);
      if (r.provider === 'ollama' && r.healthGated && r.host && !this.gated.has(r.host)) {
        this.gated.set(r.host, { host: r.host, url: this.config.ollamaHosts[r.host] ?? '', state: 'unknown' });
      }
    }
    for (const kind of HOSTED_PROVIDERS) {
      const p = this.config.providers[kind];
      const key = this.config.secrets.providers[kind];
      const entry: HostedEntry = { provider: undefined, retries: p.rateLimitRetries, maxRetryWaitMs: p.maxRetryWaitMs };
      if (!key) entry.missing = `${p.apiKeySecret} is not set`;
      else if (kind === 'anthropic') {
        entry.provider = new AnthropicProvider({ baseUrl: p.baseUrl, apiKey: key, apiKeySecret: p.apiKeySecret, defaultMaxTokens: this.config.providers.anthropic.defaultMaxTokens });
      } else entry.provider = new OpenAiCompatibleProvider({ kind, baseUrl: p.baseUrl, apiKey: key, apiKeySecret: p.apiKeySecret });
      this.hosted.set(kind, entry);
    }
  }

  /** Every model in the routing table, with whether it can be used now and why not. */
  models(): ModelInfo[] {
    return this.config.routing.models.map((r) => {
      const a = this.availability(r);
      const info: ModelInfo = {
        id: r.id,
        label: r.label,
        purpose: r.purpose,
        provider: r.provider,
        healthGated: r.healthGated,
        isDefault: r.id === this.config.routing.default,
        available: a.available,
      };
      if (r.host) info.host = r.host;
      if (a.reason) info.reason = a.reason;
      return info;
    });
  }

  get defaultModel(): string {
    return this.config.routing.default;
  }

  route(modelId: string): RuntimeRoute {
    const r = this.routes.get(modelId);
    if (!r) {
      throw new RuntimeError('MODEL_UNKNOWN', `no route for model "${modelId}"`, {
        hint: `use one of: ${[...this.routes.keys()].join(', ')} (routing.models in platform.yaml)`,
      });
    }
    return r;
  }

  hostStatuses(): HostStatus[] {
    return [...this.gated.values()].map((s) => ({ ...s }));
  }

  /** Streams a chat completion from exactly the model asked for. */
  async *chat(modelId: string, req: Omit<ChatRequest, 'model'> & { model?: string }, opts: RouterChatOptions): AsyncGenerator<ChatEvent> {
    const route = this.route(modelId);
    const label = { provider: route.provider, model: route.id };
    const a = this.availability(route);
    const provider = this.providerFor(route);
    if (!a.available || !provider) {
      const reason = a.reason ?? `${route.provider} is not configured`;
      this.finish(route, opts, new Date(), undefined, 'unavailable', 'PROVIDER_UNAVAILABLE');
      this.log.warn('model unavailable', { ...label, reason });
      throw new RuntimeError('PROVIDER_UNAVAILABLE', `${route.id} is unavailable: ${reason}`, {
        hint: route.provider === 'ollama' ? 'wait for the host to come back, or pick another model yourself' : 'set the API key, or pick another model yourself',
        httpStatus: 503,
      });
    }
    const budget = route.provider === 'ollama' ? { retries: 0, maxRetryWaitMs: 0 } : this.hosted.get(route.provider)!;
    let waited = 0;
    for (let attempt = 0; ; attempt++) {
      const started = new Date();
      const span = trace.getTracer('platform-runtime').startSpan(`chat ${route.id}`, {
        attributes: {
          [GEN_AI_SYSTEM]: route.provider,
          'gen_ai.operation.name': 'chat',
          [GEN_AI_MODEL]: route.id,
          ...(req.maxTokens ?? route.maxTokens ? { 'gen_ai.request.max_tokens': req.maxTokens ?? route.maxTokens } : {}),
          'platform.chat.mode': opts.mode,
          'platform.attempt': attempt + 1,
          ...(opts.jobId ? { 'platform.job.id': opts.jobId } : {}),
          ...(opts.client ? { 'platform.client': opts.client } : {}),
        },
      });
      let usage: Usage | undefined;
      let yielded = false;
      let recorded = false;
      try {
        for await (const ev of provider.chat(
          { ...req, model: route.id, ...(req.maxTokens ?? route.maxTokens ? { maxTokens: req.maxTokens ?? route.maxTokens } : {}) },
          { ...(opts.signal ? { signal: opts.signal } : {}), timeoutMs: route.timeoutMs },
        )) {
          if (ev.type === 'usage') usage = ev.usage;
          if (ev.type === 'done') {
            recorded = true;
            this.finish(route, opts, started, usage, ev.reason === 'aborted' ? 'aborted' : 'ok', undefined, span, ev.reason);
          }
          yielded = true;
          yield ev;
        }
        return;
      } catch (e) {
        const err = toRuntimeError(e, 'PROVIDER_ERROR');
        recorded = true;
        this.finish(route, opts, started, usage, OUTCOME_BY_CODE[err.code] ?? 'error', err.code, span, undefined, err);
        if (err.code !== 'PROVIDER_RATE_LIMITED') {
          this.log.warn('provider call failed', { ...label, code: err.code, error: err.message });
          throw err;
        }
        this.log.warn('provider rate-limited', {
          ...label,
          mode: opts.mode,
          attempt: attempt + 1,
          retryAfterMs: err.retryAfterMs,
          retryHint: err.hint,
        });
        // A retry after text went out would repeat it; only a refusal up front is retried.
        if (opts.mode !== 'job' || yielded) throw this.rateLimited(err, route, opts.mode === 'job' ? 'the stream had already started' : undefined);
        if (attempt >= budget.retries) throw this.rateLimited(err, route, `gave up after ${budget.retries} retr${budget.retries === 1 ? 'y' : 'ies'}`);
        const waitMs = err.retryAfterMs ?? Math.min(1000 * 2 ** attempt, budget.maxRetryWaitMs);
        if (waited + waitMs > budget.maxRetryWaitMs) {
          throw this.rateLimited(err, route, `waiting ${formatMs(waitMs)} more would pass the ${formatMs(budget.maxRetryWaitMs)} retry budget`);
        }
        waited += waitMs;
        try {
          opts.onRateLimited?.({ provider: route.provider, model: route.id, attempt: attempt + 1, maxRetries: budget.retries, retryAfterMs: err.retryAfterMs, waitMs, error: err });
        } catch (cbErr) {
          this.log.warn('onRateLimited callback threw', { error: describeError(cbErr) });
        }
        if (!(await sleep(waitMs, opts.signal))) {
          yield { type: 'done', reason: 'aborted' };
          return;
        }
      } finally {
        // The consumer stopped iterating early: the provider stream was closed by its own finally.
        if (!recorded) this.finish(route, opts, started, usage, 'aborted', undefined, span, 'aborted');
      }
    }
  }

  /** The embedding model every text is embedded with, and where it runs. */
  get embeddingModel(): { id: string; host: string; dimensions: number; available: boolean; reason?: string } {
    const { model, host, dimensions } = this.config.routing.embedding;
    const status = this.gated.get(host);
    return { id: model, host, dimensions, available: status?.state !== 'down', ...(status?.state === 'down' ? { reason: this.downReason(status) } : {}) };
  }

  /**
   * Embeddings from the configured embedding model on its Ollama host; recorded like a chat
   * call (usage row, metrics, span) so the usage page sees them too.
   */
  async embed(input: string[], opts: EmbedOptions = {}): Promise<number[][]> {
    return (await this.embedCounted(input, opts)).embeddings;
  }

  /** Like embed(), with the prompt tokens the host counted. */
  async embedCounted(input: string[], opts: EmbedOptions = {}): Promise<{ embeddings: number[][]; inputTokens: number }> {
    const { model, host } = this.config.routing.embedding;
    const route: RuntimeRoute = { id: model, provider: 'ollama', host, purpose: 'embedding', label: model, timeoutMs: this.config.routing.ollama.timeoutMs, healthGated: this.gated.has(host) };
    const callOpts: RouterChatOptions = { mode: opts.mode ?? 'chat', ...(opts.client ? { client: opts.client } : {}), ...(opts.tokenId ? { tokenId: opts.tokenId } : {}) };
    const started = new Date();
    const status = this.gated.get(host);
    if (status?.state === 'down') {
      this.finish(route, callOpts, started, undefined, 'unavailable', 'PROVIDER_UNAVAILABLE');
      throw new RuntimeError('PROVIDER_UNAVAILABLE', `embedding model ${model} is unavailable: ${this.downReason(status)}`, { hint: `wait for ${host} to come back; retrieval needs its embedding model`, httpStatus: 503 });
    }
    const p = this.ollama.get(host);
    if (!p) throw new RuntimeError('CONFIG_INVALID', `embedding host ${host} is not in ollamaHosts`, { hint: 'run `make render`: routing.embedding.host must be a host that runs Ollama' });
    const span = trace.getTracer('platform-runtime').startSpan(`embeddings ${model}`, {
      attributes: { [GEN_AI_SYSTEM]: 'ollama', 'gen_ai.operation.name': 'embeddings', [GEN_AI_MODEL]: model, 'platform.chat.mode': callOpts.mode, ...(opts.client ? { 'platform.client': opts.client } : {}) },
    });
    const t0 = performance.now();
    try {
      const r = await p.embedCounted(model, input, { ...(opts.signal ? { signal: opts.signal } : {}), timeoutMs: this.config.routing.ollama.timeoutMs });
      this.finish(route, callOpts, started, { inputTokens: r.inputTokens, outputTokens: 0, durationMs: Math.round(performance.now() - t0) }, 'ok', undefined, span, 'stop');
      return r;
    } catch (e) {
      const err = toRuntimeError(e, 'PROVIDER_ERROR');
      this.finish(route, callOpts, started, undefined, OUTCOME_BY_CODE[err.code] ?? 'error', err.code, span, undefined, err);
      throw err;
    }
  }

  /** Starts background health checks; resolves after the first round. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.checkNow();
    this.schedule();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.inflight;
  }

  /** Checks every health-gated host once. */
  async checkNow(): Promise<void> {
    if (this.inflight) return this.inflight;
    this.inflight = Promise.all([...this.gated.values()].map((s) => this.checkHost(s))).then(() => undefined);
    try {
      await this.inflight;
    } finally {
      this.inflight = undefined;
    }
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      void this.checkNow().finally(() => this.schedule());
    }, this.config.routing.health.intervalMs);
    this.timer.unref();
  }

  private async checkHost(s: HostStatus): Promise<void> {
    const p = this.ollama.get(s.host);
    if (!p) return;
    const h = await p.health(this.config.routing.health.timeoutMs);
    const previous = s.state;
    s.state = h.ok ? 'up' : 'down';
    s.checkedAt = this.now();
    s.latencyMs = h.latencyMs;
    if (h.ok) delete s.reason;
    else s.reason = h.reason ?? 'health check failed';
    this.metrics?.set('platform_provider_up', h.ok ? 1 : 0, { provider: 'ollama', host: s.host });
    if (previous === s.state) return;
    const fields = { provider: 'ollama', host: s.host, url: s.url, previous, state: s.state, ...(s.reason ? { reason: s.reason } : {}) };
    if (h.ok) this.log.info('provider host is up', fields);
    else this.log.warn('provider host is down', fields);
    // Starting up with the host reachable is not news.
    if (previous === 'unknown' && h.ok) return;
    const change: HostStateChange = { provider: 'ollama', host: s.host, url: s.url, previous, state: s.state, at: new Date(s.checkedAt), ...(s.reason ? { reason: s.reason } : {}) };
    try {
      this.onStateChange?.(change);
    } catch (e) {
      this.log.warn('state change callback threw', { error: describeError(e) });
    }
  }

  private downReason(s: HostStatus): string {
    const ago = s.checkedAt !== undefined ? ` (checked ${Math.max(0, Math.round((this.now() - s.checkedAt) / 1000))}s ago)` : '';
    return `${s.host} is unreachable: ${s.reason ?? 'health check failed'}${ago}`;
  }

  private availability(r: RuntimeRoute): { available: boolean; reason?: string } {
    if (r.provider === 'ollama') {
      const s = r.host ? this.gated.get(r.host) : undefined;
      if (r.healthGated && s?.state === 'down') return { available: false, reason: this.downReason(s) };
      return { available: true };
    }
    const e = this.hosted.get(r.provider);
    if (!e?.provider) return { available: false, reason: e?.missing ?? `${r.provider} is not configured` };
    return { available: true };
  }

  private providerFor(r: RuntimeRoute): LlmProvider | undefined {
    return r.provider === 'ollama' ? (r.host ? this.ollama.get(r.host) : undefined) : this.hosted.get(r.provider)?.provider;
  }

  private rateLimited(err: RuntimeError, route: RuntimeRoute, why?: string): RuntimeError {
    return new RuntimeError('PROVIDER_RATE_LIMITED', why ? `${err.message} (${why})` : err.message, {
      hint: err.hint || 'retry later',
      httpStatus: err.httpStatus === 503 ? 503 : 429,
      ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}),
      cause: err,
    });
  }

  private finish(
    route: RuntimeRoute,
    opts: RouterChatOptions,
    started: Date,
    usage: Usage | undefined,
    outcome: CallOutcome,
    errorCode?: string,
    span?: Span,
    finishReason?: string,
    error?: RuntimeError,
  ): void {
    const labels = { provider: route.provider, model: route.id };
    const durationMs = usage?.durationMs ?? Date.now() - started.getTime();
    try {
      if (span) {
        if (usage) span.setAttributes({ 'gen_ai.usage.input_tokens': usage.inputTokens, 'gen_ai.usage.output_tokens': usage.outputTokens });
        if (finishReason) span.setAttribute('gen_ai.response.finish_reasons', [finishReason]);
        span.setAttribute('platform.outcome', outcome);
        if (error) {
          span.setAttribute('error.type', error.code);
          span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
        }
        span.end();
      }
      this.metrics?.add('platform_provider_requests_total', 1, { ...labels, outcome });
      if (usage) {
        if (usage.inputTokens) this.metrics?.add('platform_provider_tokens_total', usage.inputTokens, { ...labels, direction: 'in' });
        if (usage.outputTokens) this.metrics?.add('platform_provider_tokens_total', usage.outputTokens, { ...labels, direction: 'out' });
        if (usage.timeToFirstTokenMs !== undefined) this.metrics?.record('platform_provider_time_to_first_token_seconds', usage.timeToFirstTokenMs / 1000, labels);
      }
      if (outcome !== 'unavailable') this.metrics?.record('platform_provider_request_duration_seconds', durationMs / 1000, labels);
      this.usage?.record({
        time: started.toISOString(),
        ...labels,
        jobId: opts.jobId ?? null,
        sessionId: opts.sessionId ?? null,
        inputTokens: usage?.inputTokens ?? 0,
        outputTokens: usage?.outputTokens ?? 0,
        ttftMs: usage?.timeToFirstTokenMs ?? null,
        durationMs,
        outcome,
        errorCode: errorCode ?? null,
        client: opts.client ?? null,
        tokenId: opts.tokenId ?? null,
      });
    } catch (e) {
      // Bookkeeping must never fail the call it describes.
      this.log.error('recording a provider call failed', { error: describeError(e) });
    }
  }
}

/** Resolves true after `ms`, false if the signal aborted first. */
function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      resolve(false);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function createRouter(deps: RouterDeps): Router {
  return new Router(deps);
}
