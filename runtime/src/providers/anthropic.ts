import Anthropic, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from '@anthropic-ai/sdk';
import type {
  MessageParam,
  RawMessageStreamEvent,
  StopReason,
  Tool,
  ToolChoice as ToolChoiceParam,
} from '@anthropic-ai/sdk/resources/messages/messages';
import { RuntimeError, describeError } from '../errors.js';
import { CallScope, fetchWithTimeout, parseToolArguments, unavailableError } from './call.js';
import { formatMs, retryHint } from './retry-hint.js';
import type { ChatEvent, ChatRequest, FinishReason, HealthStatus, LlmProvider, StreamOptions, ToolCall, ToolChoice } from './types.js';

/*
 * Anthropic Messages API over SSE, through @anthropic-ai/sdk. The SDK's own retries are off:
 * retry policy (fail fast in chat, bounded retries in jobs) belongs to the router.
 */

export interface AnthropicProviderProps {
  readonly baseUrl: string;
  readonly apiKey: string;
  /** Used when neither the request nor the route gives max_tokens (the API requires one); from
   *  `routing.providers.anthropic.defaultMaxTokens` in the model. */
  readonly defaultMaxTokens: number;
  /** The env var holding the key, for hints. */
  readonly apiKeySecret?: string;
}

export class AnthropicProvider implements LlmProvider {
  readonly kind = 'anthropic';
  private readonly client: Anthropic;
  private readonly props: AnthropicProviderProps;

  constructor(props: AnthropicProviderProps) {
    this.props = props;
    this.client = new Anthropic({ apiKey: props.apiKey, baseURL: props.baseUrl.replace(/\/+$/, ''), maxRetries: 0 });
  }

  async *chat(req: ChatRequest, opts: StreamOptions): AsyncGenerator<ChatEvent> {
    const call = new CallScope(opts.signal, opts.timeoutMs);
    let input = 0;
    let output = 0;
    try {
      const stream = await this.client.messages.create(
        {
          model: req.model,
          max_tokens: req.maxTokens ?? this.props.defaultMaxTokens,
          messages: toAnthropicMessages(req),
          stream: true,
          ...(systemOf(req) ? { system: systemOf(req) } : {}),
          ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
          ...(req.topP !== undefined ? { top_p: req.topP } : {}),
          ...(req.stop?.length ? { stop_sequences: req.stop } : {}),
          ...(req.tools?.length
            ? {
                tools: req.tools.map((t): Tool => ({
                  name: t.name,
                  description: t.description,
                  input_schema: t.parameters as Tool['input_schema'],
                })),
              }
            : {}),
          ...(req.tools?.length && req.toolChoice ? { tool_choice: anthropicToolChoice(req.toolChoice) } : {}),
        },
        { signal: call.signal, timeout: opts.timeoutMs },
      );
      const toolBlocks = new Map<number, { id: string; name: string; json: string }>();
      let stop: StopReason | null = null;
      let stopped = false;
      let sawTool = false;
      for await (const ev of stream as AsyncIterable<RawMessageStreamEvent>) {
        // One network chunk can hold several events: once the caller stops, none of them is delivered.
        call.signal.throwIfAborted();
        switch (ev.type) {
          case 'message_start':
            input =
              ev.message.usage.input_tokens +
              (ev.message.usage.cache_read_input_tokens ?? 0) +
              (ev.message.usage.cache_creation_input_tokens ?? 0);
            output = ev.message.usage.output_tokens;
            break;
          case 'content_block_start':
            if (ev.content_block.type === 'tool_use')
              toolBlocks.set(ev.index, { id: ev.content_block.id, name: ev.content_block.name, json: '' });
            else if (ev.content_block.type === 'text' && ev.content_block.text) {
              call.markToken();
              yield { type: 'text', delta: ev.content_block.text };
            }
            break;
          case 'content_block_delta':
            if (ev.delta.type === 'text_delta') {
              call.markToken();
              yield { type: 'text', delta: ev.delta.text };
            } else if (ev.delta.type === 'input_json_delta') {
              const b = toolBlocks.get(ev.index);
              if (b) b.json += ev.delta.partial_json;
            }
            break;
          case 'content_block_stop': {
            const b = toolBlocks.get(ev.index);
            if (b) {
              toolBlocks.delete(ev.index);
              const tc: ToolCall = { id: b.id, name: b.name, arguments: parseToolArguments(b.json, b.name) };
              sawTool = true;
              call.markToken();
              yield { type: 'tool_call', call: tc };
            }
            break;
          }
          case 'message_delta':
            stop = ev.delta.stop_reason;
            // message_delta usage is cumulative for the message.
            output = ev.usage.output_tokens ?? output;
            if (ev.usage.input_tokens)
              input = ev.usage.input_tokens + (ev.usage.cache_read_input_tokens ?? 0) + (ev.usage.cache_creation_input_tokens ?? 0);
            break;
          case 'message_stop':
            stopped = true;
            break;
        }
      }
      // The SDK ends the iteration quietly on abort, so the end of the loop is checked here.
      if (call.aborted) {
        yield* call.abortedEnd(input, output);
        return;
      }
      if (call.timedOut) throw call.timeoutError('anthropic', req.model);
      if (!stopped)
        throw new RuntimeError('PROVIDER_ERROR', `anthropic stream for ${req.model} ended before message_stop`, {
          hint: 'retry; the connection was cut',
        });
      yield { type: 'usage', usage: call.usage(input, output) };
      yield { type: 'done', reason: finishReason(stop, sawTool) };
    } catch (e) {
      yield* call.fail(e, { where: 'anthropic', model: req.model, input, output, timedOut: e instanceof APIConnectionTimeoutError }, (x) =>
        this.mapError(x, req.model),
      );
    } finally {
      call.dispose();
    }
  }

