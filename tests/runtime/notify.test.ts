import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../runtime/src/log.js';
import { COLORS, DiscordNotifier } from '../../runtime/src/notify/discord.js';
import { startDiscord, type DiscordDouble } from '../doubles/discord.js';
import { virtualClock } from '../helpers/clock.js';

const NOW = new Date('2026-05-01T12:00:00.000Z');

describe('DiscordNotifier', () => {
  let discord: DiscordDouble;
  beforeAll(async () => {
    discord = await startDiscord();
  });
  afterAll(() => discord.close());

  const notifier = (over: Partial<ConstructorParameters<typeof DiscordNotifier>[0]> = {}) => {
    const log = memoryLogger();
    // Waits run on a virtual clock: the test reads them off it, in no real time.
    const clock = virtualClock();
    const n = new DiscordNotifier({ webhookUrl: discord.webhookUrl, log, now: () => NOW, clock, ...over });
    return { n, log, clock };
  };

  it('posts a success embed with job, model, duration, tokens and output', async () => {
    const { n } = notifier();
    const before = discord.posts.length;
    n.jobCompleted({
      name: 'summarise-notes.md',
      status: 'completed',
      model: 'qwen2.5:14b',
      durationMs: 83_400,
      tokensIn: 1200,
      tokensOut: 345,
      output: 'runner-outputs/2026-05-01T12-00-00-summarise-notes.md',
    });
    await n.flush();
    expect(discord.posts.slice(before)).toHaveLength(1);
    expect(discord.posts.at(-1)!.embeds).toEqual([
      {
        title: 'Job completed: summarise-notes.md',
        color: COLORS.success,
        fields: [
          { name: 'Job', value: 'summarise-notes.md', inline: true },
          { name: 'Model', value: 'qwen2.5:14b', inline: true },
          { name: 'Duration', value: '1 min 23 s', inline: true },
          { name: 'Tokens', value: '1200 in / 345 out', inline: true },
          { name: 'Output', value: 'runner-outputs/2026-05-01T12-00-00-summarise-notes.md' },
        ],
        timestamp: NOW.toISOString(),
      },
    ]);
  });

  it('posts a failure embed with the reason, and provider state and held notices', async () => {
    const { n } = notifier();
    const before = discord.posts.length;
    n.jobFailed({
      name: 'big.md',
      status: 'failed',
      model: 'gemma4:27b',
      error: { code: 'PROVIDER_UNAVAILABLE', message: 'gemma4:27b is unavailable: davas is unreachable' },
      durationMs: 12,
    });
    n.providerState({ provider: 'ollama', host: 'davas', state: 'down', reason: 'connect ECONNREFUSED 100.101.40.1:11434' });
    n.jobHeld({
      name: 'x.md',
      status: 'held',
      model: 'llama-3.3-70b-versatile',
      provider: 'groq',
      retryAfterMs: 7660,
      attempt: 1,
      maxRetries: 3,
    });
    await n.flush();
    const [failed, down, held] = discord.posts.slice(before).map((p) => p.embeds[0]!);
    expect(failed).toMatchObject({
      title: 'Job failed: big.md',
      description: 'gemma4:27b is unavailable: davas is unreachable',
      color: COLORS.failure,
    });
    expect(failed!.fields).toContainEqual({ name: 'Code', value: 'PROVIDER_UNAVAILABLE', inline: true });
    expect(down).toMatchObject({
      title: 'davas (ollama) is down',
      description: 'connect ECONNREFUSED 100.101.40.1:11434',
      color: COLORS.failure,
    });
    expect(held).toMatchObject({
      title: 'Job held: x.md',
      description: 'groq rate-limited llama-3.3-70b-versatile; the job waits and retries (retry 1 of 3) in 7.7 s.',
    });
  });

  it('keeps to the token bucket', async () => {
    const { n, clock } = notifier({ burst: 2, perSecond: 10 });
    const before = discord.posts.length;
    for (let i = 0; i < 5; i++) n.send({ title: `burst ${i}` });
    await n.flush();
    const posts = discord.posts.slice(before);
    expect(posts.map((p) => p.embeds[0]!.title)).toEqual(['burst 0', 'burst 1', 'burst 2', 'burst 3', 'burst 4']);
    // Two go at once, the other three one per 100 ms.
    expect(clock.now()).toBeGreaterThanOrEqual(250);
  });

  it('honours a 429 retry_after and then delivers', async () => {
    const { n, log, clock } = notifier();
    const before = discord.posts.length;
    discord.replies.enqueue({ status: 429, retryAfter: 0.3 });
    n.send({ title: 'after the limit' });
    await n.flush();
    const posts = discord.posts.slice(before);
    expect(posts.map((p) => p.status)).toEqual([429, 204]);
    expect(clock.now()).toBeGreaterThanOrEqual(280);
    expect(n.stats.sent).toBe(1);
    expect(log.records.some((r) => r.msg === 'Discord rate-limited the webhook: waiting' && r.retryAfterMs === 300)).toBe(true);
  });

  it('returns at once and never throws when Discord fails or is down', async () => {
    const { n, log } = notifier({ maxAttempts: 2 });
    discord.replies.enqueue({ status: 500 }, { status: 500 });
    // notify calls return void synchronously: nothing for the caller to await or catch.
    expect(n.send({ title: 'lost' })).toBeUndefined();
    await n.flush();
    expect(n.stats.failed).toBe(1);
    expect(log.records.some((r) => r.msg === 'Discord notice dropped')).toBe(true);

    await discord.down();
    try {
      expect(
        n.jobFailed({ name: 'j.md', status: 'failed', durationMs: 1, error: { code: 'PROVIDER_ERROR', message: 'x' } }),
      ).toBeUndefined();
      await n.flush();
      expect(n.stats.failed).toBe(2);
    } finally {
      await discord.up();
    }
  });

  it('bounds the queue by dropping the oldest notice', async () => {
    const { n } = notifier({ maxQueue: 3, burst: 1, perSecond: 50 });
    const before = discord.posts.length;
    for (let i = 0; i < 6; i++) n.send({ title: `q${i}` });
    expect(n.pending).toBeLessThanOrEqual(3);
    await n.flush();
    const titles = discord.posts.slice(before).map((p) => p.embeds[0]!.title);
    expect(titles).toHaveLength(3 + 1);
    expect(n.stats.dropped).toBe(2);
    expect(titles.at(-1)).toBe('q5');
  });

  it('is a no-op with one log line when no webhook is configured', async () => {
    const log = memoryLogger();
    const n = new DiscordNotifier({ webhookUrl: undefined, log });
    const before = discord.posts.length;
    n.jobCompleted({ name: 'a', status: 'completed', model: 'm', durationMs: 1 });
    n.jobFailed({ name: 'a', status: 'failed', durationMs: 1, error: { code: 'PROVIDER_ERROR', message: 'r' } });
    await n.flush();
    expect(discord.posts.length).toBe(before);
    expect(log.records.map((r) => r.msg)).toEqual(['no Discord webhook configured: notices are off']);
  });
});
