/*
 * Discord webhook double: records every POST to /api/webhooks/<id>/<token> and answers
 * 204, or what the test scripts (429 with `retry_after`, 500, a pause).
 *
 *   const discord = await startDiscord();
 *   discord.webhookUrl                      // pass as the webhook URL
 *   discord.replies.enqueue({ status: 429, retryAfter: 0.2 });
 *   await discord.waitForPosts(2);          // the posts, parsed
 *   discord.posts[0].embeds[0].title
 *   await discord.down(); await discord.close();
 */
import { ScriptQueue, sleep, startHttp, type HttpDouble } from './http.js';
import { waitFor } from '../helpers/wait.js';

export interface DiscordReply {
  /** 204 by default. */
  status?: number;
  /** For 429: seconds, as Discord sends it (float). */
  retryAfter?: number;
  delayMs?: number;
}

export interface DiscordPost {
  embeds: {
    title: string;
    description?: string;
    color?: number;
    fields?: { name: string; value: string; inline?: boolean }[];
    timestamp?: string;
  }[];
  at: number;
  /** The status this post was answered with. */
  status: number;
}

export interface DiscordDouble extends HttpDouble {
  readonly webhookUrl: string;
  replies: ScriptQueue<DiscordReply>;
  /** Every post received, including the ones answered with an error. */
  posts: DiscordPost[];
  /** Posts answered 2xx. */
  readonly accepted: DiscordPost[];
  waitForPosts(n: number, timeoutMs?: number): Promise<DiscordPost[]>;
}

export async function startDiscord(): Promise<DiscordDouble> {
  const replies = new ScriptQueue<DiscordReply>({ status: 204 });
  const posts: DiscordPost[] = [];
  const http = await startHttp(async (req, res, body) => {
    if (!(req.method === 'POST' && req.url?.startsWith('/api/webhooks/'))) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Unknown Webhook', code: 10015 }));
      return;
    }
    const r = replies.next();
    if (r.delayMs) await sleep(r.delayMs);
    const status = r.status ?? 204;
    posts.push({ embeds: ((body as { embeds?: DiscordPost['embeds'] }) ?? {}).embeds ?? [], at: Date.now(), status });
    if (status === 429) {
      const after = r.retryAfter ?? 1;
      res
        .writeHead(429, { 'content-type': 'application/json', 'retry-after': String(Math.ceil(after)), 'x-ratelimit-scope': 'user' })
        .end(JSON.stringify({ message: 'You are being rate limited.', retry_after: after, global: false }));
      return;
    }
    if (status === 204) {
      res.writeHead(204).end();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'error', code: 0 }));
  });
  const double = http as DiscordDouble;
  Object.defineProperty(double, 'webhookUrl', { get: () => `${http.url}/api/webhooks/123456/token-double` });
  Object.defineProperty(double, 'accepted', { get: () => posts.filter((p) => p.status >= 200 && p.status < 300) });
  double.replies = replies;
  double.posts = posts;
  double.waitForPosts = async (n, timeoutMs = 5000) => {
    await waitFor(() => posts.length >= n, `${n} Discord posts`, timeoutMs, 10);
    return posts;
  };
  return double;
}

export { startDiscord as start };
