import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { JobHeldNotice, JobNotice, JobNotifier } from './notices.js';

/*
 * Discord webhook notices. Fire-and-forget: every notify* call returns at once; posts go through
 * a bounded queue drained by one loop that keeps to a token bucket and honours Discord's 429
 * `retry_after`. When Discord is down, notices are retried a little, then dropped with a log
 * line; the caller never waits and never sees an error.
 */

export interface EmbedField {
  name: string;
  value: string;
  inline?: boolean;
}

export interface Embed {
  title: string;
  description?: string;
  color?: number;
  fields?: EmbedField[];
  timestamp?: string;
  url?: string;
}

export interface ProviderStateNotice {
  provider: string;
  host: string;
  state: 'up' | 'down';
  reason?: string;
}

/** What the worker and web services use: job notices, provider state, and raw embeds. */
export interface Notifier extends JobNotifier {
  jobCompleted(n: JobNotice): void;
  jobFailed(n: JobNotice): void;
  jobHeld(n: JobHeldNotice): void;
  providerState(n: ProviderStateNotice): void;
  send(embed: Embed): void;
  /** Resolves when the queue is empty (or `timeoutMs` passed); for shutdown and tests. */
  flush(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export const COLORS = { success: 0x2ecc71, failure: 0xe74c3c, warning: 0xf1c40f, info: 0x3498db } as const;

export interface DiscordNotifierProps {
  /** The webhook URL; undefined makes every notice a no-op. */
  readonly webhookUrl: string | undefined;
  readonly log: Logger;
  /** Queue bound; the oldest notice is dropped when full. */
  readonly maxQueue?: number;
  /** Token bucket: burst size and refill per second (Discord allows about 5 per 2 s per webhook). */
  readonly burst?: number;
  readonly perSecond?: number;
  /** Attempts per notice for 5xx and network errors (429s wait and do not count). */
  readonly maxAttempts?: number;
  readonly requestTimeoutMs?: number;
  /** Longest 429 wait honoured before the notice is dropped. */
  readonly maxRetryAfterMs?: number;
  /** Timestamps on the embeds. */
  readonly now?: () => Date;
  /** Time for the token bucket and the waits between attempts; real time by default. */
  readonly clock?: NotifierClock;
}

/** A monotonic clock in ms and a sleep on it, so tests can run the waits on virtual time. */
export interface NotifierClock {
  now(): number;
  /** Resolves after `ms` on this clock, or at once when the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

const REAL_CLOCK: NotifierClock = { now: () => performance.now(), sleep: (ms, signal) => delay(ms, signal) };

export function fmtDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

export function jobCompletedEmbed(n: JobNotice, now: Date): Embed {
  const fields: EmbedField[] = [
    { name: 'Job', value: clip(n.name, 1024), inline: true },
    { name: 'Model', value: clip(n.model ?? 'unknown', 1024), inline: true },
    { name: 'Duration', value: fmtDuration(n.durationMs), inline: true },
  ];
  if (n.tokensIn !== undefined && n.tokensOut !== undefined)
    fields.push({ name: 'Tokens', value: `${n.tokensIn} in / ${n.tokensOut} out`, inline: true });
  if (n.output) fields.push({ name: 'Output', value: clip(n.output, 1024) });
  return { title: clip(`Job completed: ${n.name}`, 256), color: COLORS.success, fields, timestamp: now.toISOString() };
}

export function jobFailedEmbed(n: JobNotice, now: Date): Embed {
  const fields: EmbedField[] = [{ name: 'Job', value: clip(n.name, 1024), inline: true }];
  if (n.model) fields.push({ name: 'Model', value: clip(n.model, 1024), inline: true });
  fields.push({ name: 'Duration', value: fmtDuration(n.durationMs), inline: true });
  if (n.error) fields.push({ name: 'Code', value: n.error.code, inline: true });
  const reason = n.error ? `${n.error.message}${n.error.hint ? `\nhint: ${n.error.hint}` : ''}` : 'failed';
  return {
    title: clip(`Job failed: ${n.name}`, 256),
    description: clip(reason, 4000),
    color: COLORS.failure,
    fields,
    timestamp: now.toISOString(),
  };
}

export function jobHeldEmbed(n: JobHeldNotice, now: Date): Embed {
  return {
    title: clip(`Job held: ${n.name}`, 256),
    description:
      `${n.provider ?? 'The provider'} rate-limited ${n.model}; the job waits and retries` +
      (n.attempt !== undefined && n.maxRetries !== undefined ? ` (retry ${n.attempt} of ${n.maxRetries})` : '') +
      (n.retryAfterMs !== undefined ? ` in ${fmtDuration(n.retryAfterMs)}.` : '.'),
    color: COLORS.warning,
    fields: [
      { name: 'Job', value: clip(n.name, 1024), inline: true },
      { name: 'Model', value: clip(n.model, 1024), inline: true },
    ],
    timestamp: now.toISOString(),
  };
}

export function providerStateEmbed(n: ProviderStateNotice, now: Date): Embed {
  const up = n.state === 'up';
  const embed: Embed = {
    title: `${n.host} (${n.provider}) is ${up ? 'back up' : 'down'}`,
    color: up ? COLORS.success : COLORS.failure,
    fields: [
      { name: 'Provider', value: n.provider, inline: true },
      { name: 'Host', value: n.host, inline: true },
    ],
    timestamp: now.toISOString(),
  };
  if (n.reason) embed.description = clip(n.reason, 4000);
  else if (!up) embed.description = 'health check failed';
  else embed.description = 'its models are available again';
  return embed;
}

export class DiscordNotifier implements Notifier {
  private readonly url: string | undefined;
  private readonly log: Logger;
  private readonly maxQueue: number;
  private readonly burst: number;
  private readonly perSecond: number;
  private readonly maxAttempts: number;
  private readonly requestTimeoutMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly now: () => Date;
  private readonly queue: Embed[] = [];
  private tokens: number;
  private readonly clock: NotifierClock;
  private lastRefill: number;
  private draining: Promise<void> | undefined;
  private closed = false;
  private readonly wake = new AbortController();
  /** Counts, for health pages and tests. */
  readonly stats = { sent: 0, dropped: 0, failed: 0 };

  constructor(props: DiscordNotifierProps) {
    this.url = props.webhookUrl;
    this.log = props.log.child({ component: 'discord' });
    this.maxQueue = props.maxQueue ?? 100;
    this.burst = props.burst ?? 5;
    this.perSecond = props.perSecond ?? 2.5;
    this.maxAttempts = props.maxAttempts ?? 3;
    this.requestTimeoutMs = props.requestTimeoutMs ?? 10_000;
    this.maxRetryAfterMs = props.maxRetryAfterMs ?? 60_000;
    this.now = props.now ?? (() => new Date());
    this.clock = props.clock ?? REAL_CLOCK;
    this.lastRefill = this.clock.now();
    this.tokens = this.burst;
    if (!this.url) this.log.info('no Discord webhook configured: notices are off');
  }

  get enabled(): boolean {
    return this.url !== undefined;
  }

  get pending(): number {
    return this.queue.length;
  }

  jobCompleted(n: JobNotice): void {
    this.send(jobCompletedEmbed(n, this.now()));
  }

  jobFailed(n: JobNotice): void {
    this.send(jobFailedEmbed(n, this.now()));
  }

  jobHeld(n: JobHeldNotice): void {
    this.send(jobHeldEmbed(n, this.now()));
  }

  providerState(n: ProviderStateNotice): void {
    this.send(providerStateEmbed(n, this.now()));
  }

  send(embed: Embed): void {
    if (!this.url || this.closed) return;
    if (this.queue.length >= this.maxQueue) {
      const dropped = this.queue.shift();
      this.stats.dropped++;
      this.log.warn('Discord queue full: dropped the oldest notice', { title: dropped?.title, maxQueue: this.maxQueue });
    }
    this.queue.push(embed);
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
  }

  async flush(timeoutMs = 30_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.draining && performance.now() < deadline) {
      await Promise.race([this.draining, delay(Math.max(0, deadline - performance.now()))]);
    }
  }

  async close(): Promise<void> {
    await this.flush(5000);
    this.closed = true;
    this.wake.abort();
  }

  private takeToken(): number {
    const t = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.lastRefill) / 1000) * this.perSecond);
    this.lastRefill = t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.perSecond) * 1000);
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.closed) {
      // Off the queue while in flight, so a full queue drops a waiting notice, not this one.
      const embed = this.queue.shift()!;
      let attempts = 0;
      for (;;) {
        const wait = this.takeToken();
        if (wait > 0) {
          await this.clock.sleep(wait, this.wake.signal);
          continue;
        }
        const r = await this.post(embed);
        if (r.ok) {
          this.stats.sent++;
          break;
        }
        if (r.retryAfterMs !== undefined) {
          if (r.retryAfterMs > this.maxRetryAfterMs) {
            this.stats.failed++;
            this.log.warn('Discord asked to wait too long: notice dropped', { title: embed.title, retryAfterMs: r.retryAfterMs });
            break;
          }
          this.log.info('Discord rate-limited the webhook: waiting', { retryAfterMs: r.retryAfterMs });
          await this.clock.sleep(r.retryAfterMs, this.wake.signal);
          continue;
        }
        attempts++;
        if (attempts >= this.maxAttempts || r.permanent) {
          this.stats.failed++;
          this.log.warn('Discord notice dropped', { title: embed.title, error: r.error, attempts });
          break;
        }
        await this.clock.sleep(500 * 2 ** (attempts - 1), this.wake.signal);
      }
    }
  }

  private async post(embed: Embed): Promise<{ ok: boolean; retryAfterMs?: number; error?: string; permanent?: boolean }> {
    try {
      const res = await fetch(this.url!, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ embeds: [embed] }),
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
      const text = await res.text().catch(() => '');
      if (res.ok) return { ok: true };
      if (res.status === 429) {
        let after: number | undefined;
        try {
          const v = (JSON.parse(text) as { retry_after?: unknown }).retry_after;
          if (typeof v === 'number') after = Math.ceil(v * 1000);
        } catch {
          // fall through to the header
        }
        const header = Number(res.headers.get('retry-after'));
        after ??= Number.isFinite(header) && header > 0 ? header * 1000 : 1000;
        return { ok: false, retryAfterMs: after };
      }
      // 4xx other than 429 will not get better by retrying (bad webhook, bad embed).
      return { ok: false, error: `HTTP ${res.status}: ${text.slice(0, 200)}`, permanent: res.status >= 400 && res.status < 500 };
    } catch (e) {
      return { ok: false, error: describeError(e) };
    }
  }
}

/** A notifier that does nothing, for services and tests without Discord. */
function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', done);
      resolve();
    }, ms);
    const done = (): void => {
      clearTimeout(t);
      resolve();
    };
    signal?.addEventListener('abort', done, { once: true });
  });
}
