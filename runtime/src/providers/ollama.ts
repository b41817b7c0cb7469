import { Ollama, type ChatResponse, type Message as OllamaMessage, type Tool as OllamaTool } from 'ollama';
import { RuntimeError, describeError } from '../errors.js';
import { CallScope, fetchWithTimeout, isConnectionError, unavailableError } from './call.js';
import type { ChatEvent, ChatRequest, FinishReason, HealthStatus, LlmProvider, StreamOptions, ToolCall } from './types.js';

/*
 * Ollama over its NDJSON API. Chat streams are read here, strictly (see `ndjson`): the `ollama`
 * package skips a line it cannot parse with a console warning, which let a corrupted stream
 * "complete" with half an answer. Embeddings go through the package, one client per call: its
 * `abort()` cancels every stream of a client, so sharing one would let one stop cancel another.
 */

export interface OllamaProviderProps {
  /** Host name from the model ("davas"), for messages. */
  readonly host: string;
  readonly baseUrl: string;
}

export class OllamaProvider implements LlmProvider {
  readonly kind = 'ollama';
  readonly host: string;
  readonly baseUrl: string;

  constructor(props: OllamaProviderProps) {
    this.host = props.host;
    this.baseUrl = props.baseUrl.replace(/\/+$/, '');
  }

  private client(signal: AbortSignal): Ollama {
    return new Ollama({
      host: this.baseUrl,
      fetch: (input, init) => fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal }),
    });
  }

  async *chat(req: ChatRequest, opts: StreamOptions): AsyncGenerator<ChatEvent> {
    const call = new CallScope(opts.signal, opts.timeoutMs);
    let input = 0;
    let output = 0;
    try {
      const options: Record<string, number> = {};
      if (req.maxTokens !== undefined) options.num_predict = req.maxTokens;
      if (req.temperature !== undefined) options.temperature = req.temperature;
      if (req.topP !== undefined) options.top_p = req.topP;
      const res = await fetch(`${this.baseUrl}/api/chat`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/x-ndjson' },
        body: JSON.stringify({
          model: req.model,
          messages: toOllamaMessages(req),
          stream: true,
          ...(req.tools?.length ? { tools: req.tools.map(toOllamaTool) } : {}),
          ...(Object.keys(options).length || req.stop?.length
            ? { options: { ...options, ...(req.stop?.length ? { stop: req.stop } : {}) } }
            : {}),
          ...(req.responseFormat === 'json_object' ? { format: 'json' } : {}),
        }),
        signal: call.signal,
      });
      if (!res.ok || !res.body) throw await httpError(res);
      const calls: ToolCall[] = [];
      let last: ChatResponse | undefined;
      for await (const part of ndjson(res.body, `ollama on ${this.host}`, req.model)) {
        // One network chunk can hold several lines: once the caller stops, none of them is delivered.
        call.signal.throwIfAborted();
        last = part;
        const text = part.message?.content ?? '';
        if (text) {
          call.markToken();
          yield { type: 'text', delta: text };
        }
        for (const tc of part.message?.tool_calls ?? []) {
          const c: ToolCall = { id: `call_${calls.length}`, name: tc.function.name, arguments: tc.function.arguments ?? {} };
          calls.push(c);
          call.markToken();
          yield { type: 'tool_call', call: c };
        }
        if (part.done) break;
      }
      if (call.aborted) {
        yield* call.abortedEnd(input, output);
        return;
      }
      if (!last?.done) {
        throw new RuntimeError('PROVIDER_ERROR', `ollama on ${this.host} ended the stream for ${req.model} before its final line`, {
          hint: 'the answer is incomplete; see the Ollama server log on that host',
        });
      }
      input = last.prompt_eval_count ?? 0;
      output = last.eval_count ?? 0;
      yield { type: 'usage', usage: call.usage(input, output) };
      const reason: FinishReason = calls.length > 0 ? 'tool_calls' : last.done_reason === 'length' ? 'length' : 'stop';
      yield { type: 'done', reason };
    } catch (e) {
      yield* call.fail(e, { where: `ollama on ${this.host}`, model: req.model, input, output }, (x) => this.mapError(x, req.model));
    } finally {
      call.dispose();
    }
  }

  async embed(model: string, input: string[], opts: StreamOptions): Promise<number[][]> {
    return (await this.embedCounted(model, input, opts)).embeddings;
  }

  /** The vectors and the prompt tokens Ollama counted for them. */
  async embedCounted(model: string, input: string[], opts: StreamOptions): Promise<{ embeddings: number[][]; inputTokens: number }> {
    const call = new CallScope(opts.signal, opts.timeoutMs);
    try {
      const res = await this.client(call.signal).embed({ model, input });
      return { embeddings: res.embeddings, inputTokens: res.prompt_eval_count ?? 0 };
    } catch (e) {
      if (call.aborted)
        throw new RuntimeError('PROVIDER_ERROR', `embedding with ${model} was aborted`, {
          hint: 'the caller stopped the request; run it again if it is still needed',
          cause: e,
        });
      if (call.timedOut) throw call.timeoutError(`ollama on ${this.host}`, model);
      throw this.mapError(e, model);
    } finally {
      call.dispose();
    }
  }

  async health(timeoutMs: number): Promise<HealthStatus> {
    const started = performance.now();
    try {
      const res = await fetchWithTimeout(`${this.baseUrl}/api/version`, {}, timeoutMs);
      await res.body?.cancel();
      const latencyMs = Math.round(performance.now() - started);
      return res.ok ? { ok: true, latencyMs } : { ok: false, reason: `answered HTTP ${res.status} on /api/version`, latencyMs };
    } catch (e) {
      const latencyMs = Math.round(performance.now() - started);
      const why =
        (e as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : describeError(e).replace(/^fetch failed: /, '');
      return { ok: false, reason: why, latencyMs };
    }
  }

  private mapError(e: unknown, model: string): RuntimeError {
    if (e instanceof RuntimeError) return e;
    const status = (e as { status_code?: unknown }).status_code;
    if (typeof status === 'number') {
      const msg = `ollama on ${this.host} answered HTTP ${status} for ${model}: ${describeError(e)}`;
      if (status === 404)
        return new RuntimeError('PROVIDER_ERROR', msg, { hint: `pull the model on ${this.host}: ollama pull ${model}`, cause: e });
      if (status === 429)
        return new RuntimeError('PROVIDER_RATE_LIMITED', msg, {
          hint: `ollama on ${this.host} is busy with other requests: retry later, or raise OLLAMA_NUM_PARALLEL there`,
          cause: e,
        });
      if (status === 503)
        return new RuntimeError('PROVIDER_UNAVAILABLE', msg, {
          hint: `ollama on ${this.host} is overloaded or still loading the model: retry shortly`,
          cause: e,
        });
      return new RuntimeError('PROVIDER_ERROR', msg, { hint: `see the Ollama server log on ${this.host}`, cause: e });
    }
    if (isConnectionError(e)) return unavailableError(`ollama on ${this.host}`, this.baseUrl, e);
    // A `{"error": ...}` line mid-stream arrives as a plain Error with the server's message.
    return new RuntimeError('PROVIDER_ERROR', `ollama on ${this.host} failed for ${model}: ${describeError(e)}`, {
      hint: 'see the Ollama server log on that host',
      cause: e,
    });
  }
}

