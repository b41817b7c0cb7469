import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeError } from '../../runtime/src/errors.js';
import { AnthropicProvider } from '../../runtime/src/providers/anthropic.js';
import { OllamaProvider } from '../../runtime/src/providers/ollama.js';
import { OpenAiCompatibleProvider } from '../../runtime/src/providers/openai-compatible.js';
import { parseDuration, parseRetryAfter, retryDelayFromBody } from '../../runtime/src/providers/retry-hint.js';
import type { ChatEvent, ChatRequest } from '../../runtime/src/providers/types.js';
import { startAnthropic, type AnthropicDouble } from '../doubles/anthropic.js';
import { startOllama, type OllamaDouble } from '../doubles/ollama.js';
import { geminiRateLimited, rateLimited, startOpenAi, type OpenAiDouble } from '../doubles/openai.js';

const req = (model: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({
  model,
  messages: [{ role: 'user', content: 'Say hello' }],
  ...extra,
});

async function collect(it: AsyncIterable<ChatEvent>): Promise<ChatEvent[]> {
  const out: ChatEvent[] = [];
  for await (const ev of it) out.push(ev);
  return out;
}

const text = (evs: ChatEvent[]): string => evs.map((e) => (e.type === 'text' ? e.delta : '')).join('');
const usageOf = (evs: ChatEvent[]) => evs.find((e) => e.type === 'usage');
const doneOf = (evs: ChatEvent[]) => evs.at(-1);

async function rejection(p: Promise<unknown>): Promise<RuntimeError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(RuntimeError);
    return e as RuntimeError;
  }
  throw new RuntimeError('INTERNAL', 'expected a rejection');
}

/** Reads until the first text delta, aborts, then drains the rest. */
async function abortAfterFirstText(stream: AsyncIterable<ChatEvent>, ac: AbortController): Promise<ChatEvent[]> {
  const out: ChatEvent[] = [];
  for await (const ev of stream) {
    out.push(ev);
    if (ev.type === 'text' && !ac.signal.aborted) ac.abort();
  }
  return out;
}

