import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { RuntimeError, toRuntimeError } from '../../../errors.js';
import type { ChatEvent, ChatMessage, ChatRequest, FinishReason, ToolCall, Usage } from '../../../providers/types.js';
import type { EmbedOptions, ModelInfo, RouterChatOptions } from '../../../router/index.js';
import type { WebDeps } from '../../app.js';
import { requireWrite } from '../../http.js';
import { invalidParam, openAiErrorBody, withParam } from './errors.js';
import { ChatCompletionBody, EmbeddingsBody, parseOpenAi, toChatMessages, toToolChoice, toTools } from './schema.js';

/*
 * An OpenAI-compatible API under /v1, in front of the router: editors, agents and notebooks
 * speak it, and the platform keeps the keys, the routing and the usage record. Every call goes
 * through the router (usage row with who and which token, metrics, span), exactly as a chat
 * does; an unavailable model is a 503 with the reason, never another model.
 *
 * Extension: each entry of GET /v1/models carries `x_platform: {available, reason, kind, ...}`.
 */

/** What /v1 needs from the router, beyond what the control panel uses. */
export interface OpenAiModelSource {
  models(): ModelInfo[];
  chat(model: string, req: Omit<ChatRequest, 'model'>, opts: RouterChatOptions): AsyncIterable<ChatEvent>;
  readonly embeddingModel: { id: string; host: string; dimensions: number; available: boolean; reason?: string };
  embedCounted(input: string[], opts: EmbedOptions): Promise<{ embeddings: number[][]; inputTokens: number }>;
}

/** Long contexts are the point of some of these calls: /v1 allows larger bodies than the panel. */
export const OPENAI_BODY_BYTES = 8 * 1024 * 1024;

// Which provider honours which request feature (checked before the call, so the answer is a 400).
const JSON_MODE = new Set(['ollama', 'groq', 'gemini']);
const FORCED_TOOL_CHOICE = new Set(['anthropic', 'groq', 'gemini']);

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  // Tells nginx-style proxies not to buffer the stream.
  'x-accel-buffering': 'no',
};

type OpenAiFinish = 'stop' | 'length' | 'tool_calls';

function finishOf(r: FinishReason | undefined): OpenAiFinish {
  if (r === 'length') return 'length';
  if (r === 'tool_calls') return 'tool_calls';
  return 'stop';
}

function usageOf(u: Usage | undefined): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  const p = u?.inputTokens ?? 0;
  const c = u?.outputTokens ?? 0;
  return { prompt_tokens: p, completion_tokens: c, total_tokens: p + c };
}

function toolCallOut(c: ToolCall, index?: number): Record<string, unknown> {
  return {
    ...(index !== undefined ? { index } : {}),
    id: c.id,
    type: 'function',
    function: { name: c.name, arguments: JSON.stringify(c.arguments) },
  };
}

function who(req: FastifyRequest): { client?: string; tokenId?: string } {
  return { ...(req.identity?.id ? { client: req.identity.id } : {}), ...(req.identity?.tokenId ? { tokenId: req.identity.tokenId } : {}) };
}

/** An AbortController that fires when the client goes away before the answer is complete. */
function abortOnClose(res: ServerResponse): AbortController {
  const ac = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) ac.abort(new RuntimeError('BAD_REQUEST', 'the client closed the connection'));
  });
  return ac;
}

