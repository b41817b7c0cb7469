import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/*
 * A small Ollama wire double for the worker's tests: POST /api/chat answering NDJSON like
 * Ollama 0.x, GET /api/version. Every chat request is kept so tests can check what the
 * provider received (messages, system prompt, model).
 */

export interface OllamaChatBody {
  model: string;
  messages: { role: string; content: string }[];
  stream?: boolean;
}

/**
 * `lines`: raw NDJSON lines written as is (malformed ones included), `gapMs` apart, then the
 * response ends, or stays open when `thenHang` (a provider that stalls mid-answer).
 * `flood`: `count` content lines of `chunk` each, as fast as the socket takes them.
 */
export type Answer =
  | string
  | { status: number; error: string }
  | { hang: true }
  | { lines: string[]; gapMs?: number; thenHang?: boolean }
  | { flood: string; count: number };

export interface OllamaLite {
  url: string;
  requests: OllamaChatBody[];
  /** Decides each answer; default echoes the last user message. */
  answer: (body: OllamaChatBody) => Answer | Promise<Answer>;
  close(): Promise<void>;
}

export async function startOllamaLite(port = 0): Promise<OllamaLite> {
  const state: OllamaLite = {
    url: '',
    requests: [],
    answer: (b) => `echo: ${b.messages.filter((m) => m.role === 'user').at(-1)?.content ?? ''}`,
    close: async () => undefined,
  };
  const server: Server = createServer((req, res) => void handle(req, res));
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'GET' && req.url === '/api/version') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"version":"0.12.0"}');
      return;
    }
    if (req.method !== 'POST' || req.url !== '/api/chat') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OllamaChatBody;
    state.requests.push(body);
    const answer = await state.answer(body);
    if (typeof answer === 'object' && 'hang' in answer) return; // never answers; the client aborts
    if (typeof answer === 'object' && 'lines' in answer) {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      for (const line of answer.lines) {
        if (res.destroyed) return;
        res.write(`${line}\n`);
        if (answer.gapMs) await new Promise((r) => setTimeout(r, answer.gapMs));
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
    for (const w of words) res.write(`${JSON.stringify({ model: body.model, created_at: created, message: { role: 'assistant', content: w }, done: false })}\n`);
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

  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return state;
}
