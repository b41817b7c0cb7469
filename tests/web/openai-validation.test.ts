/*
 * Every way a /v1 request can be wrong, through app.inject(): each is a 4xx in OpenAI's error
 * shape ({error: {message, type, param, code}}), never a 500 and never the platform's own shape.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAiWeb, type OpenAiWebHarness } from './openai-harness.js';

let h: OpenAiWebHarness;
let auth: Record<string, string>;

beforeAll(async () => {
  h = await startOpenAiWeb();
  auth = { authorization: `Bearer ${h.server.tokens.create('tests', 'write').token}` };
});

afterAll(async () => {
  await h?.close();
});

interface OpenAiError {
  error: { message: string; type: string; param: string | null; code: string | null };
}

async function post(url: string, payload: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: OpenAiError }> {
  const raw = typeof payload === 'string' || Buffer.isBuffer(payload);
  const r = await h.app.inject({
    method: 'POST',
    url,
    payload: raw ? payload : JSON.stringify(payload),
    headers: { 'content-type': 'application/json', ...auth, ...headers },
  });
  return { status: r.statusCode, body: r.json() as OpenAiError };
}

function expectShape(body: OpenAiError): void {
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(body.error.message.length).toBeGreaterThan(0);
}

const chat = '/v1/chat/completions';
const user = [{ role: 'user', content: 'hi' }];

describe('/v1 request validation', () => {
  const cases: {
    name: string;
    url?: string;
    payload: unknown;
    headers?: Record<string, string>;
    status: number;
    param?: string | null;
    code?: string;
    message?: RegExp;
  }[] = [
    { name: 'malformed JSON', payload: '{"model": "qwen2.5:14b", "messages": [', status: 400, param: null, message: /JSON/i },
    { name: 'an empty body', payload: '', status: 400 },
    { name: 'a JSON array body', payload: '[1, 2]', status: 400, param: 'body' },
    { name: 'a missing model', payload: { messages: user }, status: 400, param: 'model' },
    { name: 'a model that is not a string', payload: { model: 5, messages: user }, status: 400, param: 'model' },
    { name: 'missing messages', payload: { model: 'qwen2.5:14b' }, status: 400, param: 'messages' },
    { name: 'no messages', payload: { model: 'qwen2.5:14b', messages: [] }, status: 400, param: 'messages' },
    {
      name: 'only a system message',
      payload: { model: 'qwen2.5:14b', messages: [{ role: 'system', content: 'x' }] },
      status: 400,
      param: 'messages',
    },
    {
      name: 'an unknown role',
      payload: { model: 'qwen2.5:14b', messages: [{ role: 'wizard', content: 'x' }] },
      status: 400,
      param: 'messages[0].role',
      message: /role must be one of/,
    },
    {
      name: 'a message without a role',
      payload: { model: 'qwen2.5:14b', messages: [{ content: 'x' }] },
      status: 400,
      param: 'messages[0].role',
    },
    {
      name: 'an image part',
      payload: { model: 'qwen2.5:14b', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://x' } }] }] },
      status: 400,
      param: 'messages[0].content[0].type',
    },
    {
      name: 'a tool answer to no call',
      payload: { model: 'qwen2.5:14b', messages: [...user, { role: 'tool', tool_call_id: 'nope', content: 'x' }] },
      status: 400,
      param: 'messages[1].tool_call_id',
    },
    {
      name: 'tool call arguments that are not JSON',
      payload: {
        model: 'qwen2.5:14b',
        messages: [
          ...user,
          { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{oops' } }] },
        ],
      },
      status: 400,
      param: 'messages[1].tool_calls[0].function.arguments',
    },
    {
      name: 'a temperature out of range',
      payload: { model: 'qwen2.5:14b', messages: user, temperature: 7 },
      status: 400,
      param: 'temperature',
    },
    { name: 'a negative max_tokens', payload: { model: 'qwen2.5:14b', messages: user, max_tokens: -1 }, status: 400, param: 'max_tokens' },
    {
      name: 'five stop sequences',
      payload: { model: 'qwen2.5:14b', messages: user, stop: ['a', 'b', 'c', 'd', 'e'] },
      status: 400,
      param: 'stop',
    },
    { name: 'n = 2', payload: { model: 'qwen2.5:14b', messages: user, n: 2 }, status: 400, param: 'n' },
    { name: 'logprobs', payload: { model: 'qwen2.5:14b', messages: user, logprobs: true }, status: 400, param: 'logprobs' },
    {
      name: 'json_schema output',
      payload: { model: 'qwen2.5:14b', messages: user, response_format: { type: 'json_schema', json_schema: { name: 'x' } } },
      status: 400,
      param: 'response_format.type',
    },
    {
      name: 'json_object on Anthropic',
      payload: { model: 'claude-sonnet-4-6', messages: user, response_format: { type: 'json_object' } },
      status: 400,
      param: 'response_format',
    },
    {
      name: 'a bad tool name',
      payload: { model: 'qwen2.5:14b', messages: user, tools: [{ type: 'function', function: { name: 'no spaces allowed' } }] },
      status: 400,
      param: 'tools[0].function.name',
    },
    {
      name: 'a tool_choice naming no tool',
      payload: {
        model: 'claude-sonnet-4-6',
        messages: user,
        tools: [{ type: 'function', function: { name: 'a' } }],
        tool_choice: { type: 'function', function: { name: 'b' } },
      },
      status: 400,
      param: 'tool_choice',
    },
    {
      name: 'a forced tool on Ollama',
      payload: { model: 'qwen2.5:14b', messages: user, tools: [{ type: 'function', function: { name: 'a' } }], tool_choice: 'required' },
      status: 400,
      param: 'tool_choice',
    },
    { name: 'an embedding model in chat', payload: { model: 'nomic-embed-text', messages: user }, status: 400, param: 'model' },
    { name: 'an unknown model', payload: { model: 'gpt-4o', messages: user }, status: 404, param: 'model', code: 'model_not_found' },
    {
      name: 'an unavailable model',
      payload: { model: 'gemma4:27b', messages: user },
      status: 503,
      param: 'model',
      code: 'model_unavailable',
      message: /davas is unreachable/,
    },
    {
      name: 'a body over the limit',
      payload: JSON.stringify({ model: 'qwen2.5:14b', messages: [{ role: 'user', content: 'x'.repeat(9 * 1024 * 1024) }] }),
      status: 413,
      code: 'request_too_large',
    },
    { name: 'a plain-text body', payload: 'hello', headers: { 'content-type': 'text/plain' }, status: 400, param: 'body' },
    { name: 'an unsupported content type', payload: '<x/>', headers: { 'content-type': 'application/xml' }, status: 415 },
    {
      name: 'no credentials',
      payload: { model: 'qwen2.5:14b', messages: user },
      headers: { authorization: '' },
      status: 401,
      code: 'invalid_api_key',
    },
    {
      name: 'a malformed bearer header',
      payload: { model: 'qwen2.5:14b', messages: user },
      headers: { authorization: 'Token abc' },
      status: 401,
      code: 'invalid_api_key',
    },
    {
      name: 'a cross-origin write',
      payload: { model: 'qwen2.5:14b', messages: user },
      headers: { origin: 'https://evil.example' },
      status: 403,
      code: 'insufficient_permissions',
    },
    { name: 'embeddings without input', url: '/v1/embeddings', payload: { model: 'nomic-embed-text' }, status: 400, param: 'input' },
    {
      name: 'embeddings of token arrays',
      url: '/v1/embeddings',
      payload: { model: 'nomic-embed-text', input: [1, 2, 3] },
      status: 400,
      param: 'input',
    },
    {
      name: 'embeddings of an empty string',
      url: '/v1/embeddings',
      payload: { model: 'nomic-embed-text', input: [''] },
      status: 400,
      param: 'input',
    },
    {
      name: 'embeddings with other dimensions',
      url: '/v1/embeddings',
      payload: { model: 'nomic-embed-text', input: 'x', dimensions: 3 },
      status: 400,
      param: 'dimensions',
    },
    { name: 'embeddings from Groq', url: '/v1/embeddings', payload: { model: 'qwen/qwen3-32b', input: 'x' }, status: 400, param: 'model' },
    {
      name: 'embeddings from an unknown model',
      url: '/v1/embeddings',
      payload: { model: 'text-embedding-3-small', input: 'x' },
      status: 404,
      code: 'model_not_found',
    },
    {
      name: 'an unknown /v1 route',
      url: '/v1/completions',
      payload: { model: 'qwen2.5:14b', prompt: 'x' },
      status: 404,
      code: 'not_found',
    },
  ];

  for (const c of cases) {
    it(`answers ${c.status} for ${c.name}`, async () => {
      const headers = { ...c.headers };
      const r = await post(c.url ?? chat, c.payload, headers);
      if (c.headers?.authorization === '') {
        // inject() keeps an empty header; send none at all instead.
        const again = await h.app.inject({
          method: 'POST',
          url: chat,
          payload: JSON.stringify(c.payload),
          headers: { 'content-type': 'application/json' },
        });
        r.status = again.statusCode;
        r.body = again.json() as OpenAiError;
      }
      expect(r.status).toBe(c.status);
      expectShape(r.body);
      if (c.param !== undefined) expect(r.body.error.param).toBe(c.param);
      if (c.code) expect(r.body.error.code).toBe(c.code);
      if (c.message) expect(r.body.error.message).toMatch(c.message);
      expect(r.body.error.type).toBe(c.status >= 500 ? 'server_error' : c.status === 403 ? 'permission_error' : 'invalid_request_error');
    });
  }

  it('answers 429 in the same shape when an identity goes over its rate', async () => {
    const slow = await startOpenAiWeb({ settings: { limits: { ratePerMinute: 1 } } });
    try {
      const headers = { authorization: `Bearer ${slow.server.tokens.create('busy', 'read').token}` };
      expect((await slow.app.inject({ method: 'GET', url: '/v1/models', headers })).statusCode).toBe(200);
      const r = await slow.app.inject({ method: 'GET', url: '/v1/models', headers });
      expect(r.statusCode).toBe(429);
      expect(r.headers['retry-after']).toBeDefined();
      const body = r.json() as OpenAiError;
      expectShape(body);
      expect(body.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
    } finally {
      await slow.close();
    }
  });

  it('keeps the platform error shape off /v1', async () => {
    const r = await h.app.inject({ method: 'GET', url: '/api/nope', headers: auth });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toMatchObject({ code: 'NOT_FOUND' });
  });
});
