import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type RuntimeConfig } from '../../runtime/src/config/index.js';
import { RuntimeError } from '../../runtime/src/errors.js';
import { memoryLogger } from '../../runtime/src/log.js';
import type { ChatEvent } from '../../runtime/src/providers/types.js';
import { Router, type HostStateChange, type RateLimitNotice, type RouterChatOptions } from '../../runtime/src/router/index.js';
import { UsageStore } from '../../runtime/src/store/usage.js';
import { createMetrics } from '../../runtime/src/telemetry/metrics.js';
import { startAnthropic, type AnthropicDouble } from '../doubles/anthropic.js';
import { writeRuntimeConfig } from '../doubles/config.js';
import { startOllama, type OllamaDouble } from '../doubles/ollama.js';
import { rateLimited, startOpenAi, type OpenAiDouble } from '../doubles/openai.js';
import { tempDir } from '../helpers.js';

let contabo: OllamaDouble;
let davas: OllamaDouble;
let groq: OpenAiDouble;
let gemini: OpenAiDouble;
let anthropic: AnthropicDouble;
let dir: string;
let config: RuntimeConfig;

const KEYS = { GROQ_API_KEY: 'gsk', GEMINI_API_KEY: 'gm', ANTHROPIC_API_KEY: 'sk' };

beforeAll(async () => {
  [contabo, davas, groq, gemini, anthropic] = await Promise.all([
    startOllama(),
    startOllama(),
    startOpenAi({ basePath: '/openai/v1' }),
    startOpenAi({ basePath: '/v1beta/openai' }),
    startAnthropic(),
  ]);
  dir = tempDir('router-test-');
  const file = writeRuntimeConfig(dir, {
    ollamaHosts: { contabo: contabo.url, davas: davas.url },
    groq: groq.url,
    gemini: gemini.url,
    anthropic: anthropic.url,
    rateLimitRetries: 2,
    maxRetryWaitMs: 1000,
    healthIntervalMs: 60_000,
    healthTimeoutMs: 500,
  });
  config = loadConfig({ RUNTIME_CONFIG: file, DATA_DIR: dir, ...KEYS }, { cwd: dir });
});

afterAll(async () => {
  await Promise.all([contabo, davas, groq, gemini, anthropic].map((d) => d.close()));
});

const doubles = () => [contabo, davas, groq, gemini, anthropic];
const chatRequests = () => doubles().reduce((n, d) => n + d.requests.filter((r) => r.method === 'POST').length, 0);

function setup(over: { config?: RuntimeConfig } = {}) {
  const log = memoryLogger();
  const metrics = createMetrics();
  const usage = new UsageStore(':memory:');
  const changes: HostStateChange[] = [];
  const router = new Router({ config: over.config ?? config, log, metrics, usage, onStateChange: (c) => changes.push(c) });
  return { router, log, metrics, usage, changes };
}

async function run(router: Router, model: string, opts: RouterChatOptions = { mode: 'chat' }): Promise<ChatEvent[]> {
  const out: ChatEvent[] = [];
  for await (const ev of router.chat(model, { messages: [{ role: 'user', content: 'hi' }] }, opts)) out.push(ev);
  return out;
}

async function failure(p: Promise<unknown>): Promise<RuntimeError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(RuntimeError);
    return e as RuntimeError;
  }
  throw new RuntimeError('INTERNAL', 'expected a failure');
}

const text = (evs: ChatEvent[]) => evs.map((e) => (e.type === 'text' ? e.delta : '')).join('');

afterEach(async () => {
  await davas.up().catch(() => undefined);
});

