import { RuntimeError, describeError } from '../errors.js';
import { CallScope, fetchWithTimeout, parseToolArguments, isConnectionError, unavailableError } from './call.js';
import { formatMs, retryHint } from './retry-hint.js';
import { parseSse } from './sse.js';
import type { ChatEvent, ChatMessage, ChatRequest, FinishReason, HealthStatus, LlmProvider, StreamOptions, ToolCall } from './types.js';

/*
 * OpenAI-compatible chat completions over fetch + SSE, for Groq and Gemini's compat endpoint.
 * Model ids are sent as the route gives them (Gemini's keep their `models/` prefix).
 */

export interface OpenAiCompatibleProviderProps {
  /** "groq" or "gemini". */
  readonly kind: string;
  /** e.g. https://api.groq.com/openai/v1 (no trailing /chat/completions). */
  readonly baseUrl: string;
  readonly apiKey: string;
  /** The env var holding the key, for hints. */
  readonly apiKeySecret?: string;
}

interface ChunkToolCallDelta {
  index?: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

interface Chunk {
  choices?: { delta?: { content?: string | null; tool_calls?: ChunkToolCallDelta[] }; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  x_groq?: { usage?: { prompt_tokens?: number; completion_tokens?: number } };
  error?: { message?: string; type?: string; code?: unknown };
}

export class OpenAiCompatibleProvider implements LlmProvider {
  readonly kind: string;
  private readonly props: OpenAiCompatibleProviderProps;
  private readonly baseUrl: string;

  constructor(props: OpenAiCompatibleProviderProps) {
    this.kind = props.kind;
    this.props = props;
    this.baseUrl = props.baseUrl.replace(/\/+$/, '');
  }

