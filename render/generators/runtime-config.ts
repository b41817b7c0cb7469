import { HOSTED_PROVIDERS, RuntimeConfigSchema, type HostedProvider, type RuntimeConfigFile } from '@platform/contract';
import { ollamaHosts, ollamaUrl, routeTimeoutSeconds, runtimeHost, servicePort, type Platform } from '../../model/index.js';
import type { Generator } from '../types.js';
import { toJson } from '../yaml.js';

const ms = (seconds: number): number => Math.round(seconds * 1000);

/** The runtime's slice of the model, as its containers see the platform. */
export function runtimeConfig(p: Platform): RuntimeConfigFile {
  const host = runtimeHost(p);
  const svc = (name: string, port = 'http'): string => `http://${name}:${servicePort(p.services[name]!, port) ?? servicePort(p.services[name]!)}`;
  const vaultMount = p.services.worker!.volumes.find((v) => v.type === 'vault')?.target ?? '/vault';
  const hosted = (k: HostedProvider) => {
    const s = p.routing.providers[k];
    return { baseUrl: s.baseUrl, apiKeySecret: s.apiKeySecret, timeoutMs: ms(s.timeoutSeconds), rateLimitRetries: s.rateLimitRetries, maxRetryWaitMs: ms(s.maxRetryWaitSeconds) };
  };
  const alloy = p.services.alloy?.host === host ? p.services.alloy : undefined;
  const config: RuntimeConfigFile = {
    version: 1,
    platform: p.name,
    env: p.env,
    host,
    ports: {
      web: servicePort(p.services.web!) ?? 8000,
      mcp: servicePort(p.services.mcp!) ?? 8001,
      rag: servicePort(p.services.rag!) ?? 8002,
      metrics: servicePort(p.services.worker!, 'metrics') ?? 9464,
    },
    routing: {
      default: p.routing.default,
      models: p.routing.models.map((r) => ({
        id: r.id,
        provider: r.provider,
        ...(r.host !== undefined ? { host: r.host } : {}),
        purpose: r.purpose,
        label: r.label ?? r.id,
        timeoutMs: ms(routeTimeoutSeconds(p, r)),
        ...(r.provider === 'anthropic'
          ? { maxTokens: r.maxTokens ?? p.routing.providers.anthropic.defaultMaxTokens }
          : r.maxTokens !== undefined
            ? { maxTokens: r.maxTokens }
            : {}),
        ...(r.contextWindow !== undefined ? { contextWindow: r.contextWindow } : {}),
        healthGated: r.healthGated,
      })),
      embedding: { ...p.routing.embedding },
      health: { intervalMs: ms(p.routing.health.intervalSeconds), timeoutMs: ms(p.routing.health.timeoutSeconds) },
      ollama: { timeoutMs: ms(p.routing.providers.ollama.timeoutSeconds) },
    },
    ollamaHosts: Object.fromEntries(ollamaHosts(p).map((h) => [h, ollamaUrl(p, h, host)!])),
    providers: Object.fromEntries(HOSTED_PROVIDERS.map((k) => [k, hosted(k)])) as RuntimeConfigFile['providers'],
    vault: {
      path: vaultMount,
      folders: { ...p.vault.folders },
      worker: {
        concurrency: p.vault.worker.concurrency,
        mtimeGuardMs: ms(p.vault.worker.mtimeGuardSeconds),
        rescanMs: ms(p.vault.worker.rescanSeconds),
        graceMs: ms(p.vault.worker.graceSeconds),
      },
    },
    services: {
      mcpUrl: svc('mcp'),
      ragUrl: svc('rag'),
      qdrantUrl: p.services.qdrant ? svc('qdrant') : 'http://qdrant:6333',
      neo4jUri: p.services.neo4j ? `bolt://neo4j:${servicePort(p.services.neo4j, 'bolt') ?? 7687}` : 'bolt://neo4j:7687',
    },
    notify: { discordWebhookSecret: p.observability.discord.webhookSecret },
    telemetry: { otlpEndpoint: alloy ? `http://alloy:${servicePort(alloy, 'otlp-http') ?? 4318}` : 'http://127.0.0.1:4318', serviceNamespace: p.name },
  };
  // The runtime validates this file with the same schema at start-up; fail here first.
  return RuntimeConfigSchema.parse(config);
}

export const runtimeConfigGenerator: Generator = {
  name: 'runtime-config',
  generate: (p) => [{ path: 'runtime/runtime.json', content: toJson(runtimeConfig(p)) }],
};
