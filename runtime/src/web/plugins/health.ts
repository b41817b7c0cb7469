import type { FastifyPluginAsync } from 'fastify';
import type { WebDeps } from '../app.js';

/*
 * Liveness (`/healthz`, what the compose healthcheck calls, open to all), the dependency health
 * page and the model list. Both answer from state already held: the router's health-gated hosts
 * and the monitor's last round; neither waits on a provider.
 */
export const healthPlugin: FastifyPluginAsync<WebDeps> = async (app, deps) => {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/api/health', async () => ({
    ...deps.health.snapshot(),
    generations: { running: deps.generations.running },
  }));

  app.get('/api/models', async () => {
    const routes = new Map(deps.config.routing.models.map((r) => [r.id, r]));
    return {
      default: deps.router.defaultModel,
      models: deps.router.models().map((m) => ({ ...m, contextWindow: routes.get(m.id)?.contextWindow ?? null })),
      retrieval: { available: false, code: 'RAG_UNAVAILABLE', reason: 'retrieval over the vault is not built in this version' },
      skills: deps.skills?.list().map((s) => ({ name: s.name, description: s.description })) ?? [],
    };
  });

  app.get('/api/me', async (req) => ({ identity: req.identity }));
};