  private headers(): Record<string, string> {
    return { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${this.props.apiKey}` };
  }

  async *chat(req: ChatRequest, opts: StreamOptions): AsyncGenerator<ChatEvent> {
    const call = new CallScope(opts.signal, opts.timeoutMs);
    let input = 0;
    let output = 0;
    try {
      const body: Record<string, unknown> = {
        model: req.model,
        messages: toOpenAiMessages(req),
        stream: true,
        stream_options: { include_usage: true },
      };
      if (req.maxTokens !== undefined) body.max_tokens = req.maxTokens;
      if (req.temperature !== undefined) body.temperature = req.temperature;
      if (req.topP !== undefined) body.top_p = req.topP;
      if (req.stop?.length) body.stop = req.stop;
      if (req.responseFormat) body.response_format = { type: req.responseFormat };
      if (req.tools?.length) {
        body.tools = req.tools.map((t) => ({
          type: 'function',
          function: { name: t.name, description: t.description, parameters: t.parameters },
        }));
        if (req.toolChoice)
          body.tool_choice =
            typeof req.toolChoice === 'string' ? req.toolChoice : { type: 'function', function: { name: req.toolChoice.name } };
      }
      const res = await fetch(`${this.baseUrl}/chat/completions`, {
        method: 'POST',
        headers: this.headers(),
        body: JSON.stringify(body),
        signal: call.signal,
      });
      if (!res.ok) throw await this.httpError(res, req.model);
      if (!res.body)
        throw new RuntimeError('PROVIDER_ERROR', `${this.kind} answered without a body`, {
          hint: `check routing.providers.${this.kind}.baseUrl: it must be the OpenAI-compatible API root`,
        });

      const tools = new Map<number, { id: string; name: string; args: string }>();
      let finish: string | null | undefined;
      let sawDone = false;
      for await (const ev of parseSse(res.body)) {
        // One network chunk can hold several events: once the caller stops, none of them is delivered.
        call.signal.throwIfAborted();
        if (ev.data === '[DONE]') {
          sawDone = true;
          break;
        }
        let chunk: Chunk;
        try {
          chunk = JSON.parse(ev.data) as Chunk;
        } catch (e) {
          throw new RuntimeError('PROVIDER_ERROR', `${this.kind} sent an SSE chunk that is not JSON: ${ev.data.slice(0, 200)}`, {
            hint: `check routing.providers.${this.kind}.baseUrl: something other than the provider answered`,
            cause: e,
          });
        }
        if (chunk.error) {
          throw new RuntimeError(
            'PROVIDER_ERROR',
            `${this.kind} failed mid-stream for ${req.model}: ${chunk.error.message ?? JSON.stringify(chunk.error)}`,
            { hint: 'retry; the provider gave up part way through the answer' },
          );
        }
        const usage = chunk.usage ?? chunk.x_groq?.usage;
        if (usage) {
          input = usage.prompt_tokens ?? input;
          output = usage.completion_tokens ?? output;
        }
        for (const choice of chunk.choices ?? []) {
          const text = choice.delta?.content;
          if (text) {
            call.markToken();
            yield { type: 'text', delta: text };
          }
          for (const d of choice.delta?.tool_calls ?? []) {
            const i = d.index ?? tools.size;
            const t = tools.get(i) ?? { id: '', name: '', args: '' };
            if (d.id) t.id = d.id;
            if (d.function?.name) t.name += d.function.name;
            if (d.function?.arguments) t.args += d.function.arguments;
            tools.set(i, t);
          }
          if (choice.finish_reason) finish = choice.finish_reason;
        }
      }
      if (call.aborted) {
        yield* call.abortedEnd(input, output);
        return;
      }
      if (call.timedOut) throw call.timeoutError(this.kind, req.model);
      if (!sawDone && finish === undefined) {
        throw new RuntimeError('PROVIDER_ERROR', `${this.kind} stream for ${req.model} ended before [DONE]`, {
          hint: 'retry; the connection was cut',
        });
      }
      for (const [i, t] of [...tools.entries()].sort((a, b) => a[0] - b[0])) {
        const tc: ToolCall = { id: t.id || `call_${i}`, name: t.name, arguments: parseToolArguments(t.args, t.name) };
        call.markToken();
        yield { type: 'tool_call', call: tc };
      }
      yield { type: 'usage', usage: call.usage(input, output) };
      yield { type: 'done', reason: finishReason(finish, tools.size > 0) };
    } catch (e) {
      yield* call.fail(e, { where: this.kind, model: req.model, input, output }, (x) => this.mapError(x, req.model));
    } finally {
      call.dispose();
    }
  }

  async embed(model: string, input: string[], opts: StreamOptions): Promise<number[][]> {
    const call = new CallScope(opts.signal, opts.timeoutMs);
    try {
      const res = await fetch(`${this.baseUrl}/embeddings`, {
        method: 'POST',
        headers: this.headers(),
        body: JSON.stringify({ model, input }),
        signal: call.signal,
      });
      if (!res.ok) throw await this.httpError(res, model);
      const json = (await res.json()) as { data?: { index?: number; embedding: number[] }[] };
      return [...(json.data ?? [])].sort((a, b) => (a.index ?? 0) - (b.index ?? 0)).map((d) => d.embedding);
    } catch (e) {
      if (call.timedOut) throw call.timeoutError(this.kind, model);
      throw this.mapError(e, model);
    } finally {
      call.dispose();
    }
  }

  async health(timeoutMs: number): Promise<HealthStatus> {
    const started = performance.now();
    try {
      const res = await fetchWithTimeout(
        `${this.baseUrl}/models`,
        { headers: { authorization: `Bearer ${this.props.apiKey}` } },
        timeoutMs,
      );
      await res.body?.cancel();
      const latencyMs = Math.round(performance.now() - started);
      return res.ok ? { ok: true, latencyMs } : { ok: false, reason: `answered HTTP ${res.status} on /models`, latencyMs };
    } catch (e) {
      return { ok: false, reason: describeError(e), latencyMs: Math.round(performance.now() - started) };
    }
  }

  private async httpError(res: Response, model: string): Promise<RuntimeError> {
    const text = await res.text().catch(() => '');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const first = Array.isArray(body) ? (body[0] as unknown) : body;
    const apiMsg = (first as { error?: { message?: string } } | undefined)?.error?.message ?? (text.slice(0, 300) || res.statusText);
    const what = `${this.kind} answered HTTP ${res.status} for ${model}: ${apiMsg}`;
    if (res.status === 429) {
      const hint = retryHint(res.headers, body);
      return new RuntimeError('PROVIDER_RATE_LIMITED', what, {
        hint: hint.retryAfterMs !== undefined ? `retry after ${formatMs(hint.retryAfterMs)} (${hint.source})` : 'retry later',
        ...(hint.retryAfterMs !== undefined ? { retryAfterMs: hint.retryAfterMs } : {}),
      });
    }
    if (res.status === 401 || res.status === 403) {
      return new RuntimeError('PROVIDER_AUTH', what, { hint: `check ${this.props.apiKeySecret ?? 'the API key'}` });
    }
    if (res.status === 404)
      return new RuntimeError('PROVIDER_ERROR', what, { hint: `check the model id ${model} against the provider's model list` });
    if (res.status === 503)
      return new RuntimeError('PROVIDER_UNAVAILABLE', what, { hint: 'the provider is overloaded or down; retry later' });
    return new RuntimeError('PROVIDER_ERROR', what, {
      hint: res.status >= 500 ? 'the provider failed: retry later' : 'the provider refused the request as sent: read its message above',
    });
  }

  private mapError(e: unknown, model: string): RuntimeError {
    if (e instanceof RuntimeError) return e;
    if (isConnectionError(e)) return unavailableError(this.kind, this.baseUrl, e);
    return new RuntimeError('PROVIDER_ERROR', `${this.kind} failed for ${model}: ${describeError(e)}`, {
      hint: `retry; if it persists, check routing.providers.${this.kind}.baseUrl and the network`,
      cause: e,
    });
  }
}

function toOpenAiMessages(req: ChatRequest): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  if (req.system) out.push({ role: 'system', content: req.system });
  for (const m of req.messages as ChatMessage[]) {
    if (m.role === 'tool') out.push({ role: 'tool', tool_call_id: m.toolCallId ?? '', content: m.content });
    else if (m.role === 'assistant' && m.toolCalls?.length) {
      out.push({
        role: 'assistant',
        content: m.content || null,
        tool_calls: m.toolCalls.map((c) => ({
          id: c.id,
          type: 'function',
          function: { name: c.name, arguments: JSON.stringify(c.arguments) },
        })),
      });
    } else out.push({ role: m.role, content: m.content });
  }
  return out;
}

function finishReason(finish: string | null | undefined, sawTool: boolean): FinishReason {
  if (finish === 'tool_calls' || finish === 'function_call' || (sawTool && !finish)) return 'tool_calls';
  if (finish === 'length') return 'length';
  return sawTool ? 'tool_calls' : 'stop';
}
