import { SpanStatusCode, type Span } from '@opentelemetry/api';
import type { RuntimeRoute } from '../config/index.js';
import { describeError, type RuntimeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Usage } from '../providers/types.js';
import type { CallOutcome, UsageRecorder } from '../store/usage.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { RouterChatOptions } from './types.js';

/*
 * Usage recording: one span end, the provider metrics and one usage row per provider call.
 * Bookkeeping never fails the call it describes.
 */

export interface CallRecord {
  route: RuntimeRoute;
  opts: Pick<RouterChatOptions, 'jobId' | 'sessionId' | 'client' | 'tokenId'>;
  /** ms since epoch, from the injected clock. */
  startedAt: number;
  usage?: Usage | undefined;
  outcome: CallOutcome;
  errorCode?: string | undefined;
  span?: Span | undefined;
  finishReason?: string | undefined;
  error?: RuntimeError | undefined;
}

export interface CallRecorderDeps {
  log: Logger;
  metrics?: Metrics | undefined;
  usage?: UsageRecorder | undefined;
  now: () => number;
}

export class CallRecorder {
  constructor(private readonly deps: CallRecorderDeps) {}

  finish(r: CallRecord): void {
    const { metrics, usage: store } = this.deps;
    const { route, usage, outcome, span } = r;
    const labels = { provider: route.provider, model: route.id };
    // The provider's own timing when it gave one; otherwise the injected clock's.
    const durationMs = usage?.durationMs ?? this.deps.now() - r.startedAt;
    try {
      if (span) {
        if (usage) span.setAttributes({ 'gen_ai.usage.input_tokens': usage.inputTokens, 'gen_ai.usage.output_tokens': usage.outputTokens });
        if (r.finishReason) span.setAttribute('gen_ai.response.finish_reasons', [r.finishReason]);
        span.setAttribute('platform.outcome', outcome);
        if (r.error) {
          span.setAttribute('error.type', r.error.code);
          span.setStatus({ code: SpanStatusCode.ERROR, message: r.error.message });
        }
        span.end();
      }
      metrics?.add('platform_provider_requests_total', 1, { ...labels, outcome });
      if (usage) {
        if (usage.inputTokens) metrics?.add('platform_provider_tokens_total', usage.inputTokens, { ...labels, direction: 'in' });
        if (usage.outputTokens) metrics?.add('platform_provider_tokens_total', usage.outputTokens, { ...labels, direction: 'out' });
        if (usage.timeToFirstTokenMs !== undefined)
          metrics?.record('platform_provider_time_to_first_token_seconds', usage.timeToFirstTokenMs / 1000, labels);
      }
      if (outcome !== 'unavailable') metrics?.record('platform_provider_request_duration_seconds', durationMs / 1000, labels);
      store?.record({
        time: new Date(r.startedAt).toISOString(),
        ...labels,
        jobId: r.opts.jobId ?? null,
        sessionId: r.opts.sessionId ?? null,
        inputTokens: usage?.inputTokens ?? 0,
        outputTokens: usage?.outputTokens ?? 0,
        ttftMs: usage?.timeToFirstTokenMs ?? null,
        durationMs,
        outcome,
        errorCode: r.errorCode ?? null,
        client: r.opts.client ?? null,
        tokenId: r.opts.tokenId ?? null,
      });
    } catch (e) {
      // Bookkeeping must never fail the call it describes.
      this.deps.log.error('recording a provider call failed', { error: describeError(e) });
    }
  }
}
