/*
 * OpenAI-compatible chat completions double (Groq, Gemini's compat endpoint): POST
 * <base>/chat/completions answering with `data: {chunk}` SSE lines, a usage chunk when
 * stream_options.include_usage is set, and `data: [DONE]`; or a scripted error (429 with
 * `retry-after` / `x-ratelimit-*` headers, or Gemini's array-wrapped body with `retryDelay`).
 *
 *   const groq = await startOpenAi({ basePath: '/openai/v1' });
 *   groq.completions.enqueue({ error: rateLimited({ 'retry-after': '2' }) });
 *   groq.completions.fallback = { chunks: ['a', 'b'], usage: { prompt: 5, completion: 2 } };
 *   groq.url   // http://127.0.0.1:<port>/openai/v1, the provider's baseUrl
 *   groq.requests, groq.clientAborts, await groq.nextClientAbort(); await groq.close();
 */
import { ScriptQueue, sleep, startHttp, writeChunk, type HttpDouble } from './http.js';

export interface OpenAiScript {
  chunks?: string[];
  toolCalls?: { id: string; name: string; argParts: string[] }[];
  usage?: { prompt: number; completion: number };
  finishReason?: string;
  delayMs?: number;
  error?: { status: number; headers?: Record<string, string>; body: unknown };
  /** Send an in-stream `{"error": ...}` chunk after this many deltas. */
  streamErrorAfter?: { deltas: number; message: string };
}

export interface OpenAiDouble extends HttpDouble {
  completions: ScriptQueue<OpenAiScript>;
}

export const DEFAULT_OPENAI: OpenAiScript = { chunks: ['Hi', ' from', ' Groq'], usage: { prompt: 9, completion: 3 } };

/** Groq-style 429. */
export function rateLimited(headers: Record<string, string>): OpenAiScript['error'] {
  return {
    status: 429,
    headers,
    body: { error: { message: 'Rate limit reached for model on tokens per minute (TPM)', type: 'tokens', code: 'rate_limit_exceeded' } },
  };
}

/** Gemini-style 429: the body is wrapped in an array and carries RetryInfo. */
export function geminiRateLimited(retryDelay: string): OpenAiScript['error'] {
  return {
    status: 429,
    body: [
      {
        error: {
          code: 429,
          message: 'You exceeded your current quota, please check your plan and billing details.',
          status: 'RESOURCE_EXHAUSTED',
          details: [
            {
              '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
              violations: [{ quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests' }],
            },
            { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay },
          ],
        },
      },
    ],
  };
}

export async function startOpenAi(opts: { basePath?: string; script?: OpenAiScript } = {}): Promise<OpenAiDouble> {
  const base = (opts.basePath ?? '/v1').replace(/\/+$/, '');
  const completions = new ScriptQueue<OpenAiScript>(opts.script ?? DEFAULT_OPENAI);
  const http = await startHttp(async (req, res, body) => {
    const b = (body ?? {}) as { model?: string; stream_options?: { include_usage?: boolean } };
    if (req.method === 'GET' && req.url === `${base}/models`) {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ object: 'list', data: [{ id: 'llama-3.3-70b-versatile', object: 'model' }] }));
      return;
    }
    if (req.method === 'POST' && req.url === `${base}/embeddings`) {
      const input = ((body as { input?: string[] }).input ?? []) as string[];
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(
          JSON.stringify({ object: 'list', data: input.map((t, index) => ({ object: 'embedding', index, embedding: [t.length, index] })) }),
        );
      return;
    }
    if (!(req.method === 'POST' && req.url === `${base}/chat/completions`)) {
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }));
      return;
    }
    const s = completions.next();
    if (s.error) {
      res.writeHead(s.error.status, { 'content-type': 'application/json', ...(s.error.headers ?? {}) }).end(JSON.stringify(s.error.body));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const id = 'chatcmpl-double';
    const created = 1_760_000_000;
    const chunk = (delta: unknown, finish: string | null = null): string =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: b.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
    const send = async (text: string): Promise<boolean> => {
      if (s.delayMs) await sleep(s.delayMs);
      return writeChunk(res, text);
    };
    if (!(await send(chunk({ role: 'assistant', content: '' })))) return;
    const chunks = s.chunks ?? [];
    for (let i = 0; i < chunks.length; i++) {
      if (s.streamErrorAfter && i === s.streamErrorAfter.deltas) {
        await send(`data: ${JSON.stringify({ error: { message: s.streamErrorAfter.message, type: 'internal_server_error' } })}\n\n`);
        res.end();
        return;
      }
      if (!(await send(chunk({ content: chunks[i] })))) return;
    }
    for (const [index, t] of (s.toolCalls ?? []).entries()) {
      await send(chunk({ tool_calls: [{ index, id: t.id, type: 'function', function: { name: t.name, arguments: '' } }] }));
      for (const part of t.argParts) await send(chunk({ tool_calls: [{ index, function: { arguments: part } }] }));
    }
    await send(chunk({}, s.finishReason ?? (s.toolCalls?.length ? 'tool_calls' : 'stop')));
    if (b.stream_options?.include_usage && s.usage) {
      const u = s.usage;
      await send(
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: b.model, choices: [], usage: { prompt_tokens: u.prompt, completion_tokens: u.completion, total_tokens: u.prompt + u.completion } })}\n\n`,
      );
    }
    await send('data: [DONE]\n\n');
    res.end();
  });
  const double = Object.create(http) as OpenAiDouble;
  Object.defineProperty(double, 'url', { get: () => `${http.url}${base}` });
  double.completions = completions;
  return double;
}

export { startOpenAi as start };
