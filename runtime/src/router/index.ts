import { trace } from '@opentelemetry/api';
import type { RuntimeConfig, RuntimeRoute } from '../config/index.js';
import { RuntimeError, describeError, toRuntimeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ChatEvent, ChatRequest, Usage } from '../providers/types.js';
import type { CallOutcome, UsageRecorder } from '../store/usage.js';
import type { Metrics } from '../telemetry/metrics.js';
import { HealthMonitor } from './health.js';
import { buildProviders, providerFor, type ProviderTable } from './providers.js';
import { CallRecorder } from './record.js';
import { retryWait, sleep } from './retry.js';
import type { EmbedOptions, HostStateChange, HostStatus, ModelInfo, RouterChatOptions } from './types.js';

export type * from './types.js';
export { HealthMonitor, type HealthMonitorDeps } from './health.js';
export { buildProviders, type HostedEntry, type ProviderTable } from './providers.js';
export { CallRecorder, type CallRecord, type CallRecorderDeps } from './record.js';
export { retryWait, type RetryBudget, type RetryState } from './retry.js';

// Literal GenAI semantic-convention names (not imported from telemetry/index, which loads the SDK).
const GEN_AI_SYSTEM = 'gen_ai.system';
const GEN_AI_MODEL = 'gen_ai.request.model';

/*
 * Model id -> route -> provider. The router never falls back to another model: an unavailable
 * model is an immediate PROVIDER_UNAVAILABLE (503) with the reason. Its parts: provider
 * construction (providers.ts), health checks (health.ts), retries (retry.ts) and usage
 * recording (record.ts).
 */

export interface RouterDeps {
  config: RuntimeConfig;
  log: Logger;
  metrics?: Metrics;
  usage?: UsageRecorder;
  /** Called on every health state change (not on the first "up"). */
  onStateChange?: (change: HostStateChange) => void;
  now?: () => number;
}

const OUTCOME_BY_CODE: Partial<Record<string, CallOutcome>> = {
  PROVIDER_RATE_LIMITED: 'rate_limited',
  PROVIDER_TIMEOUT: 'timeout',
  PROVIDER_UNAVAILABLE: 'unavailable',
};

export class Router {
  private readonly config: RuntimeConfig;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly routes = new Map<string, RuntimeRoute>();
  private readonly providers: ProviderTable;
  private readonly health: HealthMonitor;
  private readonly recorder: CallRecorder;

  constructor(deps: RouterDeps) {
    this.config = deps.config;
    this.log = deps.log.child({ component: 'router' });
    this.now = deps.now ?? Date.now;
    for (const r of this.config.routing.models) this.routes.set(r.id, r);
    this.providers = buildProviders(this.config);
    this.health = new HealthMonitor({
      config: this.config,
      ollama: this.providers.ollama,
      log: this.log,
      metrics: deps.metrics,
      onStateChange: deps.onStateChange,
      now: this.now,
    });
    this.recorder = new CallRecorder({ log: this.log, metrics: deps.metrics, usage: deps.usage, now: this.now });
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
    return this.health.statuses();
  }

  /** Streams a chat completion from exactly the model asked for. */
  async *chat(modelId: string, req: Omit<ChatRequest, 'model'> & { model?: string }, opts: RouterChatOptions): AsyncGenerator<ChatEvent> {
    const route = this.route(modelId);
    const label = { provider: route.provider, model: route.id };
    const a = this.availability(route);
    const provider = providerFor(this.providers, route);
    if (!a.available || !provider) {
      const reason = a.reason ?? `${route.provider} is not configured`;
      this.recorder.finish({ route, opts, startedAt: this.now(), outcome: 'unavailable', errorCode: 'PROVIDER_UNAVAILABLE' });
      this.log.warn('model unavailable', { ...label, reason });
      throw new RuntimeError('PROVIDER_UNAVAILABLE', `${route.id} is unavailable: ${reason}`, {
        hint:
          route.provider === 'ollama'
            ? 'wait for the host to come back, or pick another model yourself'
            : 'set the API key, or pick another model yourself',
        httpStatus: 503,
      });
    }
    const budget = route.provider === 'ollama' ? { retries: 0, maxRetryWaitMs: 0 } : this.providers.hosted.get(route.provider)!;
    let waitedMs = 0;
    for (let attempt = 0; ; attempt++) {
      const startedAt = this.now();
      const span = trace.getTracer('platform-runtime').startSpan(`chat ${route.id}`, {
        attributes: {
          [GEN_AI_SYSTEM]: route.provider,
          'gen_ai.operation.name': 'chat',
          [GEN_AI_MODEL]: route.id,
          ...((req.maxTokens ?? route.maxTokens) ? { 'gen_ai.request.max_tokens': req.maxTokens ?? route.maxTokens } : {}),
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
          { ...req, model: route.id, ...((req.maxTokens ?? route.maxTokens) ? { maxTokens: req.maxTokens ?? route.maxTokens } : {}) },
          { ...(opts.signal ? { signal: opts.signal } : {}), timeoutMs: route.timeoutMs },
        )) {
          if (ev.type === 'usage') usage = ev.usage;
          if (ev.type === 'done') {
            recorded = true;
            this.recorder.finish({
              route,
              opts,
              startedAt,
              usage,
              outcome: ev.reason === 'aborted' ? 'aborted' : 'ok',
              span,
              finishReason: ev.reason,
            });
          }
          yielded = true;
          yield ev;
        }
        return;
      } catch (e) {
        const err = toRuntimeError(e, 'PROVIDER_ERROR');
        recorded = true;
        this.recorder.finish({
          route,
          opts,
          startedAt,
          usage,
          outcome: OUTCOME_BY_CODE[err.code] ?? 'error',
          errorCode: err.code,
          span,
          error: err,
        });
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
        const waitMs = retryWait(err, budget, { mode: opts.mode, attempt, yielded, waitedMs });
        waitedMs += waitMs;
        try {
          opts.onRateLimited?.({
            provider: route.provider,
            model: route.id,
            attempt: attempt + 1,
            maxRetries: budget.retries,
            retryAfterMs: err.retryAfterMs,
            waitMs,
            error: err,
          });
        } catch (cbErr) {
          this.log.warn('onRateLimited callback threw', { error: describeError(cbErr) });
        }
        if (!(await sleep(waitMs, opts.signal))) {
          yield { type: 'done', reason: 'aborted' };
          return;
        }
      } finally {
        // The consumer stopped iterating early: the provider stream was closed by its own finally.
        if (!recorded) this.recorder.finish({ route, opts, startedAt, usage, outcome: 'aborted', span, finishReason: 'aborted' });
      }
    }
  }