/** The longest NDJSON line accepted (a content delta is a few tokens; a final line a few hundred bytes). */
const MAX_LINE_BYTES = 1024 * 1024;

/** An HTTP error answer as the ResponseError shape mapError reads (`status_code`, server message). */
async function httpError(res: Response): Promise<Error> {
  let message = res.statusText || `HTTP ${res.status}`;
  try {
    const text = (await res.text()).slice(0, 2000);
    const parsed = JSON.parse(text) as { error?: unknown };
    message = typeof parsed.error === 'string' ? parsed.error : text || message;
  } catch {
    // not JSON: keep the status text
  }
  return Object.assign(new Error(message), { status_code: res.status });
}

/**
 * Ollama's NDJSON stream, one object per line. Strict: a line that is not JSON, a line over
 * MAX_LINE_BYTES, or an `{"error": ...}` line fails the call (PROVIDER_ERROR) rather than
 * being skipped, so an answer is never silently cut short.
 */
async function* ndjson(body: ReadableStream<Uint8Array>, where: string, model: string): AsyncGenerator<ChatResponse> {
  const decoder = new TextDecoder('utf-8');
  let buffer = '';
  let lineNo = 0;
  const parse = (line: string): ChatResponse | undefined => {
    lineNo++;
    if (line.trim() === '') return undefined;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new RuntimeError(
        'PROVIDER_ERROR',
        `${where} sent line ${lineNo} of the stream for ${model} that is not valid JSON: ${JSON.stringify(line.slice(0, 120))}`,
        {
          hint: 'the stream was corrupted (a proxy, a crashed runner); see the Ollama server log on that host',
        },
      );
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      throw new RuntimeError('PROVIDER_ERROR', `${where} sent line ${lineNo} of the stream for ${model} that is not a JSON object`, {
        hint: 'see the Ollama server log on that host',
      });
    }
    const err = (v as { error?: unknown }).error;
    if (err !== undefined) throw new Error(typeof err === 'string' ? err : JSON.stringify(err));
    return v as ChatResponse;
  };
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let nl = buffer.indexOf('\n');
      while (nl !== -1) {
        const part = parse(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
        if (part) yield part;
        nl = buffer.indexOf('\n');
      }
      if (buffer.length > MAX_LINE_BYTES) {
        throw new RuntimeError('PROVIDER_ERROR', `${where} sent a stream line over ${MAX_LINE_BYTES} bytes for ${model}`, {
          hint: 'see the Ollama server log on that host',
        });
      }
    }
    buffer += decoder.decode();
    const tail = parse(buffer);
    if (tail) yield tail;
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

function toOllamaMessages(req: ChatRequest): OllamaMessage[] {
  const out: OllamaMessage[] = [];
  if (req.system) out.push({ role: 'system', content: req.system });
  for (const m of req.messages) {
    const msg: OllamaMessage = { role: m.role, content: m.content };
    // Ollama matches a tool answer to its call by the function name.
    if (m.role === 'tool' && m.toolName) msg.tool_name = m.toolName;
    if (m.toolCalls?.length) msg.tool_calls = m.toolCalls.map((c) => ({ function: { name: c.name, arguments: c.arguments } }));
    out.push(msg);
  }
  return out;
}

function toOllamaTool(t: { name: string; description: string; parameters: Record<string, unknown> }): OllamaTool {
  return {
    type: 'function',
    function: { name: t.name, description: t.description, parameters: t.parameters as OllamaTool['function']['parameters'] },
  };
}
