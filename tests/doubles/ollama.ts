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
 *   ollama.chats                                 // every /api/chat body, in order
 *   ollama.answer = (body) => 'text' | { hang: true } | { lines } | { flood } | { status, error };
 *                                                // decides each /api/chat instead of the scripts
 *   await ollama.close();
 *
 * Endpoints: POST /api/chat (NDJSON stream, or one JSON object with stream:false), POST /api/embed,
 * GET /api/tags, GET /api/version.
 */
import type { ServerResponse } from 'node:http';
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

export interface OllamaChatBody {
  model: string;
  messages: { role: string; content: string }[];
  stream?: boolean;
}

/**
 * A computed answer: text (streamed word by word, with token counts), an HTTP error, no answer at
 * all (`hang`: the client aborts), raw NDJSON `lines` written as is (malformed ones included)
 * `gapMs` apart then the end, or an open stream when `thenHang`; `flood`: `count` content lines
 * of `chunk` each, as fast as the socket takes them.
 */
export type OllamaAnswer =
  | string
  | { status: number; error: string }
  | { hang: true }
  | { lines: string[]; gapMs?: number; thenHang?: boolean }
  | { flood: string; count: number };

/** Echoes the last user message: the answer a test that does not care about the text gets. */
export const echoAnswer = (b: OllamaChatBody): OllamaAnswer => `echo: ${b.messages.filter((m) => m.role === 'user').at(-1)?.content ?? ''}`;

export interface OllamaDouble extends HttpDouble {
  chat: ScriptQueue<OllamaChatScript>;
  /** Scripts an answer from the request itself; consulted when no script is queued. */
  respond: ((req: OllamaChatRequest) => OllamaChatScript | undefined) | undefined;
  /** Every /api/chat body, in order (health checks and other endpoints are not in it). */
  chats: OllamaChatBody[];
  /** When set, decides each /api/chat answer instead of the `chat` scripts. */
  answer: ((body: OllamaChatBody) => OllamaAnswer | Promise<OllamaAnswer>) | undefined;
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

export interface StartOllamaOptions {
  chat?: OllamaChatScript;
  models?: string[];
  dimensions?: number;
  answer?: OllamaDouble['answer'];
}

export async function startOllama(opts: StartOllamaOptions = {}): Promise<OllamaDouble> {
  const chat = new ScriptQueue<OllamaChatScript>(opts.chat ?? DEFAULT_OLLAMA_CHAT);
  const chats: OllamaChatBody[] = [];
  // The double itself holds models and dimensions, so a test can change them between calls.
  let state: { models: string[]; dimensions: number; answer?: OllamaDouble['answer']; respond?: OllamaDouble['respond'] } = {
    models: opts.models ?? ['qwen2.5:14b', 'nomic-embed-text'],
    dimensions: opts.dimensions ?? 8,
    answer: opts.answer,
  };
  const http = await startHttp(async (req, res, body) => {
    const b = (body ?? {}) as { model?: string; stream?: boolean; input?: string | string[] };
    if (req.method === 'GET' && req.url === '/api/version') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ version: '0.12.0' }));
      return;
    }
    if (req.method === 'GET' && req.url === '/api/tags') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          models: state.models.map((name) => ({
            name,
            model: name,
            modified_at: '2026-01-01T00:00:00Z',
            size: 1,
            digest: 'x',
            details: {},
          })),
        }),
      );
      return;
    }
    if (req.method === 'POST' && req.url === '/api/embed') {
      const input = Array.isArray(b.input) ? b.input : [b.input ?? ''];
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          model: b.model,
          embeddings: input.map((t) => fakeEmbedding(t, state.dimensions)),
          total_duration: 1,
          load_duration: 0,
          prompt_eval_count: input.length,
        }),
      );
      return;
    }
    if (req.method === 'POST' && req.url === '/api/chat') {
      chats.push(body as OllamaChatBody);
      const decide = state.answer;
      if (decide) {
        await writeAnswer(res, body as OllamaChatBody, await decide(body as OllamaChatBody));
        return;
      }
      const m = body as { model?: string; messages?: { role: string; content: string }[] } | undefined;
      const s = (chat.pending() === 0 ? state.respond?.({ model: m?.model ?? '', messages: m?.messages ?? [] }) : undefined) ?? chat.next();
      if (s.status) {
        res.writeHead(s.status.code, { 'content-type': 'application/json' }).end(JSON.stringify({ error: s.status.message }));
        return;
      }
      const base = { model: b.model, created_at: new Date().toISOString() };
      const chunks = s.chunks ?? [];
      if (b.stream === false) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            ...base,
            message: { role: 'assistant', content: chunks.join('') },
            done: true,
            done_reason: s.doneReason ?? 'stop',
            prompt_eval_count: s.promptEvalCount ?? 0,
            eval_count: s.evalCount ?? 0,
          }),
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      for (let i = 0; i < chunks.length; i++) {
        if (s.errorAfter && i === s.errorAfter.chunks) break;
        if (s.delayMs) await sleep(s.delayMs);
        if (!(await writeChunk(res, `${JSON.stringify({ ...base, message: { role: 'assistant', content: chunks[i] }, done: false })}\n`)))
          return;
      }
      if (s.errorAfter) {
        await writeChunk(res, `${JSON.stringify({ error: s.errorAfter.message })}\n`);
        res.end();
        return;
      }
      if (s.toolCalls?.length) {
        await writeChunk(
          res,
          `${JSON.stringify({ ...base, message: { role: 'assistant', content: '', tool_calls: s.toolCalls.map((t) => ({ function: t })) }, done: false })}\n`,
        );
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
  const double = http as OllamaDouble;
  double.respond = undefined;
  double.chat = chat;
  double.chats = chats;
  double.answer = opts.answer;
  double.models = state.models;
  double.dimensions = state.dimensions;
  state = double;
  return double;
}

async function writeAnswer(res: ServerResponse, body: OllamaChatBody, answer: OllamaAnswer): Promise<void> {
  if (typeof answer === 'object' && 'hang' in answer) return; // never answers; the client aborts
  if (typeof answer === 'object' && 'lines' in answer) {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    for (const line of answer.lines) {
      if (res.destroyed) return;
      res.write(`${line}\n`);
      if (answer.gapMs) await sleep(answer.gapMs);
    }
    if (!answer.thenHang) res.end();
    return;
  }
  if (typeof answer === 'object' && 'flood' in answer) {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const line = `${JSON.stringify({ model: body.model, created_at: new Date().toISOString(), message: { role: 'assistant', content: answer.flood }, done: false })}\n`;
    for (let i = 0; i < answer.count && !res.destroyed; i++) {
      if (!res.write(line)) await new Promise((r) => res.once('drain', r).once('close', r));
    }
    res.end();
    return;
  }
  if (typeof answer === 'object') {
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: answer.error }));
    return;
  }
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  const created = new Date().toISOString();
  const words = answer.match(/\S+\s*/g) ?? [answer];
  for (const w of words)
    res.write(`${JSON.stringify({ model: body.model, created_at: created, message: { role: 'assistant', content: w }, done: false })}\n`);
  const promptTokens = body.messages.reduce((n, m) => n + m.content.split(/\s+/).length, 0);
  res.end(
    `${JSON.stringify({
      model: body.model,
      created_at: created,
      message: { role: 'assistant', content: '' },
      done: true,
      done_reason: 'stop',
      total_duration: 1_000_000,
      load_duration: 0,
      prompt_eval_count: promptTokens,
      prompt_eval_duration: 1,
      eval_count: words.length,
      eval_duration: 1,
    })}\n`,
  );
}

export { startOllama as start };
