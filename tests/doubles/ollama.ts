/*
 * Ollama protocol double: a real HTTP server speaking Ollama's NDJSON API.
 *
 *   import { startOllama } from '../doubles/ollama.js';
 *   const ollama = await startOllama();          // default: streams "Hello, world!"
 *   ollama.chat.enqueue({ chunks: ['a', 'b'], delayMs: 50 }); // next /api/chat only
 *   ollama.chat.fallback = { chunks: ['x'] };    // every later /api/chat
 *   ollama.respond = (req) => ({ chunks: [JSON.stringify({...})] }); // answer from the request
 *                                                // (a scripted model for JSON answers); queued
 *                                                // scripts still go first, undefined = fallback
 *   ollama.url                                   // http://127.0.0.1:<port>, use as OLLAMA_URL_<HOST>
 *   await ollama.down(); await ollama.up();      // connection refused / back again
 *   ollama.requests, ollama.clientAborts, await ollama.nextClientAbort()
 *   await ollama.close();
 *
 * Endpoints: POST /api/chat (NDJSON stream, or one JSON object with stream:false), POST /api/embed,
 * GET /api/tags, GET /api/version.
 */
import { ScriptQueue, sleep, startHttp, writeChunk, type HttpDouble } from './http.js';

export interface OllamaChatScript {
  /** Content deltas, one NDJSON line each. */
  chunks?: string[];
  /** Pause before each line, ms (slow streams for abort and timeout tests). */
  delayMs?: number;
  /** Send `{"error": message}` as a line after this many chunks, then end. */
  errorAfter?: { chunks: number; message: string };
  /** Answer with this HTTP status and `{"error": message}` instead of a stream. */
  status?: { code: number; message: string };
  toolCalls?: { name: string; arguments: Record<string, unknown> }[];
  promptEvalCount?: number;
  evalCount?: number;
  doneReason?: string;
}

/** What a responder sees of an /api/chat request. */
export interface OllamaChatRequest {
  model: string;
  messages: { role: string; content: string }[];
}

export interface OllamaDouble extends HttpDouble {
  chat: ScriptQueue<OllamaChatScript>;
  /** Scripts an answer from the request itself; consulted when no script is queued. */
  respond: ((req: OllamaChatRequest) => OllamaChatScript | undefined) | undefined;
  /** Models /api/tags lists. */
  models: string[];
  /** Embedding size /api/embed answers with. */
  dimensions: number;
}

export const DEFAULT_OLLAMA_CHAT: OllamaChatScript = { chunks: ['Hello', ', ', 'world!'], promptEvalCount: 12, evalCount: 3 };

/** A deterministic embedding of a text, so tests can compare vectors. */
export function fakeEmbedding(text: string, dimensions: number): number[] {
  const v: number[] = [];
  for (let i = 0; i < dimensions; i++) v.push(((text.charCodeAt(i % Math.max(1, text.length)) || 0) + i) / 1000);
  return v;
}

export async function startOllama(opts: { chat?: OllamaChatScript; models?: string[]; dimensions?: number } = {}): Promise<OllamaDouble> {
  const chat = new ScriptQueue<OllamaChatScript>(opts.chat ?? DEFAULT_OLLAMA_CHAT);
  // The double itself holds models and dimensions, so a test can change them between calls.
  // eslint-disable-next-line prefer-const -- assigned once the server is up; the handler reads it later
  let double: OllamaDouble;
  let state: { models: string[]; dimensions: number } = { models: opts.models ?? ['qwen2.5:14b', 'nomic-embed-text'], dimensions: opts.dimensions ?? 8 };
  const http = await startHttp(async (req, res, body) => {
    const b = (body ?? {}) as { model?: string; stream?: boolean; input?: string | string[] };
    if (req.method === 'GET' && req.url === '/api/version') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ version: '0.12.0' }));
      return;
    }
    if (req.method === 'GET' && req.url === '/api/tags') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({ models: state.models.map((name) => ({ name, model: name, modified_at: '2026-01-01T00:00:00Z', size: 1, digest: 'x', details: {} })) }),
      );
      return;
    }
    if (req.method === 'POST' && req.url === '/api/embed') {
      const input = Array.isArray(b.input) ? b.input : [b.input ?? ''];
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({ model: b.model, embeddings: input.map((t) => fakeEmbedding(t, state.dimensions)), total_duration: 1, load_duration: 0, prompt_eval_count: input.length }),
      );
      return;
    }
    if (req.method === 'POST' && req.url === '/api/chat') {
      const m = body as { model?: string; messages?: { role: string; content: string }[] } | undefined;
      const s = (chat.pending() === 0 ? double.respond?.({ model: m?.model ?? '', messages: m?.messages ?? [] }) : undefined) ?? chat.next();
      if (s.status) {
        res.writeHead(s.status.code, { 'content-type': 'application/json' }).end(JSON.stringify({ error: s.status.message }));
        return;
      }
      const base = { model: b.model, created_at: new Date().toISOString() };
      const chunks = s.chunks ?? [];
      if (b.stream === false) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({ ...base, message: { role: 'assistant', content: chunks.join('') }, done: true, done_reason: s.doneReason ?? 'stop', prompt_eval_count: s.promptEvalCount ?? 0, eval_count: s.evalCount ?? 0 }),
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      for (let i = 0; i < chunks.length; i++) {
        if (s.errorAfter && i === s.errorAfter.chunks) break;
        if (s.delayMs) await sleep(s.delayMs);
        if (!(await writeChunk(res, `${JSON.stringify({ ...base, message: { role: 'assistant', content: chunks[i] }, done: false })}\n`))) return;
      }
      if (s.errorAfter) {
        await writeChunk(res, `${JSON.stringify({ error: s.errorAfter.message })}\n`);
        res.end();
        return;
      }
      if (s.toolCalls?.length) {
        await writeChunk(res, `${JSON.stringify({ ...base, message: { role: 'assistant', content: '', tool_calls: s.toolCalls.map((t) => ({ function: t })) }, done: false })}\n`);
      }
      if (s.delayMs) await sleep(s.delayMs);
      const final = {
        ...base,
        message: { role: 'assistant', content: '' },
        done: true,
        done_reason: s.doneReason ?? 'stop',
        total_duration: 1_000_000,
        load_duration: 0,
        prompt_eval_count: s.promptEvalCount ?? 0,
        prompt_eval_duration: 1,
        eval_count: s.evalCount ?? 0,
        eval_duration: 1,
      };
      await writeChunk(res, `${JSON.stringify(final)}\n`);
      res.end();
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `no route ${req.method} ${req.url}` }));
  });
  double = http as OllamaDouble;
  double.respond = undefined;
  double.chat = chat;
  double.models = state.models;
  double.dimensions = state.dimensions;
  state = double;
  return double;
}

export { startOllama as start };