  embed(model: string): Promise<number[][]> {
    return Promise.reject(
      new RuntimeError('PROVIDER_ERROR', `anthropic has no embeddings API (asked for ${model})`, { hint: 'use an Ollama embedding model' }),
    );
  }

  async health(timeoutMs: number): Promise<HealthStatus> {
    const started = performance.now();
    try {
      const res = await fetchWithTimeout(
        `${this.props.baseUrl.replace(/\/+$/, '')}/v1/models`,
        { headers: { 'x-api-key': this.props.apiKey, 'anthropic-version': '2023-06-01' } },
        timeoutMs,
      );
      await res.body?.cancel();
      const latencyMs = Math.round(performance.now() - started);
      return res.ok ? { ok: true, latencyMs } : { ok: false, reason: `answered HTTP ${res.status} on /v1/models`, latencyMs };
    } catch (e) {
      return { ok: false, reason: describeError(e), latencyMs: Math.round(performance.now() - started) };
    }
  }

  private mapError(e: unknown, model: string): RuntimeError {
    if (e instanceof RuntimeError) return e;
    if (e instanceof APIUserAbortError)
      return new RuntimeError('PROVIDER_ERROR', `anthropic call for ${model} was cut`, {
        hint: 'retry; the request was cut before Anthropic finished',
        cause: e,
      });
    if (e instanceof APIConnectionError) return unavailableError('anthropic', this.props.baseUrl, e);
    if (e instanceof APIError) {
      const status = e.status;
      const type = (e.error as { error?: { type?: string; message?: string } } | undefined)?.error?.type ?? e.type ?? undefined;
      const apiMsg = (e.error as { error?: { message?: string } } | undefined)?.error?.message ?? e.message;
      const what = `anthropic ${status ?? 'stream'} ${type ?? 'error'} for ${model}: ${apiMsg}`;
      if (status === 401 || status === 403 || type === 'authentication_error' || type === 'permission_error') {
        return new RuntimeError('PROVIDER_AUTH', what, { hint: `check ${this.props.apiKeySecret ?? 'ANTHROPIC_API_KEY'}`, cause: e });
      }
      if (status === 429 || status === 529 || type === 'rate_limit_error' || type === 'overloaded_error') {
        const hint = e.headers ? retryHint(e.headers, e.error) : {};
        return new RuntimeError('PROVIDER_RATE_LIMITED', what, {
          hint: hint.retryAfterMs !== undefined ? `retry after ${formatMs(hint.retryAfterMs)}` : 'retry later',
          ...(hint.retryAfterMs !== undefined ? { retryAfterMs: hint.retryAfterMs } : {}),
          ...(status === 529 || type === 'overloaded_error' ? { httpStatus: 503 } : {}),
          cause: e,
        });
      }
      return new RuntimeError('PROVIDER_ERROR', what, {
        hint:
          status !== undefined && status >= 500
            ? 'Anthropic failed: retry later (status.anthropic.com)'
            : 'Anthropic refused the request as sent: read its message above',
        cause: e,
      });
    }
    return new RuntimeError('PROVIDER_ERROR', `anthropic failed for ${model}: ${describeError(e)}`, {
      hint: 'retry; if it persists, check routing.providers.anthropic.baseUrl and the network',
      cause: e,
    });
  }
}

function anthropicToolChoice(c: ToolChoice): ToolChoiceParam {
  if (c === 'auto') return { type: 'auto' };
  if (c === 'none') return { type: 'none' };
  if (c === 'required') return { type: 'any' };
  return { type: 'tool', name: c.name };
}

function systemOf(req: ChatRequest): string | undefined {
  const parts = [req.system, ...req.messages.filter((m) => m.role === 'system').map((m) => m.content)].filter((s): s is string => !!s);
  return parts.length ? parts.join('\n\n') : undefined;
}

function toAnthropicMessages(req: ChatRequest): MessageParam[] {
  const out: MessageParam[] = [];
  for (const m of req.messages) {
    if (m.role === 'system') continue;
    if (m.role === 'tool') {
      out.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: m.toolCallId ?? '', content: m.content }] });
    } else if (m.role === 'assistant' && m.toolCalls?.length) {
      out.push({
        role: 'assistant',
        content: [
          ...(m.content ? [{ type: 'text' as const, text: m.content }] : []),
          ...m.toolCalls.map((c) => ({ type: 'tool_use' as const, id: c.id, name: c.name, input: c.arguments })),
        ],
      });
    } else {
      out.push({ role: m.role, content: m.content });
    }
  }
  return out;
}

function finishReason(stop: StopReason | null, sawTool: boolean): FinishReason {
  if (stop === 'tool_use' || (sawTool && stop === null)) return 'tool_calls';
  if (stop === 'max_tokens' || stop === 'model_context_window_exceeded') return 'length';
  return 'stop';
}