describe('retry hints', () => {
  it('parses Groq durations, retry-after and Gemini retryDelay', () => {
    expect(parseDuration('2m59.56s')).toBe(179_560);
    expect(parseDuration('7.66s')).toBe(7660);
    expect(parseDuration('120ms')).toBe(120);
    expect(parseDuration('1h2m')).toBe(3_720_000);
    expect(parseDuration('nonsense')).toBeUndefined();
    expect(parseRetryAfter('7')).toBe(7000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(10_000);
    expect(retryDelayFromBody(geminiRateLimited('39s')!.body)).toBe(39_000);
    expect(retryDelayFromBody({ error: { details: [{ retryDelay: '1.5s' }] } })).toBe(1500);
    expect(retryDelayFromBody({ error: { message: JSON.stringify({ error: { code: 429, details: [{ retryDelay: '20s' }] } }) } })).toBe(
      20_000,
    );
    expect(
      retryDelayFromBody([
        { error: { code: 429, message: 'Resource has been exhausted (e.g. check quota).', status: 'RESOURCE_EXHAUSTED' } },
      ]),
    ).toBeUndefined();
  });
});

describe('OllamaProvider', () => {
  let ollama: OllamaDouble;
  let p: OllamaProvider;
  beforeAll(async () => {
    ollama = await startOllama();
    p = new OllamaProvider({ host: 'davas', baseUrl: ollama.url });
  });
  afterAll(() => ollama.close());

  it('streams text and usage', async () => {
    const evs = await collect(p.chat(req('qwen2.5:14b', { system: 'Be brief', maxTokens: 50, temperature: 0.2 }), { timeoutMs: 5000 }));
    expect(text(evs)).toBe('Hello, world!');
    const u = usageOf(evs);
    expect(u?.type === 'usage' && u.usage).toMatchObject({ inputTokens: 12, outputTokens: 3 });
    expect(u?.type === 'usage' && u.usage.timeToFirstTokenMs).toBeGreaterThanOrEqual(0);
    expect(doneOf(evs)).toEqual({ type: 'done', reason: 'stop' });
    const sent = ollama.requests.at(-1)!.body as { messages: { role: string }[]; stream: boolean; options: Record<string, number> };
    expect(sent.stream).toBe(true);
    expect(sent.messages[0]).toEqual({ role: 'system', content: 'Be brief' });
    expect(sent.options).toEqual({ num_predict: 50, temperature: 0.2 });
  });

  it('yields tool calls and finishes with tool_calls', async () => {
    ollama.chat.enqueue({ chunks: [], toolCalls: [{ name: 'search', arguments: { q: 'x' } }], promptEvalCount: 4, evalCount: 2 });
    const evs = await collect(
      p.chat(req('qwen2.5:14b', { tools: [{ name: 'search', description: 'search', parameters: { type: 'object' } }] }), {
        timeoutMs: 5000,
      }),
    );
    expect(evs.filter((e) => e.type === 'tool_call')).toEqual([
      { type: 'tool_call', call: { id: 'call_0', name: 'search', arguments: { q: 'x' } } },
    ]);
    expect(doneOf(evs)).toEqual({ type: 'done', reason: 'tool_calls' });
  });

  it('abort stops the stream with reason aborted and closes the connection', async () => {
    ollama.chat.enqueue({ chunks: ['a', 'b', 'c', 'd', 'e', 'f'], delayMs: 100 });
    const ac = new AbortController();
    const closed = ollama.nextClientAbort();
    const evs = await abortAfterFirstText(p.chat(req('qwen2.5:14b'), { signal: ac.signal, timeoutMs: 10_000 }), ac);
    expect(text(evs)).toBe('a');
    expect(doneOf(evs)).toEqual({ type: 'done', reason: 'aborted' });
    await closed;
  });

  it('abort delivers nothing more, even lines that arrived in the same network chunk', async () => {
    ollama.chat.enqueue({ chunks: Array.from({ length: 200 }, (_, i) => `t${i} `) });
    const ac = new AbortController();
    const evs = await abortAfterFirstText(p.chat(req('qwen2.5:14b'), { signal: ac.signal, timeoutMs: 10_000 }), ac);
    expect(text(evs)).toBe('t0 ');
    expect(evs.map((e) => e.type).slice(1)).toEqual(['usage', 'done']);
    expect(doneOf(evs)).toEqual({ type: 'done', reason: 'aborted' });
  });

  it('maps a mid-stream {"error"} line to PROVIDER_ERROR', async () => {
    ollama.chat.enqueue({ chunks: ['x', 'y'], errorAfter: { chunks: 1, message: 'model runner has unexpectedly stopped' } });
    const seen: ChatEvent[] = [];
    const err = await rejection(
      (async () => {
        for await (const ev of p.chat(req('qwen2.5:14b'), { timeoutMs: 5000 })) seen.push(ev);
      })(),
    );
    expect(err.code).toBe('PROVIDER_ERROR');
    expect(err.message).toContain('model runner has unexpectedly stopped');
    expect(text(seen)).toBe('x');
  });

  it('maps a 404 to PROVIDER_ERROR with a pull hint', async () => {
    ollama.chat.enqueue({ status: { code: 404, message: 'model "nope" not found, try pulling it first' } });
    const err = await rejection(collect(p.chat(req('nope'), { timeoutMs: 5000 })));
    expect(err.code).toBe('PROVIDER_ERROR');
    expect(err.hint).toBe('pull the model on davas: ollama pull nope');
  });

  it('times out with PROVIDER_TIMEOUT and closes the connection', async () => {
    ollama.chat.enqueue({ chunks: ['slow', 'er'], delayMs: 400 });
    const closed = ollama.nextClientAbort();
    const err = await rejection(collect(p.chat(req('qwen2.5:14b'), { timeoutMs: 150 })));
    expect(err.code).toBe('PROVIDER_TIMEOUT');
    expect(err.message).toContain('150 ms');
    await closed;
  });

  it('embeds through /api/embed', async () => {
    const v = await p.embed('nomic-embed-text', ['a', 'bb'], { timeoutMs: 5000 });
    expect(v).toHaveLength(2);
    expect(v[0]).toHaveLength(ollama.dimensions);
    expect(ollama.requests.at(-1)).toMatchObject({ path: '/api/embed', body: { model: 'nomic-embed-text', input: ['a', 'bb'] } });
  });

  it('reports health, and a refused connection as unreachable', async () => {
    expect(await p.health(1000)).toMatchObject({ ok: true });
    const other = await startOllama();
    const url = other.url;
    await other.close();
    const down = new OllamaProvider({ host: 'davas', baseUrl: url });
    const h = await down.health(1000);
    expect(h.ok).toBe(false);
    expect(h.reason).toMatch(/ECONNREFUSED/);
    const err = await rejection(collect(down.chat(req('qwen2.5:14b'), { timeoutMs: 1000 })));
    expect(err.code).toBe('PROVIDER_UNAVAILABLE');
  });
});

describe('AnthropicProvider', () => {
  let api: AnthropicDouble;
  let p: AnthropicProvider;
  beforeAll(async () => {
    api = await startAnthropic();
    p = new AnthropicProvider({ baseUrl: api.url, apiKey: 'sk-test', apiKeySecret: 'ANTHROPIC_API_KEY', defaultMaxTokens: 8192 });
  });
  afterAll(() => api.close());

  it('streams text and usage from the SSE events, always sending max_tokens', async () => {
    const evs = await collect(p.chat(req('claude-sonnet-4-6', { system: 'Be brief' }), { timeoutMs: 5000 }));
    expect(text(evs)).toBe('Hello from Claude');
    const u = usageOf(evs);
    expect(u?.type === 'usage' && u.usage).toMatchObject({ inputTokens: 21, outputTokens: 3 });
    expect(doneOf(evs)).toEqual({ type: 'done', reason: 'stop' });
    const r = api.requests.at(-1)!;
    expect(r.body).toMatchObject({ model: 'claude-sonnet-4-6', max_tokens: 8192, stream: true, system: 'Be brief' });
    // This SDK generation sends the key as a bearer token; older ones used x-api-key.
    expect(r.headers['x-api-key'] ?? r.headers.authorization).toMatch(/sk-test$/);
  });

  it('assembles tool_use blocks from input_json_delta', async () => {
    api.messages.enqueue({
      text: ['Let me look.'],
      toolUse: { id: 'toolu_1', name: 'search', jsonParts: ['{"q": "ol', 'lama"}'] },
      inputTokens: 5,
      outputTokens: 9,
    });
    const evs = await collect(p.chat(req('claude-sonnet-4-6', { maxTokens: 100 }), { timeoutMs: 5000 }));
    expect(evs.filter((e) => e.type === 'tool_call')).toEqual([
      { type: 'tool_call', call: { id: 'toolu_1', name: 'search', arguments: { q: 'ollama' } } },
    ]);
    expect(doneOf(evs)).toEqual({ type: 'done', reason: 'tool_calls' });
    expect((api.requests.at(-1)!.body as { max_tokens: number }).max_tokens).toBe(100);
  });

  it('abort ends with reason aborted and closes the connection', async () => {
    api.messages.enqueue({ text: ['one', 'two', 'three', 'four'], delayMs: 100 });
    const ac = new AbortController();
    const closed = api.nextClientAbort();
    const evs = await abortAfterFirstText(p.chat(req('claude-sonnet-4-6'), { signal: ac.signal, timeoutMs: 10_000 }), ac);
    expect(text(evs)).toBe('one');
    expect(doneOf(evs)).toEqual({ type: 'done', reason: 'aborted' });
    await closed;
  });

  it('maps 429 with retry-after to PROVIDER_RATE_LIMITED', async () => {
    api.messages.enqueue({
      error: {
        status: 429,
        type: 'rate_limit_error',
        message: 'Number of requests has exceeded your rate limit',
        headers: { 'retry-after': '7' },
      },
    });
    const err = await rejection(collect(p.chat(req('claude-sonnet-4-6'), { timeoutMs: 5000 })));
    expect(err.code).toBe('PROVIDER_RATE_LIMITED');
    expect(err.retryAfterMs).toBe(7000);
    expect(err.httpStatus).toBe(429);
  });

  it('maps 529 overloaded to PROVIDER_RATE_LIMITED with 503', async () => {
    api.messages.enqueue({ error: { status: 529, type: 'overloaded_error', message: 'Overloaded' } });
    const err = await rejection(collect(p.chat(req('claude-sonnet-4-6'), { timeoutMs: 5000 })));
    expect(err.code).toBe('PROVIDER_RATE_LIMITED');
    expect(err.httpStatus).toBe(503);
    expect(err.message).toContain('Overloaded');
  });

  it('maps 401 to PROVIDER_AUTH naming the secret', async () => {
    api.messages.enqueue({ error: { status: 401, type: 'authentication_error', message: 'invalid x-api-key' } });
    const err = await rejection(collect(p.chat(req('claude-sonnet-4-6'), { timeoutMs: 5000 })));
    expect(err.code).toBe('PROVIDER_AUTH');
    expect(err.hint).toBe('check ANTHROPIC_API_KEY');
  });

  it('maps an in-stream error event', async () => {
    api.messages.enqueue({ text: ['a', 'b'], streamErrorAfter: { deltas: 1, type: 'api_error', message: 'Internal server error' } });
    const err = await rejection(collect(p.chat(req('claude-sonnet-4-6'), { timeoutMs: 5000 })));
    expect(err.code).toBe('PROVIDER_ERROR');
    expect(err.message).toContain('Internal server error');
  });

  it('times out with PROVIDER_TIMEOUT', async () => {
    api.messages.enqueue({ text: ['x', 'y', 'z'], delayMs: 300 });
    const err = await rejection(collect(p.chat(req('claude-sonnet-4-6'), { timeoutMs: 200 })));
    expect(err.code).toBe('PROVIDER_TIMEOUT');
  });
});

describe('OpenAiCompatibleProvider', () => {
  let groq: OpenAiDouble;
  let gemini: OpenAiDouble;
  let g: OpenAiCompatibleProvider;
  let gm: OpenAiCompatibleProvider;
  beforeAll(async () => {
    groq = await startOpenAi({ basePath: '/openai/v1' });
    gemini = await startOpenAi({ basePath: '/v1beta/openai' });
    g = new OpenAiCompatibleProvider({ kind: 'groq', baseUrl: groq.url, apiKey: 'gsk-test', apiKeySecret: 'GROQ_API_KEY' });
    gm = new OpenAiCompatibleProvider({ kind: 'gemini', baseUrl: gemini.url, apiKey: 'gm-test', apiKeySecret: 'GEMINI_API_KEY' });
  });
  afterAll(async () => {
    await groq.close();
    await gemini.close();
  });

  it('streams text and the usage chunk', async () => {
    const evs = await collect(g.chat(req('llama-3.3-70b-versatile', { maxTokens: 64 }), { timeoutMs: 5000 }));
    expect(text(evs)).toBe('Hi from Groq');
    const u = usageOf(evs);
    expect(u?.type === 'usage' && u.usage).toMatchObject({ inputTokens: 9, outputTokens: 3 });
    expect(doneOf(evs)).toEqual({ type: 'done', reason: 'stop' });
    const r = groq.requests.at(-1)!;
    expect(r.path).toBe('/openai/v1/chat/completions');
    expect(r.headers.authorization).toBe('Bearer gsk-test');
    expect(r.body).toMatchObject({
      model: 'llama-3.3-70b-versatile',
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 64,
    });
  });

  it('keeps the models/ prefix of Gemini model ids', async () => {
    await collect(gm.chat(req('models/gemini-2.5-flash'), { timeoutMs: 5000 }));
    expect((gemini.requests.at(-1)!.body as { model: string }).model).toBe('models/gemini-2.5-flash');
  });

  it('assembles tool calls from deltas', async () => {
    groq.completions.enqueue({
      chunks: [],
      toolCalls: [{ id: 'call_a', name: 'fetch', argParts: ['{"url":', '"https://x"}'] }],
      usage: { prompt: 3, completion: 4 },
    });
    const evs = await collect(g.chat(req('llama-3.3-70b-versatile'), { timeoutMs: 5000 }));
    expect(evs.filter((e) => e.type === 'tool_call')).toEqual([
      { type: 'tool_call', call: { id: 'call_a', name: 'fetch', arguments: { url: 'https://x' } } },
    ]);
    expect(doneOf(evs)).toEqual({ type: 'done', reason: 'tool_calls' });
  });

  it('abort ends with reason aborted and closes the connection', async () => {
    groq.completions.enqueue({ chunks: ['1', '2', '3', '4', '5'], delayMs: 100 });
    const ac = new AbortController();
    const closed = groq.nextClientAbort();
    const evs = await abortAfterFirstText(g.chat(req('llama-3.3-70b-versatile'), { signal: ac.signal, timeoutMs: 10_000 }), ac);
    expect(text(evs)).toBe('1');
    expect(doneOf(evs)).toEqual({ type: 'done', reason: 'aborted' });
    await closed;
  });

  it.each([
    ['retry-after', { 'retry-after': '12' }, 12_000],
    ['x-ratelimit-reset-tokens (Groq "7.66s")', { 'x-ratelimit-reset-tokens': '7.66s' }, 7660],
    [
      'x-ratelimit-reset-requests (Groq "2m59.56s")',
      { 'x-ratelimit-reset-requests': '2m59.56s', 'x-ratelimit-reset-tokens': '1s' },
      179_560,
    ],
  ])('maps 429 with %s to PROVIDER_RATE_LIMITED', async (_name, headers, ms) => {
    groq.completions.enqueue({ error: rateLimited(headers) });
    const err = await rejection(collect(g.chat(req('llama-3.3-70b-versatile'), { timeoutMs: 5000 })));
    expect(err.code).toBe('PROVIDER_RATE_LIMITED');
    expect(err.retryAfterMs).toBe(ms);
    expect(err.message).toContain('Rate limit reached');
  });

  it('maps a Gemini 429 body with retryDelay', async () => {
    gemini.completions.enqueue({ error: geminiRateLimited('39s') });
    const err = await rejection(collect(gm.chat(req('models/gemini-2.5-flash'), { timeoutMs: 5000 })));
    expect(err.code).toBe('PROVIDER_RATE_LIMITED');
    expect(err.retryAfterMs).toBe(39_000);
    expect(err.hint).toContain('39s');
    expect(err.message).toContain('You exceeded your current quota');
  });

  it('maps 401 to PROVIDER_AUTH', async () => {
    groq.completions.enqueue({
      error: { status: 401, body: { error: { message: 'Invalid API Key', type: 'invalid_request_error', code: 'invalid_api_key' } } },
    });
    const err = await rejection(collect(g.chat(req('llama-3.3-70b-versatile'), { timeoutMs: 5000 })));
    expect(err.code).toBe('PROVIDER_AUTH');
    expect(err.hint).toBe('check GROQ_API_KEY');
  });

  it('maps an in-stream error chunk to PROVIDER_ERROR', async () => {
    groq.completions.enqueue({ chunks: ['a', 'b'], streamErrorAfter: { deltas: 1, message: 'upstream failed' } });
    const err = await rejection(collect(g.chat(req('llama-3.3-70b-versatile'), { timeoutMs: 5000 })));
    expect(err.code).toBe('PROVIDER_ERROR');
    expect(err.message).toContain('upstream failed');
  });

  it('times out with PROVIDER_TIMEOUT', async () => {
    groq.completions.enqueue({ chunks: ['x', 'y'], delayMs: 300 });
    const closed = groq.nextClientAbort();
    const err = await rejection(collect(g.chat(req('llama-3.3-70b-versatile'), { timeoutMs: 200 })));
    expect(err.code).toBe('PROVIDER_TIMEOUT');
    await closed;
  });

  it('embeds through /embeddings', async () => {
    expect(await g.embed('e', ['abc', 'de'], { timeoutMs: 5000 })).toEqual([
      [3, 0],
      [2, 1],
    ]);
  });
});
