import type { FastifyInstance } from 'fastify';
import type { RuntimeConfig } from '../config/index.js';
import type { Logger } from '../log.js';
import type { UsageStore } from '../store/usage.js';
import { buildApp, type ModelSource, type SkillSource } from './app.js';
import { NoAuth, RequestAuthenticator } from './auth.js';
import { ChatStore } from './chat-store.js';
import { GenerationRegistry } from './generations.js';
import { HealthMonitor } from './health.js';
import type { WebSettings } from './settings.js';
import { TokenStore } from './token-store.js';

/*
 * Everything `runtime web` owns, assembled from what the caller passes in: the app, the chat
 * store, the generation registry and the health monitor, with one close() for all of it.
 * Tests use it too (with listen: false and inject()), so they run what production runs.
 */

export interface WebServerDeps {
  config: RuntimeConfig;
  settings: WebSettings;
  log: Logger;
  router: ModelSource;
  usage: UsageStore;
  skills?: SkillSource;
  /** Where chat.db lives; config.dataDir by default. */
  chatDb?: string;
}

export interface WebServer {
  app: FastifyInstance;
  chats: ChatStore;
  tokens: TokenStore;
  generations: GenerationRegistry;
  health: HealthMonitor;
  /** The address it listens on (after listen()). */
  url?: string;
  listen(): Promise<string>;
  close(): Promise<void>;
}

export async function createWebServer(deps: WebServerDeps): Promise<WebServer> {
  const { config, settings, log } = deps;
  const chats = new ChatStore(deps.chatDb ?? config.dataDir);
  const interrupted = chats.markInterrupted();
  if (interrupted) log.warn('answers left streaming by a previous run are marked interrupted', { count: interrupted });
  const tokens = new TokenStore(chats.db);
  const generations = new GenerationRegistry({
    source: deps.router,
    store: chats,
    log: log.child({ component: 'generations' }),
    unwatchedStopMs: settings.unwatchedStopMs,
    retentionMs: settings.retentionMs,
    maxGenerations: settings.limits.maxGenerations,
  });
  const health = new HealthMonitor({
    config,
    db: chats.db,
    log: log.child({ component: 'health' }),
    intervalMs: settings.healthIntervalMs,
    timeoutMs: settings.healthTimeoutMs,
  });
  if (settings.auth.mode === 'off') {
    log.warn('AUTH IS OFF: every request is treated as the local operator with write access; never expose this server', {
      flag: '--no-auth / WEB_AUTH=off',
    });
  }
  const auth = settings.auth.mode === 'access' ? new RequestAuthenticator(settings.auth, tokens) : new NoAuth();
  const app = await buildApp({
    config,
    settings,
    log,
    router: deps.router,
    usage: deps.usage,
    chats,
    tokens,
    generations,
    health,
    auth,
    ...(deps.skills ? { skills: deps.skills } : {}),
  });
  health.start();
  const server: WebServer = {
    app,
    chats,
    tokens,
    generations,
    health,
    async listen() {
      const url = await app.listen({ host: settings.host, port: settings.port });
      server.url = url;
      log.info('web listening', { url, auth: settings.auth.mode });
      return url;
    },
    async close() {
      await generations.close();
      await health.stop();
      await app.close();
      chats.close();
    },
  };
  return server;
}