function write(res: ServerResponse, text: string): Promise<void> | undefined {
  if (res.writableEnded || res.destroyed) return undefined;
  if (res.write(text)) return undefined;
  // Backpressure: wait for the client to read, or for it to go away.
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

export const openAiPlugin: FastifyPluginAsync<WebDeps> = async (app, deps) => {
  const router = deps.router;
  const created = Math.floor(Date.now() / 1000);

  const listModels = (): Record<string, unknown>[] => {
    const out: Record<string, unknown>[] = router.models().map((m) => ({
      id: m.id,
      object: 'model',
      created,
      owned_by: m.provider,
      x_platform: {
        kind: 'chat',
        available: m.available,
        reason: m.reason ?? null,
        label: m.label,
        purpose: m.purpose,
        default: m.isDefault,
        ...(m.host ? { host: m.host } : {}),
      },
    }));
    const e = router.embeddingModel;
    if (!out.some((m) => m.id === e.id)) {
      out.push({
        id: e.id,
        object: 'model',
        created,
        owned_by: 'ollama',
        x_platform: {
          kind: 'embedding',
          available: e.available,
          reason: e.reason ?? null,
          label: e.id,
          purpose: 'Embeddings',
          default: false,
          host: e.host,
          dimensions: e.dimensions,
        },
      });
    }
    return out;
  };

  app.get('/v1/models', async () => ({ object: 'list', data: listModels() }));

  // Model ids hold slashes (`qwen/qwen3-32b`, `models/gemini-2.5-flash`), hence the wildcard.
  app.get('/v1/models/*', async (req) => {
    const id = (req.params as { '*': string })['*'];
    const m = listModels().find((x) => x.id === id);
    if (!m)
      throw withParam(
        new RuntimeError('MODEL_UNKNOWN', `the model "${id}" does not exist`, { hint: 'GET /v1/models lists them' }),
        'model',
      );
    return m;
  });

  /** The route for a chat model, refused early (404 unknown, 503 unavailable). */
  const chatModel = (id: string): ModelInfo => {
    const m = router.models().find((x) => x.id === id);
    if (!m) {
      if (id === router.embeddingModel.id) throw invalidParam('model', `"${id}" is an embedding model; use /v1/embeddings`);
      throw withParam(
        new RuntimeError('MODEL_UNKNOWN', `the model "${id}" does not exist`, {
          hint: `use one of: ${router
            .models()
            .map((x) => x.id)
            .join(', ')}`,
        }),
        'model',
      );
    }
    if (!m.available) {
      throw withParam(
        new RuntimeError('PROVIDER_UNAVAILABLE', `${m.id} is unavailable: ${m.reason ?? 'unknown reason'}`, {
          hint: 'pick another model yourself; there is no automatic fallback',
          httpStatus: 503,
        }),
        'model',
      );
    }
    return m;
  };

  app.post('/v1/chat/completions', { bodyLimit: OPENAI_BODY_BYTES }, async (req, reply) => {
    requireWrite(req);
    const body = parseOpenAi(ChatCompletionBody, req.body);
    if (body.n !== undefined && body.n !== null && body.n !== 1) throw invalidParam('n', 'n: only one choice per request is supported');
    if (body.logprobs) throw invalidParam('logprobs', 'logprobs are not supported');
    const model = chatModel(body.model);
    const { system, messages } = toChatMessages(body);
    const rf = body.response_format?.type;
    if (rf === 'json_schema')
      throw invalidParam(
        'response_format.type',
        'response_format json_schema is not supported; use json_object',
        'ask for json_object and describe the schema in the prompt',
      );
    if (rf === 'json_object' && !JSON_MODE.has(model.provider)) {
      throw invalidParam(
        'response_format',
        `${model.provider} models have no JSON mode here (${model.id})`,
        'drop response_format, or pick an Ollama, Groq or Gemini model',
      );
    }
    const toolChoice = toToolChoice(body);
    let tools = toTools(body);
    if (toolChoice === 'none' && model.provider === 'ollama') tools = undefined;
    if (tools && toolChoice !== undefined && toolChoice !== 'auto' && toolChoice !== 'none' && !FORCED_TOOL_CHOICE.has(model.provider)) {
      throw invalidParam('tool_choice', `${model.provider} cannot be forced to call a tool (${model.id})`, 'use tool_choice "auto"');
    }
    const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? undefined;
    const chatReq: Omit<ChatRequest, 'model'> = {
      messages: messages as ChatMessage[],
      ...(system ? { system } : {}),
      ...(tools ? { tools } : {}),
      ...(tools && toolChoice ? { toolChoice } : {}),
      ...(maxTokens !== undefined ? { maxTokens } : {}),
      ...(body.temperature != null ? { temperature: body.temperature } : {}),
      ...(body.top_p != null ? { topP: body.top_p } : {}),
      ...(body.stop != null ? { stop: typeof body.stop === 'string' ? [body.stop] : body.stop } : {}),
      ...(rf === 'json_object' ? { responseFormat: 'json_object' as const } : {}),
    };
    const ac = abortOnClose(reply.raw);
    const events = router.chat(model.id, chatReq, { mode: 'chat', signal: ac.signal, ...who(req) });
    const id = `chatcmpl-${randomUUID().replace(/-/g, '')}`;
    const ctx = { id, created: Math.floor(Date.now() / 1000), model: model.id };
    if (body.stream)
      return streamCompletion(reply, events, ctx, body.stream_options?.include_usage === true, deps.settings.heartbeatMs, ac);
    return completeOnce(events, ctx, ac);
  });

  app.post('/v1/embeddings', { bodyLimit: OPENAI_BODY_BYTES }, async (req, reply) => {
    requireWrite(req);
    const body = parseOpenAi(EmbeddingsBody, req.body);
    const e = router.embeddingModel;
    if (body.model !== e.id) {
      const m = router.models().find((x) => x.id === body.model);
      if (!m)
        throw withParam(
          new RuntimeError('MODEL_UNKNOWN', `the model "${body.model}" does not exist`, { hint: `embed with ${e.id}` }),
          'model',
        );
      if (m.provider !== 'ollama')
        throw invalidParam('model', `${m.provider} models have no embeddings here (${m.id})`, `embed with ${e.id}`);
    }
    if (typeof body.input !== 'string' && body.input.some((x) => typeof x !== 'string')) {
      throw invalidParam('input', 'input: token arrays are not supported; send text', 'send a string or an array of strings');
    }
    const input = typeof body.input === 'string' ? [body.input] : (body.input as string[]);
    if (input.some((t) => t.length === 0)) throw invalidParam('input', 'input: empty strings cannot be embedded');
    if (body.dimensions !== undefined && body.dimensions !== e.dimensions) {
      throw invalidParam(
        'dimensions',
        `dimensions: ${e.id} gives ${e.dimensions} dimensions and cannot be shortened`,
        'leave dimensions out',
      );
    }
    if (!e.available)
      throw withParam(
        new RuntimeError('PROVIDER_UNAVAILABLE', `${e.id} is unavailable: ${e.reason ?? 'unknown reason'}`, { httpStatus: 503 }),
        'model',
      );
    const ac = abortOnClose(reply.raw);
    const r = await router.embedCounted(input, { signal: ac.signal, mode: 'chat', ...who(req) });
    const base64 = body.encoding_format === 'base64';
    return {
      object: 'list',
      model: e.id,
      data: r.embeddings.map((v, index) => ({
        object: 'embedding',
        index,
        embedding: base64 ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v,
      })),
      usage: { prompt_tokens: r.inputTokens, total_tokens: r.inputTokens },
    };
  });
};

interface CompletionContext {
  id: string;
  created: number;
  model: string;
}

async function completeOnce(
  events: AsyncIterable<ChatEvent>,
  ctx: CompletionContext,
  ac: AbortController,
): Promise<Record<string, unknown>> {
  let content = '';
  const calls: ToolCall[] = [];
  let usage: Usage | undefined;
  let reason: FinishReason | undefined;
  for await (const ev of events) {
    if (ev.type === 'text') content += ev.delta;
    else if (ev.type === 'tool_call') calls.push(ev.call);
    else if (ev.type === 'usage') usage = ev.usage;
    else reason = ev.reason;
  }
  if (ac.signal.aborted) throw new RuntimeError('BAD_REQUEST', 'the client closed the connection');
  return {
    id: ctx.id,
    object: 'chat.completion',
    created: ctx.created,
    model: ctx.model,
    system_fingerprint: null,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: calls.length && !content ? null : content,
          refusal: null,
          ...(calls.length ? { tool_calls: calls.map((c) => toolCallOut(c)) } : {}),
        },
        logprobs: null,
        finish_reason: finishOf(reason),
      },
    ],
    usage: usageOf(usage),
  };
}

