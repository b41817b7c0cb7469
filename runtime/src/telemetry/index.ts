import { SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { RuntimeConfig } from '../config/index.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { createMetrics, type Metrics } from './metrics.js';

export * from './metrics.js';

/*
 * OpenTelemetry set-up: traces and metrics over OTLP/HTTP to Alloy. Off when the config says so
 * (OTEL_SDK_DISABLED=true, or the caller's `telemetry: false`), in which case spans are no-ops
 * and the metrics still feed the in-process `/metrics` mirror.
 */

/** GenAI semantic-convention attribute names. */
export const GEN_AI = {
  system: 'gen_ai.system',
  operation: 'gen_ai.operation.name',
  requestModel: 'gen_ai.request.model',
  requestMaxTokens: 'gen_ai.request.max_tokens',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  finishReasons: 'gen_ai.response.finish_reasons',
} as const;

export interface Telemetry {
  readonly enabled: boolean;
  readonly metrics: Metrics;
  shutdown(): Promise<void>;
}

export function startTelemetry(
  config: Pick<RuntimeConfig, 'telemetry' | 'telemetryEnabled' | 'env' | 'host'>,
  service: string,
  log: Logger,
): Telemetry {
  if (!config.telemetryEnabled) {
    log.debug('telemetry export is off', { service });
    return { enabled: false, metrics: createMetrics(), shutdown: async () => undefined };
  }
  const base = config.telemetry.otlpEndpoint.replace(/\/+$/, '');
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      'service.name': `runtime-${service}`,
      'service.namespace': config.telemetry.serviceNamespace,
      'deployment.environment.name': config.env,
      'host.name': config.host,
    }),
    traceExporter: new OTLPTraceExporter({ url: `${base}/v1/traces` }),
    metricReaders: [
      new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics` }), exportIntervalMillis: 15_000 }),
    ],
    instrumentations: [],
  });
  sdk.start();
  log.info('telemetry started', { service, otlpEndpoint: base });
  // Instruments are created after start() so they bind to the SDK's meter provider.
  const metrics = createMetrics();
  return {
    enabled: true,
    metrics,
    shutdown: async () => {
      try {
        await sdk.shutdown();
      } catch (e) {
        log.warn('telemetry shutdown failed', { error: describeError(e) });
      }
    },
  };
}

/** Runs `fn` inside an active span; records the error and rethrows. */
export async function withSpan<T>(name: string, attrs: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
  const tracer = trace.getTracer('platform-runtime');
  return tracer.startActiveSpan(name, { attributes: attrs }, async (span) => {
    try {
      const out = await fn(span);
      span.setStatus({ code: SpanStatusCode.OK });
      return out;
    } catch (e) {
      span.recordException(e instanceof Error ? e : new Error(String(e)));
      span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(e) });
      const code = (e as { code?: unknown }).code;
      if (typeof code === 'string') span.setAttribute('error.type', code);
      throw e;
    } finally {
      span.end();
    }
  });
}
