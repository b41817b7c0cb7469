/*
 * Provider retry hints, in milliseconds. Formats seen in the wild:
 *   retry-after: "7" (seconds) or an HTTP date
 *   x-ratelimit-reset-requests / -tokens (Groq): "2m59.56s", "7.66s", "120ms", "1h2m"
 *   Gemini 429 body: error.details[].retryDelay: "39s" (the body may be wrapped in an array)
 *   anthropic-ratelimit-*-reset: RFC 3339 time
 */

const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, µs: 0.001, ns: 0.000001 };

/** Go-style duration ("2m59.56s", "7.66s", "120ms") or bare seconds ("7", "1.5"). */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/g;
  let total = 0;
  let consumed = 0;
  for (const m of t.matchAll(re)) {
    total += Number(m[1]) * (UNIT_MS[m[2] ?? 's'] ?? 0);
    consumed += m[0].length;
  }
  return consumed === t.length ? Math.round(total) : undefined;
}

/** `retry-after`: seconds or an HTTP date. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const secs = parseDuration(value);
  if (secs !== undefined) return secs;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Gemini's `error.details[].retryDelay`, from an object or an array-wrapped body. */
export function retryDelayFromBody(body: unknown, depth = 0): number | undefined {
  const items = Array.isArray(body) ? body : [body];
  for (const item of items) {
    const error = (item as { error?: { details?: unknown; message?: unknown } } | null)?.error;
    // Some proxies wrap Google's error JSON as a string inside error.message.
    if (typeof error?.message === 'string' && error.message.trimStart().startsWith('{') && depth < 2) {
      try {
        const inner = retryDelayFromBody(JSON.parse(error.message), depth + 1);
        if (inner !== undefined) return inner;
      } catch {
        // not JSON after all
      }
    }
    const details = error?.details;
    if (!Array.isArray(details)) continue;
    for (const d of details) {
      const delay = (d as { retryDelay?: unknown } | null)?.retryDelay;
      if (typeof delay === 'string') {
        const ms = parseDuration(delay);
        if (ms !== undefined) return ms;
      }
    }
  }
  return undefined;
}

export interface RetryHint {
  retryAfterMs?: number;
  /** Where the hint came from, for the log line. */
  source?: string;
}

/** The best retry hint from a 429 response's headers and parsed body. */
export function retryHint(headers: Headers, body: unknown, now = Date.now()): RetryHint {
  const ra = parseRetryAfter(headers.get('retry-after'), now);
  if (ra !== undefined) return { retryAfterMs: ra, source: 'retry-after' };
  const fromBody = retryDelayFromBody(body);
  if (fromBody !== undefined) return { retryAfterMs: fromBody, source: 'retryDelay' };
  // Either limit may be the one hit; waiting for the later reset is the safe choice.
  let best: RetryHint = {};
  for (const h of ['x-ratelimit-reset-requests', 'x-ratelimit-reset-tokens']) {
    const v = headers.get(h);
    const ms = v ? parseDuration(v) : undefined;
    if (ms !== undefined && (best.retryAfterMs === undefined || ms > best.retryAfterMs)) best = { retryAfterMs: ms, source: h };
  }
  if (best.retryAfterMs !== undefined) return best;
  for (const h of ['anthropic-ratelimit-requests-reset', 'anthropic-ratelimit-tokens-reset']) {
    const v = headers.get(h);
    const at = v ? Date.parse(v) : Number.NaN;
    if (!Number.isNaN(at)) return { retryAfterMs: Math.max(0, at - now), source: h };
  }
  return {};
}

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)}s` : `${ms}ms`;
}
