import { RuntimeError, describeError } from '../errors.js';
import type { ChatEvent, Usage } from './types.js';

/*
 * One provider call's lifetime: the caller's AbortSignal and the pinned timeout folded into a
 * single signal the HTTP client uses, so that afterwards the adapter can tell an abort (a normal
 * end, reason "aborted") from a timeout (PROVIDER_TIMEOUT) from a real failure.
 */
export class CallScope {
  readonly signal: AbortSignal;
  readonly startedAt = performance.now();
  firstTokenAt: number | undefined;
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private timedOutFlag = false;
  private readonly onAbort: () => void;

  constructor(
    private readonly userSignal: AbortSignal | undefined,
    readonly timeoutMs: number,
  ) {
    this.signal = this.controller.signal;
    this.timer = setTimeout(() => {
      this.timedOutFlag = true;
      this.controller.abort(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    this.timer.unref();
    this.onAbort = () => this.controller.abort(userSignal?.reason);
    if (userSignal?.aborted) this.onAbort();
    else userSignal?.addEventListener('abort', this.onAbort, { once: true });
  }

  get timedOut(): boolean {
    return this.timedOutFlag;
  }

  get aborted(): boolean {
    return !this.timedOutFlag && this.userSignal?.aborted === true;
  }

  markToken(): void {
    this.firstTokenAt ??= performance.now();
  }

  usage(inputTokens: number, outputTokens: number): Usage {
    const u: Usage = { inputTokens, outputTokens, durationMs: Math.round(performance.now() - this.startedAt) };
    if (this.firstTokenAt !== undefined) u.timeToFirstTokenMs = Math.round(this.firstTokenAt - this.startedAt);
    return u;
  }

  timeoutError(provider: string, model: string): RuntimeError {
    return new RuntimeError('PROVIDER_TIMEOUT', `${provider} model ${model} did not finish within ${this.timeoutMs} ms`, {
      hint: 'the timeout is pinned per route (timeoutMs in platform.yaml); raise it or ask for a shorter answer',
    });
  }

  /** How a stream ends when the caller aborted: the usage so far, then done "aborted" (not an error). */
  *abortedEnd(inputTokens: number, outputTokens: number): Generator<ChatEvent> {
    yield { type: 'usage', usage: this.usage(inputTokens, outputTokens) };
    yield { type: 'done', reason: 'aborted' };
  }

  /**
   * A stream that threw: an abort ends it normally, a timeout (ours, or one the client reports)
   * becomes PROVIDER_TIMEOUT, anything else goes through the adapter's error mapping.
   */
  *fail(
    e: unknown,
    f: { where: string; model: string; input: number; output: number; timedOut?: boolean },
    map: (e: unknown) => RuntimeError,
  ): Generator<ChatEvent> {
    if (this.aborted) {
      yield* this.abortedEnd(f.input, f.output);
      return;
    }
    if (this.timedOut || f.timedOut) throw this.timeoutError(f.where, f.model);
    throw map(e);
  }

  /** Ends the scope; aborts the HTTP request if it is still open (consumer stopped early). */
  dispose(): void {
    clearTimeout(this.timer);
    this.userSignal?.removeEventListener('abort', this.onAbort);
    if (!this.controller.signal.aborted) this.controller.abort(new Error('call finished'));
  }
}

/** A fetch that cannot reach the server at all (refused, DNS, reset before answering). */
export function isConnectionError(e: unknown): boolean {
  const text = describeError(e);
  return /fetch failed|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ECONNRESET|socket hang up|UND_ERR_CONNECT/i.test(text);
}

export function unavailableError(provider: string, where: string, e: unknown): RuntimeError {
  return new RuntimeError('PROVIDER_UNAVAILABLE', `${provider} at ${where} is unreachable: ${describeError(e)}`, {
    hint: 'check that the host is up and the URL in runtime.json (or its OLLAMA_URL_* override) is right',
    cause: e,
  });
}

/** Plain fetch with a timeout, for health checks and small JSON calls. */
export async function fetchWithTimeout(url: string, init: RequestInit, timeoutMs: number, signal?: AbortSignal): Promise<Response> {
  const signals = [AbortSignal.timeout(timeoutMs), ...(signal ? [signal] : [])];
  return fetch(url, { ...init, signal: AbortSignal.any(signals) });
}

/** Tool-call arguments as streamed by a provider (a JSON object in text); an empty string is no arguments. */
export function parseToolArguments(json: string, name: string): Record<string, unknown> {
  if (json.trim() === '') return {};
  try {
    const v: unknown = JSON.parse(json);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
  } catch (e) {
    throw new RuntimeError('PROVIDER_ERROR', `tool call ${name} arrived with arguments that are not JSON: ${describeError(e)}`, {
      hint: 'the model wrote a malformed tool call: retry, or use a model that supports tool calling',
      cause: e,
    });
  }
}
