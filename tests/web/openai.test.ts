/*
 * The OpenAI-compatible API with the official `openai` client against `runtime web` on
 * 127.0.0.1, every provider a protocol double: models, completions, streaming with usage, a tool
 * call round trip on each tool-calling provider, embeddings, an unavailable model, bad tokens,
 * and a client that hangs up mid-stream.
 */
import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAiWeb, type OpenAiWebHarness } from './openai-harness.js';

let h: OpenAiWebHarness;
let base: string;
let writeToken: string;
let readToken: string;
let client: OpenAI;

beforeAll(async () => {
  h = await startOpenAiWeb();
  base = `${await h.server.listen()}/v1`;
  writeToken = h.server.tokens.create('editor', 'write').token;
  readToken = h.server.tokens.create('dashboard', 'read').token;
  client = new OpenAI({ baseURL: base, apiKey: writeToken, maxRetries: 0, timeout: 10_000 });
});

afterAll(async () => {
  await h?.close();
});

async function apiError(p: Promise<unknown>): Promise<APIError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof APIError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

describe('/v1 with the openai client', () => {
  it('lists every routed model with its provider, unavailable ones with the reason', async () => {
    const models: OpenAI.Models.Model[] = [];
    for await (const m of client.models.list()) models.push(m);
    const by = Object.fromEntries(
      models.map((m) => [m.id, m as OpenAI.Models.Model & { x_platform: { available: boolean; reason: string | null; kind: string } }]),
    );
    expect(by['qwen2.5:14b']).toMatchObject({
      object: 'model',
      owned_by: 'ollama',
      x_platform: { available: true, reason: null, kind: 'chat' },
    });
    expect(by['claude-sonnet-4-6']).toMatchObject({ owned_by: 'anthropic', x_platform: { available: true } });
    expect(by['models/gemini-2.5-flash']?.owned_by).toBe('gemini');
    expect(by['gemma4:27b']).toMatchObject({ owned_by: 'ollama', x_platform: { available: false } });
    expect(by['gemma4:27b']!.x_platform.reason).toMatch(/davas is unreachable/);
    expect(by['nomic-embed-text']).toMatchObject({ owned_by: 'ollama', x_platform: { kind: 'embedding' } });
    expect(typeof by['qwen2.5:14b']!.created).toBe('number');
    expect(await client.models.retrieve('qwen/qwen3-32b')).toMatchObject({ id: 'qwen/qwen3-32b', owned_by: 'groq' });
  });

  it('completes without streaming and records who asked, with which token', async () => {
    h.ollama.chat.enqueue({ chunks: ['Hel', 'lo'], promptEvalCount: 11, evalCount: 2 });
    const r = await client.chat.completions.create({
      model: 'qwen2.5:14b',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Say hello' },
      ],
      max_tokens: 20,
      temperature: 0.2,
      top_p: 0.9,
      stop: ['\n\n'],
    });
    expect(r.object).toBe('chat.completion');
    expect(r.choices[0]!.message).toMatchObject({ role: 'assistant', content: 'Hello' });
    expect(r.choices[0]!.finish_reason).toBe('stop');
    expect(r.usage).toEqual({ prompt_tokens: 11, completion_tokens: 2, total_tokens: 13 });
    const sent = h.ollama.requests.at(-1)!.body as { messages: { role: string; content: string }[]; options: Record<string, unknown> };
    expect(sent.messages[0]).toMatchObject({ role: 'system', content: 'Be brief.' });
    expect(sent.options).toMatchObject({ num_predict: 20, temperature: 0.2, top_p: 0.9, stop: ['\n\n'] });
    const row = h.usage.recent(1)[0]!;
    expect(row).toMatchObject({
      model: 'qwen2.5:14b',
      provider: 'ollama',
      outcome: 'ok',
      inputTokens: 11,
      outputTokens: 2,
      client: 'token:editor',
    });
    expect(writeToken).toContain(`rt_${row.tokenId}_`);
  });

  it('streams chunks with the streaming helper, and a final usage chunk when asked', async () => {
    h.anthropic.messages.enqueue({ text: ['One', ' two', ' three'], inputTokens: 30, outputTokens: 3 });
    const stream = await client.chat.completions.create({
      model: 'claude-sonnet-4-6',
      messages: [{ role: 'user', content: 'count' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const deltas: string[] = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null = null;
    for await (const c of stream) {
      expect(c.object).toBe('chat.completion.chunk');
      if (c.usage) usage = c.usage;
      for (const ch of c.choices) {
        if (ch.delta.content) deltas.push(ch.delta.content);
        if (ch.finish_reason) finish = ch.finish_reason;
      }
    }
    expect(deltas.join('')).toBe('One two three');
    expect(finish).toBe('stop');
    expect(usage).toEqual({ prompt_tokens: 30, completion_tokens: 3, total_tokens: 33 });

    // The helper that accumulates the stream into a final completion.
    h.groq.completions.enqueue({ chunks: ['Hi', ' there'], usage: { prompt: 4, completion: 2 } });
    const runner = client.chat.completions.stream({
      model: 'llama-3.3-70b-versatile',
      messages: [{ role: 'user', content: 'hi' }],
      stream_options: { include_usage: true },
    });
    const seen: string[] = [];
    runner.on('content', (d) => seen.push(d));
    const final = await runner.finalChatCompletion();
    expect(final.choices[0]!.message.content).toBe('Hi there');
    expect(seen.join('')).toBe('Hi there');
    expect(final.usage).toMatchObject({ prompt_tokens: 4, completion_tokens: 2 });
  });

  for (const p of [
    { name: 'Ollama', model: 'qwen2.5:14b' },
    { name: 'Anthropic', model: 'claude-sonnet-4-6' },
    { name: 'Groq', model: 'llama-3.3-70b-versatile' },
    { name: 'Gemini', model: 'models/gemini-2.5-flash' },
  ]) {
    it(`round-trips a tool call through ${p.name}`, async () => {
      if (p.name === 'Ollama') h.ollama.chat.enqueue({ toolCalls: [{ name: 'get_weather', arguments: { city: 'Oslo' } }] });
      if (p.name === 'Anthropic')
        h.anthropic.messages.enqueue({
          toolUse: { id: 'toolu_1', name: 'get_weather', jsonParts: ['{"city":', '"Oslo"}'] },
          stopReason: 'tool_use',
        });
      const compat = p.name === 'Groq' ? h.groq : h.gemini;
      if (p.name === 'Groq' || p.name === 'Gemini')
        compat.completions.enqueue({ toolCalls: [{ id: 'call_x', name: 'get_weather', argParts: ['{"city"', ':"Oslo"}'] }] });
      const tools: OpenAI.Chat.ChatCompletionTool[] = [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Weather for a city',
            parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          },
        },
      ];
      const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Oslo?' }];
      const stream = client.chat.completions.stream({
        model: p.model,
        messages,
        tools,
        tool_choice: p.name === 'Ollama' ? 'auto' : 'required',
      });
      const first = await stream.finalChatCompletion();
      const msg = first.choices[0]!.message;
      expect(first.choices[0]!.finish_reason).toBe('tool_calls');
      expect(msg.tool_calls).toHaveLength(1);
      const call = msg.tool_calls![0]! as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
      expect(call.function.name).toBe('get_weather');
      expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Oslo' });

      // The answer goes back as a tool message; the provider sees it in its own format.
      const reply = await client.chat.completions.create({
        model: p.model,
        tools,
        messages: [...messages, msg, { role: 'tool', tool_call_id: call.id, content: '{"tempC": 4}' }],
      });
      expect(reply.choices[0]!.message.content).toBeTruthy();
      if (p.name === 'Ollama') {
        const sent = h.ollama.requests.at(-1)!.body as { messages: Record<string, unknown>[] };
        expect(sent.messages.at(-2)).toMatchObject({
          role: 'assistant',
          tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Oslo' } } }],
        });
        expect(sent.messages.at(-1)).toMatchObject({ role: 'tool', content: '{"tempC": 4}', tool_name: 'get_weather' });
      } else if (p.name === 'Anthropic') {
        const sent = h.anthropic.requests.at(-1)!.body as { messages: { role: string; content: unknown }[] };
        expect(sent.messages.at(-2)).toMatchObject({
          role: 'assistant',
          content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Oslo' } }],
        });
        expect(sent.messages.at(-1)).toMatchObject({
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '{"tempC": 4}' }],
        });
        const forced = h.anthropic.requests.at(-2)!.body as { tool_choice?: unknown };
        expect(forced.tool_choice).toEqual({ type: 'any' });
      } else {
        const sent = compat.requests.at(-1)!.body as { messages: Record<string, unknown>[] };
        expect(sent.messages.at(-1)).toMatchObject({ role: 'tool', tool_call_id: 'call_x', content: '{"tempC": 4}' });
        expect((compat.requests.at(-2)!.body as { tool_choice?: unknown }).tool_choice).toBe('required');
      }
    });
  }

  it('passes response_format json_object to providers with a JSON mode and refuses it for Anthropic', async () => {
    h.ollama.chat.enqueue({ chunks: ['{"a":1}'] });
    const r = await client.chat.completions.create({
      model: 'qwen2.5:14b',
      messages: [{ role: 'user', content: 'json' }],
      response_format: { type: 'json_object' },
    });
    expect(JSON.parse(r.choices[0]!.message.content!)).toEqual({ a: 1 });
    expect((h.ollama.requests.at(-1)!.body as { format?: string }).format).toBe('json');
    const e = await apiError(
      client.chat.completions.create({
        model: 'claude-sonnet-4-6',
        messages: [{ role: 'user', content: 'json' }],
        response_format: { type: 'json_object' },
      }),
    );
    expect(e.status).toBe(400);
    expect(e.error).toMatchObject({ type: 'invalid_request_error', param: 'response_format' });
  });

  it('embeds with the embedding model, as floats or base64', async () => {
    const r = await client.embeddings.create({ model: 'nomic-embed-text', input: ['alpha', 'beta'] });
    expect(r.data).toHaveLength(2);
    expect(r.data[0]!.embedding).toHaveLength(8);
    expect(r.model).toBe('nomic-embed-text');
    const floats = await client.embeddings.create({ model: 'qwen2.5:14b', input: 'alpha', encoding_format: 'float' });
    expect(floats.model).toBe('nomic-embed-text');
    // The client decodes base64 by default: both ways give the same vector, to float32 precision.
    r.data[0]!.embedding.forEach((v, i) => expect(v).toBeCloseTo(floats.data[0]!.embedding[i]!, 5));
    const embedReq = h.ollama.requests.filter((q) => q.path === '/api/embed').at(-1)!;
    expect(embedReq.body).toMatchObject({ model: 'nomic-embed-text', input: ['alpha'] });
    expect(h.usage.recent(1)[0]).toMatchObject({ model: 'nomic-embed-text', outcome: 'ok', client: 'token:editor' });
    const e = await apiError(client.embeddings.create({ model: 'claude-sonnet-4-6', input: 'x' }));
    expect(e.status).toBe(400);
    expect(e.error).toMatchObject({ param: 'model' });
  });

  it('answers 503 with the reason for an unavailable model, and never asks another', async () => {
    const before = h.ollama.requests.length + h.groq.requests.length + h.anthropic.requests.length + h.gemini.requests.length;
    const e = await apiError(client.chat.completions.create({ model: 'gemma4:27b', messages: [{ role: 'user', content: 'hi' }] }));
    expect(e.status).toBe(503);
    expect(e.error).toMatchObject({ type: 'server_error', code: 'model_unavailable', param: 'model' });
    expect((e.error as { message: string }).message).toMatch(/gemma4:27b is unavailable: davas is unreachable/);
    const streamed = await apiError(
      client.chat.completions.create({ model: 'gemma4:27b', messages: [{ role: 'user', content: 'hi' }], stream: true }),
    );
    expect(streamed.status).toBe(503);
    expect(h.ollama.requests.length + h.groq.requests.length + h.anthropic.requests.length + h.gemini.requests.length).toBe(before);
  });

  it('refuses bad and read-only tokens', async () => {
    const bad = new OpenAI({
      baseURL: base,
      apiKey: 'rt_00000000000000000000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      maxRetries: 0,
    });
    const e = await apiError(bad.models.list());
    expect(e.status).toBe(401);
    expect(e.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_api_key' });
    const reader = new OpenAI({ baseURL: base, apiKey: readToken, maxRetries: 0 });
    expect((await reader.models.list()).data.length).toBeGreaterThan(0);
    const ro = await apiError(reader.chat.completions.create({ model: 'qwen2.5:14b', messages: [{ role: 'user', content: 'hi' }] }));
    expect(ro.status).toBe(403);
    expect(ro.error).toMatchObject({ type: 'permission_error' });
  });

  it('returns 404 model_not_found for a model nobody routes', async () => {
    const e = await apiError(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }));
    expect(e.status).toBe(404);
    expect(e.error).toMatchObject({ code: 'model_not_found', param: 'model' });
  });

  it('aborts the provider stream when the client hangs up', async () => {
    h.groq.completions.enqueue({
      chunks: Array.from({ length: 200 }, (_, i) => `t${i} `),
      delayMs: 20,
      usage: { prompt: 1, completion: 200 },
    });
    const ac = new AbortController();
    const hungUp = h.groq.nextClientAbort(5_000);
    const stream = await client.chat.completions.create(
      { model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content: 'long' }], stream: true },
      { signal: ac.signal },
    );
    let n = 0;
    let text = '';
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      if (c.choices[0]?.delta.content && ++n === 3) {
        ac.abort();
        break;
      }
    }
    expect(text).toBe('t0 t1 t2 ');
    await hungUp;
    // The call is recorded as aborted, not as an error.
    await expect.poll(() => h.usage.recent(1)[0]?.outcome).toBe('aborted');
  });
});

