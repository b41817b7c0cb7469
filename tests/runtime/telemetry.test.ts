import { describe, expect, it } from 'vitest';
import { METRICS } from '@platform/contract';
import { memoryLogger } from '../../runtime/src/log.js';
import { GEN_AI, RUNTIME_METRICS, createMetrics, otelInstrumentName, startTelemetry, withSpan } from '../../runtime/src/telemetry/index.js';
import { startHttp } from '../doubles/http.js';

describe('metrics', () => {
  it('creates an instrument for every runtime metric in the catalog, counters without _total', () => {
    expect(RUNTIME_METRICS.map((m) => m.name)).toEqual(METRICS.filter((m) => m.source === 'runtime').map((m) => m.name));
    const requests = RUNTIME_METRICS.find((m) => m.name === 'platform_provider_requests_total')!;
    expect(otelInstrumentName(requests)).toBe('platform_provider_requests');
    expect(otelInstrumentName(RUNTIME_METRICS.find((m) => m.name === 'platform_provider_up')!)).toBe('platform_provider_up');
  });

  it('renders Prometheus text with catalog names and only catalog labels', () => {
    const m = createMetrics();
    m.add('platform_provider_requests_total', 1, { provider: 'groq', model: 'llama', outcome: 'ok', stray: 'x' });
    m.add('platform_provider_requests_total', 2, { provider: 'groq', model: 'llama', outcome: 'ok' });
    m.set('platform_provider_up', 0, { provider: 'ollama', host: 'davas' });
    m.record('platform_provider_request_duration_seconds', 0.3, { provider: 'groq', model: 'llama' });
    m.record('platform_provider_request_duration_seconds', 7, { provider: 'groq', model: 'llama' });
    const text = m.renderPrometheus();
    expect(text).toContain(
      '# TYPE platform_provider_requests_total counter\nplatform_provider_requests_total{provider="groq",model="llama",outcome="ok"} 3\n',
    );
    expect(text).toContain('platform_provider_up{provider="ollama",host="davas"} 0\n');
    expect(text).toContain('platform_provider_request_duration_seconds_bucket{provider="groq",model="llama",le="0.25"} 0\n');
    expect(text).toContain('platform_provider_request_duration_seconds_bucket{provider="groq",model="llama",le="0.5"} 1\n');
    expect(text).toContain('platform_provider_request_duration_seconds_bucket{provider="groq",model="llama",le="10"} 2\n');
    expect(text).toContain('platform_provider_request_duration_seconds_bucket{provider="groq",model="llama",le="+Inf"} 2\n');
    expect(text).toContain('platform_provider_request_duration_seconds_sum{provider="groq",model="llama"} 7.3\n');
    expect(text).toContain('platform_provider_request_duration_seconds_count{provider="groq",model="llama"} 2\n');
    expect(m.value('platform_provider_requests_total', { provider: 'groq', model: 'llama', outcome: 'ok' })).toBe(3);
  });

  it('withSpan returns the result and rethrows errors', async () => {
    expect(await withSpan('chat', { [GEN_AI.system]: 'groq' }, async () => 42)).toBe(42);
    await expect(
      withSpan('chat', {}, async () => Promise.reject(Object.assign(new Error('boom'), { code: 'PROVIDER_ERROR' }))),
    ).rejects.toThrow('boom');
  });

  it('exports metrics and spans over OTLP/HTTP when enabled', async () => {
    const collector = await startHttp((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    try {
      const log = memoryLogger();
      const t = startTelemetry(
        {
          telemetryEnabled: true,
          telemetry: { otlpEndpoint: collector.url, serviceNamespace: 'test-platform' },
          env: 'test',
          host: 'local',
        },
        'worker',
        log,
      );
      expect(t.enabled).toBe(true);
      t.metrics.add('platform_provider_requests_total', 1, { provider: 'ollama', model: 'qwen2.5:14b', outcome: 'ok' });
      await withSpan('gen_ai.chat', { [GEN_AI.system]: 'ollama', [GEN_AI.requestModel]: 'qwen2.5:14b' }, async () => undefined);
      await t.shutdown();
      const paths = collector.requests.map((r) => r.path);
      expect(paths).toContain('/v1/metrics');
      expect(paths).toContain('/v1/traces');
      const metricsBody = JSON.stringify(collector.requests.find((r) => r.path === '/v1/metrics')!.body);
      expect(metricsBody).toContain('"platform_provider_requests"');
      expect(metricsBody).not.toContain('platform_provider_requests_total');
      expect(metricsBody).toContain('runtime-worker');
      const traceBody = JSON.stringify(collector.requests.find((r) => r.path === '/v1/traces')!.body);
      expect(traceBody).toContain('gen_ai.request.model');
    } finally {
      await collector.close();
    }
  });
});