  /** The embedding model every text is embedded with, and where it runs. */
  get embeddingModel(): { id: string; host: string; dimensions: number; available: boolean; reason?: string } {
    const { model, host, dimensions } = this.config.routing.embedding;
    const status = this.health.status(host);
    return {
      id: model,
      host,
      dimensions,
      available: status?.state !== 'down',
      ...(status?.state === 'down' ? { reason: this.health.downReason(status) } : {}),
    };
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
    const route: RuntimeRoute = {
      id: model,
      provider: 'ollama',
      host,
      purpose: 'embedding',
      label: model,
      timeoutMs: this.config.routing.ollama.timeoutMs,
      healthGated: this.health.status(host) !== undefined,
    };
    const callOpts: RouterChatOptions = {
      mode: opts.mode ?? 'chat',
      ...(opts.client ? { client: opts.client } : {}),
      ...(opts.tokenId ? { tokenId: opts.tokenId } : {}),
    };
    const startedAt = this.now();
    const status = this.health.status(host);
    if (status?.state === 'down') {
      this.recorder.finish({ route, opts: callOpts, startedAt, outcome: 'unavailable', errorCode: 'PROVIDER_UNAVAILABLE' });
      throw new RuntimeError('PROVIDER_UNAVAILABLE', `embedding model ${model} is unavailable: ${this.health.downReason(status)}`, {
        hint: `wait for ${host} to come back; retrieval needs its embedding model`,
        httpStatus: 503,
      });
    }
    const p = this.providers.ollama.get(host);
    if (!p)
      throw new RuntimeError('CONFIG_INVALID', `embedding host ${host} is not in ollamaHosts`, {
        hint: 'run `make render`: routing.embedding.host must be a host that runs Ollama',
      });
    const span = trace.getTracer('platform-runtime').startSpan(`embeddings ${model}`, {
      attributes: {
        [GEN_AI_SYSTEM]: 'ollama',
        'gen_ai.operation.name': 'embeddings',
        [GEN_AI_MODEL]: model,
        'platform.chat.mode': callOpts.mode,
        ...(opts.client ? { 'platform.client': opts.client } : {}),
      },
    });
    try {
      const r = await p.embedCounted(model, input, {
        ...(opts.signal ? { signal: opts.signal } : {}),
        timeoutMs: this.config.routing.ollama.timeoutMs,
      });
      const usage = { inputTokens: r.inputTokens, outputTokens: 0, durationMs: Math.round(this.now() - startedAt) };
      this.recorder.finish({ route, opts: callOpts, startedAt, usage, outcome: 'ok', span, finishReason: 'stop' });
      return r;
    } catch (e) {
      const err = toRuntimeError(e, 'PROVIDER_ERROR');
      this.recorder.finish({
        route,
        opts: callOpts,
        startedAt,
        outcome: OUTCOME_BY_CODE[err.code] ?? 'error',
        errorCode: err.code,
        span,
        error: err,
      });
      throw err;
    }
  }

  /** Starts background health checks; resolves after the first round. */
  start(): Promise<void> {
    return this.health.start();
  }

  stop(): Promise<void> {
    return this.health.stop();
  }

  /** Checks every health-gated host once. */
  checkNow(): Promise<void> {
    return this.health.checkNow();
  }

  private availability(r: RuntimeRoute): { available: boolean; reason?: string } {
    if (r.provider === 'ollama') {
      const s = r.host ? this.health.status(r.host) : undefined;
      if (r.healthGated && s?.state === 'down') return { available: false, reason: this.health.downReason(s) };
      return { available: true };
    }
    const e = this.providers.hosted.get(r.provider);
    if (!e?.provider) return { available: false, reason: e?.missing ?? `${r.provider} is not configured` };
    return { available: true };
  }
}