describe('/v1 streams that start slowly or fail midway', () => {
  it('opens the stream with keep-alives before a slow first token, and reports a later failure in the stream', async () => {
    const slow = await startOpenAiWeb({ settings: { heartbeatMs: 40 } });
    try {
      const url = await slow.server.listen();
      const token = slow.server.tokens.create('slow', 'write').token;
      slow.groq.completions.enqueue({
        chunks: ['a', 'b', 'c'],
        delayMs: 150,
        streamErrorAfter: { deltas: 1, message: 'upstream fell over' },
      });
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content: 'hi' }], stream: true }),
      });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toContain(': keep-alive\n\n');
      const data = text
        .split('\n\n')
        .filter((b) => b.startsWith('data: '))
        .map((b) => JSON.parse(b.slice(6)) as { choices?: { delta: { content?: string } }[]; error?: { message: string; type: string } });
      expect(data.map((d) => d.choices?.[0]?.delta.content ?? '').join('')).toBe('a');
      expect(data.at(-1)!.error).toMatchObject({ type: 'server_error' });
      expect(data.at(-1)!.error!.message).toMatch(/upstream fell over/);
      expect(text).not.toContain('[DONE]');
      await expect.poll(() => slow.usage.recent(1)[0]?.outcome).toBe('error');
    } finally {
      await slow.close();
    }
  });
});