/**
 * Streams OpenAI chunks. The first provider event is awaited before the status line, so an
 * error up front (rate limit, provider down) is still a proper HTTP status; if that takes
 * longer than a heartbeat, the stream opens and keep-alive comments hold proxies open.
 */
async function streamCompletion(
  reply: FastifyReply,
  events: AsyncIterable<ChatEvent>,
  ctx: CompletionContext,
  includeUsage: boolean,
  heartbeatMs: number,
  ac: AbortController,
): Promise<FastifyReply> {
  const it = events[Symbol.asyncIterator]();
  const res = reply.raw;
  let opened = false;
  const chunk = (delta: Record<string, unknown>, finish: OpenAiFinish | null, usage?: ReturnType<typeof usageOf>): string =>
    `data: ${JSON.stringify({
      id: ctx.id,
      object: 'chat.completion.chunk',
      created: ctx.created,
      model: ctx.model,
      system_fingerprint: null,
      choices: finish === null && !Object.keys(delta).length && usage ? [] : [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(includeUsage ? { usage: usage ?? null } : {}),
    })}\n\n`;
  const open = (): void => {
    if (opened) return;
    opened = true;
    reply.hijack();
    res.writeHead(200, SSE_HEADERS);
    res.write(chunk({ role: 'assistant', content: '' }, null));
  };
  const next = async (): Promise<IteratorResult<ChatEvent>> => {
    const p = it.next();
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const beat = new Promise<'beat'>((resolve) => {
        timer = setTimeout(() => resolve('beat'), heartbeatMs);
      });
      const r = await Promise.race([p, beat]).finally(() => clearTimeout(timer));
      if (r !== 'beat') return r;
      if (!opened) open();
      else await write(res, ': keep-alive\n\n');
    }
  };

  let first: IteratorResult<ChatEvent>;
  try {
    first = await next();
  } catch (e) {
    if (!opened) throw e;
    await endWithError(res, e);
    return reply;
  }
  open();
  let usage: Usage | undefined;
  let reason: FinishReason | undefined;
  let toolIndex = 0;
  try {
    for (let r = first; !r.done; r = await next()) {
      const ev = r.value;
      if (ev.type === 'text') await write(res, chunk({ content: ev.delta }, null));
      else if (ev.type === 'tool_call') await write(res, chunk({ tool_calls: [toolCallOut(ev.call, toolIndex++)] }, null));
      else if (ev.type === 'usage') usage = ev.usage;
      else reason = ev.reason;
      if (ac.signal.aborted) break;
    }
  } catch (e) {
    await endWithError(res, e);
    return reply;
  } finally {
    // Stops the provider stream (and closes its HTTP request) if we left the loop early.
    await it.return?.();
  }
  if (ac.signal.aborted || res.destroyed) {
    if (!res.writableEnded) res.end();
    return reply;
  }
  await write(res, chunk({}, finishOf(reason)));
  if (includeUsage) await write(res, chunk({}, null, usageOf(usage)));
  await write(res, 'data: [DONE]\n\n');
  res.end();
  return reply;
}

/** A failure after the status line went out: OpenAI's in-stream error event, then the end. */
async function endWithError(res: ServerResponse, e: unknown): Promise<void> {
  const err = toRuntimeError(e, 'PROVIDER_ERROR');
  await write(res, `data: ${JSON.stringify(openAiErrorBody(err))}\n\n`);
  if (!res.writableEnded) res.end();
}