describe('Router', () => {
  it('lists every model with availability; a missing key makes that provider unavailable', () => {
    const noGroq = loadConfig({ RUNTIME_CONFIG: config.configPath, GEMINI_API_KEY: 'gm', ANTHROPIC_API_KEY: 'sk' }, { cwd: dir });
    const { router } = setup({ config: noGroq });
    const models = router.models();
    expect(models.map((m) => m.id)).toEqual(config.routing.models.map((m) => m.id));
    const llama = models.find((m) => m.id === 'llama-3.3-70b-versatile')!;
    expect(llama).toMatchObject({ available: false, reason: 'GROQ_API_KEY is not set', provider: 'groq' });
    expect(models.find((m) => m.id === 'qwen2.5:14b')).toMatchObject({ available: true, isDefault: true, host: 'contabo' });
    expect(models.find((m) => m.id === 'claude-sonnet-4-6')?.available).toBe(true);
  });

  it('routes each model to its provider', async () => {
    const { router, usage, metrics } = setup();
    expect(text(await run(router, 'qwen2.5:14b'))).toBe('Hello, world!');
    expect(text(await run(router, 'llama-3.3-70b-versatile'))).toBe('Hi from Groq');
    expect(text(await run(router, 'models/gemini-2.5-flash'))).toBe('Hi from Groq');
    expect(text(await run(router, 'claude-sonnet-4-6', { mode: 'chat', sessionId: 's1' }))).toBe('Hello from Claude');
    expect((anthropic.requests.at(-1)!.body as { max_tokens: number }).max_tokens).toBe(8192);
    expect((gemini.requests.at(-1)!.body as { model: string }).model).toBe('models/gemini-2.5-flash');
    const rows = usage.recent(10);
    expect(rows).toHaveLength(4);
    expect(rows[0]).toMatchObject({
      provider: 'anthropic',
      model: 'claude-sonnet-4-6',
      sessionId: 's1',
      inputTokens: 21,
      outputTokens: 3,
      outcome: 'ok',
    });
    expect(metrics.value('platform_provider_requests_total', { provider: 'ollama', model: 'qwen2.5:14b', outcome: 'ok' })).toBe(1);
    expect(metrics.value('platform_provider_tokens_total', { provider: 'anthropic', model: 'claude-sonnet-4-6', direction: 'in' })).toBe(
      21,
    );
    expect(metrics.value('platform_provider_request_duration_seconds', { provider: 'groq', model: 'llama-3.3-70b-versatile' })).toBe(1);
  });

  it('fails an unknown model with MODEL_UNKNOWN', async () => {
    const { router } = setup();
    const err = await failure(run(router, 'gpt-9'));
    expect(err.code).toBe('MODEL_UNKNOWN');
    expect(err.httpStatus).toBe(404);
  });

  it('davas down: its models are unavailable, requests fail at once with the reason and touch no other provider', async () => {
    const { router, changes, metrics, log, usage } = setup();
    await router.start();
    expect(router.models().find((m) => m.id === 'gemma4:27b')?.available).toBe(true);
    expect(changes).toEqual([]);

    await davas.down();
    await router.checkNow();
    const gemma = router.models().find((m) => m.id === 'gemma4:27b')!;
    expect(gemma.available).toBe(false);
    expect(gemma.reason).toMatch(/^davas is unreachable: .*ECONNREFUSED.* \(checked \d+s ago\)$/);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ provider: 'ollama', host: 'davas', previous: 'up', state: 'down' });
    expect(metrics.value('platform_provider_up', { provider: 'ollama', host: 'davas' })).toBe(0);
    expect(log.records.some((r) => r.msg === 'provider host is down' && r.host === 'davas')).toBe(true);

    const before = chatRequests();
    const err = await failure(run(router, 'gemma4:27b', { mode: 'job' }));
    expect(err.code).toBe('PROVIDER_UNAVAILABLE');
    expect(err.httpStatus).toBe(503);
    expect(err.message).toBe(`gemma4:27b is unavailable: ${gemma.reason}`);
    expect(chatRequests()).toBe(before);
    expect(usage.recent(1)[0]).toMatchObject({ model: 'gemma4:27b', outcome: 'unavailable' });
    expect(metrics.value('platform_provider_requests_total', { provider: 'ollama', model: 'gemma4:27b', outcome: 'unavailable' })).toBe(1);
    // The always-on model on the other host is unaffected.
    expect(router.models().find((m) => m.id === 'qwen2.5:14b')?.available).toBe(true);

    await davas.up();
    await router.checkNow();
    expect(changes.at(-1)).toMatchObject({ host: 'davas', previous: 'down', state: 'up' });
    expect(router.models().find((m) => m.id === 'gemma4:27b')?.available).toBe(true);
    expect(metrics.value('platform_provider_up', { provider: 'ollama', host: 'davas' })).toBe(1);
    await router.stop();
  });

  it('runs health checks in the background until stopped', async () => {
    const fast = loadConfig({
      RUNTIME_CONFIG: writeRuntimeConfig(tempDir('router-fast-'), {
        ollamaHosts: { contabo: contabo.url, davas: davas.url },
        healthIntervalMs: 30,
        healthTimeoutMs: 200,
      }),
    });
    const { router, changes } = setup({ config: fast });
    await router.start();
    await davas.down();
    for (let i = 0; i < 100 && changes.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(changes[0]).toMatchObject({ host: 'davas', state: 'down' });
    await router.stop();
    const n = davas.requests.length;
    await davas.up();
    await new Promise((r) => setTimeout(r, 150));
    expect(davas.requests.length).toBe(n);
  });

  it('chat mode: a 429 fails fast with PROVIDER_RATE_LIMITED and the retry hint is logged', async () => {
    const { router, log, usage } = setup();
    const before = groq.requests.length;
    groq.completions.enqueue({ error: rateLimited({ 'retry-after': '0.05' }) });
    const notices: RateLimitNotice[] = [];
    const err = await failure(run(router, 'llama-3.3-70b-versatile', { mode: 'chat', onRateLimited: (n) => notices.push(n) }));
    expect(err.code).toBe('PROVIDER_RATE_LIMITED');
    expect(err.httpStatus).toBe(429);
    expect(err.retryAfterMs).toBe(50);
    expect(groq.requests.length - before).toBe(1);
    expect(notices).toEqual([]);
    const line = log.records.find((r) => r.msg === 'provider rate-limited');
    expect(line).toMatchObject({ level: 'warn', provider: 'groq', model: 'llama-3.3-70b-versatile', retryAfterMs: 50, mode: 'chat' });
    expect(usage.recent(1)[0]?.outcome).toBe('rate_limited');
  });

  it('job mode: retries 429s within the budget and calls onRateLimited', async () => {
    const { router, usage } = setup();
    const before = groq.requests.length;
    groq.completions.enqueue(
      { error: rateLimited({ 'retry-after': '0.05' }) },
      { error: rateLimited({ 'x-ratelimit-reset-tokens': '60ms' }) },
    );
    const notices: RateLimitNotice[] = [];
    const evs = await run(router, 'llama-3.3-70b-versatile', { mode: 'job', jobId: 'job-1', onRateLimited: (n) => notices.push(n) });
    expect(text(evs)).toBe('Hi from Groq');
    expect(groq.requests.length - before).toBe(3);
    expect(notices.map((n) => [n.attempt, n.waitMs, n.provider, n.model, n.maxRetries])).toEqual([
      [1, 50, 'groq', 'llama-3.3-70b-versatile', 2],
      [2, 60, 'groq', 'llama-3.3-70b-versatile', 2],
    ]);
    expect(
      usage
        .recent(10, { jobId: 'job-1' })
        .map((r) => r.outcome)
        .sort(),
    ).toEqual(['ok', 'rate_limited', 'rate_limited']);
  });

  it('job mode: gives up past the retry count', async () => {
    const { router } = setup();
    const before = groq.requests.length;
    const limited = { error: rateLimited({ 'retry-after': '0.01' }) };
    groq.completions.enqueue(limited, limited, limited);
    const notices: RateLimitNotice[] = [];
    const err = await failure(run(router, 'llama-3.3-70b-versatile', { mode: 'job', onRateLimited: (n) => notices.push(n) }));
    expect(err.code).toBe('PROVIDER_RATE_LIMITED');
    expect(err.message).toContain('gave up after 2 retries');
    expect(groq.requests.length - before).toBe(3);
    expect(notices).toHaveLength(2);
  });

  it('job mode: does not wait past maxRetryWaitMs', async () => {
    const { router } = setup();
    groq.completions.enqueue({ error: rateLimited({ 'x-ratelimit-reset-requests': '2m59.56s' }) });
    const notices: RateLimitNotice[] = [];
    const before = groq.requests.length;
    const err = await failure(run(router, 'llama-3.3-70b-versatile', { mode: 'job', onRateLimited: (n) => notices.push(n) }));
    expect(groq.requests.length - before).toBe(1);
    expect(err.code).toBe('PROVIDER_RATE_LIMITED');
    expect(err.retryAfterMs).toBe(179_560);
    expect(err.message).toContain('retry budget');
    expect(notices).toEqual([]);
  });

  it('abort ends the stream as aborted and records it', async () => {
    const { router, usage, metrics } = setup();
    contabo.chat.enqueue({ chunks: ['a', 'b', 'c', 'd'], delayMs: 80 });
    const ac = new AbortController();
    const out: ChatEvent[] = [];
    for await (const ev of router.chat(
      'qwen2.5:14b',
      { messages: [{ role: 'user', content: 'hi' }] },
      { mode: 'chat', signal: ac.signal },
    )) {
      out.push(ev);
      if (ev.type === 'text') ac.abort();
    }
    expect(out.at(-1)).toEqual({ type: 'done', reason: 'aborted' });
    expect(usage.recent(1)[0]?.outcome).toBe('aborted');
    expect(metrics.value('platform_provider_requests_total', { provider: 'ollama', model: 'qwen2.5:14b', outcome: 'aborted' })).toBe(1);
  });

  it('embeds with the configured embedding model', async () => {
    const { router } = setup();
    const v = await router.embed(['hello']);
    expect(v).toHaveLength(1);
    expect(contabo.requests.at(-1)).toMatchObject({ path: '/api/embed', body: { model: 'nomic-embed-text' } });
  });
});
