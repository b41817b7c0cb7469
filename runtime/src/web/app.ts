import Fastify, { type FastifyInstance } from 'fastify';
import type { RuntimeConfig } from '../config/index.js';
import { RuntimeError, isRuntimeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ModelInfo } from '../router/index.js';
import type { UsageStore } from '../store/usage.js';
import type { Authenticator } from './auth.js';
import type { ChatStore } from './chat-store.js';
import type { ChatSource, GenerationRegistry } from './generations.js';
import type { HealthMonitor } from './health.js';
import { httpError, sendError, toHttpError } from './http.js';
import { chatPlugin } from './plugins/chat.js';
import { generationsPlugin } from './plugins/generations.js';
import { healthPlugin } from './plugins/health.js';
import { jobsPlugin } from './plugins/jobs.js';
import { openAiPlugin, type OpenAiModelSource } from './plugins/openai/index.js';
import { statsPlugin } from './plugins/stats.js';
import { tokensPlugin } from './plugins/tokens.js';
import { uiPlugin } from './plugins/ui.js';
import { RateLimiter } from './rate-limit.js';
import type { WebSettings } from './settings.js';
import type { TokenStore } from './token-store.js';

/*
 * The web service as a fastify instance, apart from listen(): tests drive it with inject().
 * Everything it talks to is passed in. Hooks here apply to every feature plugin: auth (all but
 * /healthz), the same-origin check on writes, the per-identity rate limit, and the error shape.
 */

/** What the web needs from the router. */
export interface ModelSource extends ChatSource, Omit<OpenAiModelSource, 'chat'> {
  chat: OpenAiModelSource['chat'];
  models(): ModelInfo[];
  readonly defaultModel: string;
}

export interface WebDeps {
  config: RuntimeConfig;
  settings: WebSettings;
  log: Logger;
  router: ModelSource;
  usage: UsageStore;
  chats: ChatStore;
  tokens: TokenStore;
  generations: GenerationRegistry;
  health: HealthMonitor;
  auth: Authenticator;
  /** The vault's skills: what a session may pick, and their instructions for the system prompt. */
  skills?: SkillSource;
}

export interface SkillSource {
  list(): readonly { name: string; description: string }[];
  /** Throws SKILL_UNKNOWN for a name it does not know. */
  resolve(names: readonly string[]): string;
}

export interface RouteEntry {
  method: string;
  url: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered, for the auth test that walks them all. */
    routeTable: RouteEntry[];
  }
}

const PUBLIC_PATHS = new Set(['/healthz']);

export async function buildApp(deps: WebDeps): Promise<FastifyInstance> {
  const { settings } = deps;
  const app = Fastify({
    logger: false,
    bodyLimit: settings.limits.bodyBytes,
    // Ids in paths are UUIDs or file names; longer paths are noise or attacks.
    routerOptions: { maxParamLength: 300 },
    return503OnClosing: true,
  });
  const routeTable: RouteEntry[] = [];
  app.decorate('routeTable', routeTable);
  app.addHook('onRoute', (r) => {
    for (const m of Array.isArray(r.method) ? r.method : [r.method]) if (m !== 'HEAD') routeTable.push({ method: m, url: r.url });
  });
  app.decorateRequest('identity', undefined);

  const limiter = new RateLimiter(settings.limits.ratePerMinute);
  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0]!;
    if (PUBLIC_PATHS.has(path)) return;
    try {
      req.identity = await deps.auth.authenticate(req.headers);
    } catch (e) {
      return sendError(reply, isRuntimeError(e) ? e : httpError('UNAUTHORIZED', 'authentication failed'));
    }
    // Access sessions ride on a cookie Cloudflare turns into the JWT header, so a write from
    // another site would carry it: writes must come from this origin.
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS') {
      const site = req.headers['sec-fetch-site'];
      const origin = req.headers.origin;
      const host = req.headers['x-forwarded-host'] ?? req.headers.host;
      let cross = site === 'cross-site' || site === 'same-site';
      if (origin && origin !== 'null') {
        try {
          cross ||= new URL(origin).host !== host;
        } catch {
          cross = true;
        }
      } else if (origin === 'null') cross = true;
      if (cross)
        return sendError(reply, httpError('FORBIDDEN', 'cross-origin writes are refused', 'use the control panel from its own address'));
    }
    const wait = limiter.take(req.identity.id);
    if (wait > 0) {
      return sendError(
        reply,
        new RuntimeError('RATE_LIMITED', `more than ${settings.limits.ratePerMinute} requests a minute from ${req.identity.id}`, {
          hint: 'slow down; the limit is per identity',
          retryAfterMs: wait,
        }),
      );
    }
  });

  app.setErrorHandler((e, req, reply) => {
    const err = toHttpError(e);
    if (err.httpStatus >= 500)
      deps.log.error('request failed', { method: req.method, url: req.url, code: err.code, error: e instanceof Error ? e : String(e) });
    return sendError(reply, err);
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, httpError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`)));

  await app.register(healthPlugin, deps);
  await app.register(chatPlugin, deps);
  await app.register(generationsPlugin, deps);
  await app.register(tokensPlugin, deps);
  await app.register(statsPlugin, deps);
  await app.register(jobsPlugin, deps);
  await app.register(openAiPlugin, deps);
  if (settings.uiDir) await app.register(uiPlugin, { dir: settings.uiDir });
  return app;
}
