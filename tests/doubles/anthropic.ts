/*
 * Anthropic Messages API double: POST /v1/messages answering with the real SSE event sequence
 * (message_start, content_block_start/delta/stop, ping, message_delta with usage, message_stop),
 * or an error with Anthropic's JSON error body.
 *
 *   const anthropic = await startAnthropic();
 *   anthropic.messages.enqueue({ error: { status: 429, type: 'rate_limit_error', headers: { 'retry-after': '7' } } });
 *   anthropic.messages.fallback = { text: ['Hi', ' there'], inputTokens: 10, outputTokens: 2 };
 *   anthropic.url   // base URL for providers.anthropic.baseUrl
 *   anthropic.requests, anthropic.clientAborts, await anthropic.nextClientAbort(); await anthropic.close();
 */
import { ScriptQueue, sleep, startHttp, writeChunk, type HttpDouble } from './http.js';

export interface AnthropicScript {
  text?: string[];
  toolUse?: { id: string; name: string; jsonParts: string[] };
  inputTokens?: number;
  outputTokens?: number;
  stopReason?: string;
  delayMs?: number;
  /** Answer with this error instead of a stream. */
  error?: { status: number; type: string; message?: string; headers?: Record<string, string> };
  /** Send an `event: error` after this many text deltas. */
  streamErrorAfter?: { deltas: number; type: string; message: string };
  /** Close the connection without message_stop after this many text deltas. */
  cutAfter?: number;
}

export interface AnthropicDouble extends HttpDouble {
  messages: ScriptQueue<AnthropicScript>;
}

export const DEFAULT_ANTHROPIC: AnthropicScript = { text: ['Hello', ' from', ' Claude'], inputTokens: 21, outputTokens: 3 };

function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export async function startAnthropic(opts: { script?: AnthropicScript } = {}): Promise<AnthropicDouble> {
  const messages = new ScriptQueue<AnthropicScript>(opts.script ?? DEFAULT_ANTHROPIC);
  const http = await startHttp(async (req, res, body) => {
    if (req.method === 'GET' && req.url === '/v1/models') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ data: [{ id: 'claude-sonnet-4-6', type: 'model' }], has_more: false }));
      return;
    }
    if (!(req.method === 'POST' && req.url?.startsWith('/v1/messages'))) {
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: 'not found' } }));
      return;
    }
    const b = (body ?? {}) as { model?: string };
    const s = messages.next();
    if (s.error) {
      res
        .writeHead(s.error.status, { 'content-type': 'application/json', 'request-id': 'req_double', ...(s.error.headers ?? {}) })
        .end(JSON.stringify({ type: 'error', error: { type: s.error.type, message: s.error.message ?? s.error.type } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': 'req_double' });
    const write = async (event: string, data: unknown): Promise<boolean> => {
      if (s.delayMs) await sleep(s.delayMs);
      return writeChunk(res, sse(event, data));
    };
    const inTok = s.inputTokens ?? 0;
    if (
      !(await write('message_start', {
        type: 'message_start',
        message: {
          id: 'msg_double',
          type: 'message',
          role: 'assistant',
          content: [],
          model: b.model,
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: inTok, output_tokens: 1 },
        },
      }))
    )
      return;
    let index = 0;
    const text = s.text ?? [];
    if (text.length) {
      await write('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      await write('ping', { type: 'ping' });
      for (let i = 0; i < text.length; i++) {
        if (s.streamErrorAfter && i === s.streamErrorAfter.deltas) {
          await write('error', { type: 'error', error: { type: s.streamErrorAfter.type, message: s.streamErrorAfter.message } });
          res.end();
          return;
        }
        if (s.cutAfter !== undefined && i === s.cutAfter) {
          res.destroy();
          return;
        }
        if (!(await write('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: text[i] } })))
          return;
      }
      await write('content_block_stop', { type: 'content_block_stop', index });
      index++;
    }
    if (s.toolUse) {
      await write('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: s.toolUse.id, name: s.toolUse.name, input: {} },
      });
      for (const part of s.toolUse.jsonParts) {
        await write('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: part } });
      }
      await write('content_block_stop', { type: 'content_block_stop', index });
    }
    await write('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: s.stopReason ?? (s.toolUse ? 'tool_use' : 'end_turn'), stop_sequence: null },
      usage: { output_tokens: s.outputTokens ?? 0 },
    });
    await write('message_stop', { type: 'message_stop' });
    res.end();
  });
  const double = http as AnthropicDouble;
  double.messages = messages;
  return double;
}

export { startAnthropic as start };
