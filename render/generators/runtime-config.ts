import { HOSTED_PROVIDERS, RuntimeConfigSchema, type HostedProvider, type RuntimeConfigFile } from '@platform/contract';
import {
  jetstreamOf,
  natsCaFile,
  natsClientUrls,
  natsWorkerHosts,
  ollamaHosts,
  ollamaUrl,
  PlatformError,
  routeTimeoutSeconds,
  runtimeHost,
  servicePort,
  WORKER_RUNTIME_CONF_PATH,
  type Platform,
} from '../../model/index.js';
import type { z } from 'zod';
import type { Generator } from '../types.js';
import { toJson } from '../yaml.js';

const ms = (seconds: number): number => Math.round(seconds * 1000);

/** A value the model's checks guarantee; its absence is a bug here, not a default to invent. */
function must<T>(value: T | undefined, what: string): T {
  if (value === undefined) {
    throw new PlatformError('RENDER_FAILED', `runtime-config: ${what} is missing from a model that validated`, {
      hint: 'this is a bug in the model checks (model/checks/services.ts): they must refuse such a model',
    });
  }
  return value;
}

/** The queue the runtime drains, as containers on `host` reach the NATS cluster. */
function queueConfig(p: Platform, host: string): z.input<typeof RuntimeConfigSchema>['queue'] {
  const n = jetstreamOf(p);
  if (!n) return { backend: 'folder' };
  const s = n.stream;
  const caFile = natsCaFile(p);
  return {
    backend: 'jetstream',
    jetstream: {
      servers: natsClientUrls(p, host),
      // With TLS on the servers' URLs are tls:// and the runtime verifies them with the mounted CA.
      ...(caFile ? { tls: { caFile } } : {}),
      gateway: { ...n.users.gateway },
      worker: { ...n.users.worker },
      stream: s.name,
      resultsStream: s.resultsName,
      subjectPrefix: s.subjectPrefix,
      replicas: s.replicas,
      ackWaitMs: ms(s.ackWaitSeconds),
      maxDeliver: s.maxDeliver,
      duplicateWindowMs: ms(s.duplicateWindowSeconds),
      nakDelayMs: ms(s.nakDelaySeconds),
      progressIntervalMs: ms(s.progressIntervalSeconds),
      maxAgeMs: ms(s.maxAgeHours * 3600),
      workers: Object.fromEntries(Object.entries(n.workers).map(([h, groups]) => [h, [...groups]])),
    },
  };
}

/**
 * The runtime's slice of the model, as its containers on `host` see the platform: the runtime
 * host by default, or a worker host of the jetstream queue (its Ollama hosts and NATS servers as
 * reached from there).
 */
export function runtimeConfig(p: Platform, host: string = runtimeHost(p)): RuntimeConfigFile {
  const port = (name: string, portName?: string): number => {
    const s = must(p.services[name], `service "${name}"`);
    return must(
      portName === undefined ? servicePort(s) : servicePort(s, portName),
      `a port${portName ? ` named "${portName}"` : ''} of service "${name}"`,
    );
  };
  const svc = (name: string): string => `http://${name}:${servicePort(must(p.services[name], `service "${name}"`), 'http') ?? port(name)}`;
  const vaultMount = must(p.services.worker?.volumes.find((v) => v.type === 'vault')?.target, "the worker's vault mount");
  const hosted = (k: HostedProvider) => {
    const s = p.routing.providers[k];
    return {
      baseUrl: s.baseUrl,
      apiKeySecret: s.apiKeySecret,
      timeoutMs: ms(s.timeoutSeconds),
      rateLimitRetries: s.rateLimitRetries,
      maxRetryWaitMs: ms(s.maxRetryWaitSeconds),
    };
  };
  const alloyBeside = p.services.alloy?.host === host;
  // The model's checks make sure an Access application in front of web names its audience secret.
  const webGate = p.cloudflare.hostnames.find((h) => h.target === 'web' && h.access?.policy === 'people')?.access;
  const webAudience = webGate?.policy === 'people' ? webGate.audienceSecret : undefined;
  const config: z.input<typeof RuntimeConfigSchema> = {
    version: 1,
    platform: p.name,
    env: p.env,
    host,
    ports: {
      web: port('web'),
      mcp: port('mcp'),
      rag: port('rag'),
      metrics: port('worker', 'metrics'),
    },
    ...(p.cloudflare.access && webAudience
      ? { webAccess: { teamDomain: p.cloudflare.access.teamDomain, audienceSecret: webAudience } }
      : {}),
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
    providers: {
      ...(Object.fromEntries(HOSTED_PROVIDERS.map((k) => [k, hosted(k)])) as Omit<RuntimeConfigFile['providers'], 'anthropic'>),
      anthropic: { ...hosted('anthropic'), defaultMaxTokens: p.routing.providers.anthropic.defaultMaxTokens },
    },
    vault: {
      path: vaultMount,
      folders: { ...p.vault.folders },
      worker: {
        concurrency: p.vault.worker.concurrency,
        mtimeGuardMs: ms(p.vault.worker.mtimeGuardSeconds),
        rescanMs: ms(p.vault.worker.rescanSeconds),
        graceMs: ms(p.vault.worker.graceSeconds),
        incompleteWaitMs: ms(p.vault.worker.incompleteWaitSeconds),
        maxJobBytes: p.vault.worker.maxJobBytes,
        maxAnswerChars: p.vault.worker.maxAnswerChars,
        maxChainSteps: p.vault.worker.maxChainSteps,
        firstTokenTimeoutMs: ms(p.vault.worker.firstTokenTimeoutSeconds),
        idleTimeoutMs: ms(p.vault.worker.idleTimeoutSeconds),
        jobTimeoutMs: ms(p.vault.worker.jobTimeoutSeconds),
        ioRetries: p.vault.worker.ioRetries,
        ioRetryBackoffMs: ms(p.vault.worker.ioRetryBackoffSeconds),
        leaseHeartbeatMs: ms(p.vault.worker.leaseHeartbeatSeconds),
        leaseStaleHeartbeats: p.vault.worker.leaseStaleHeartbeats,
      },
    },
    queue: queueConfig(p, host),
    schedules: Object.entries(p.schedules)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, s]) => ({
        name,
        cron: s.cron,
        timezone: s.timezone,
        enabled: s.enabled,
        catchUp: s.catchUp,
        ...(s.quietHours ? { quietHours: { ...s.quietHours } } : {}),
        job: {
          // The model refuses chain schedules; the narrowing keeps the slice's type honest.
          type: s.job.type === 'chain' ? 'text' : s.job.type,
          ...(s.job.model !== undefined ? { model: s.job.model } : {}),
          skills: [...s.job.skills],
          ...(s.job.title !== undefined ? { title: s.job.title } : {}),
          ...(s.job.prompt !== undefined ? { prompt: s.job.prompt } : {}),
          ...(s.job.template !== undefined ? { template: s.job.template } : {}),
          ...(s.job.output !== undefined ? { output: s.job.output } : {}),
        },
      })),
    services: {
      mcpUrl: svc('mcp'),
      ragUrl: svc('rag'),
      ...(p.services.qdrant ? { qdrantUrl: svc('qdrant') } : {}),
      ...(p.services.neo4j ? { neo4jUri: `bolt://neo4j:${port('neo4j', 'bolt')}` } : {}),
    },
    retrieval: structuredClone(p.retrieval),
    notify: { discordWebhookSecret: p.observability.discord.webhookSecret },
    mcp: {
      authTokenSecret: p.mcp.authTokenSecret,
      hostnames: [...new Set(['mcp', 'localhost', '127.0.0.1', '[::1]', ...p.mcp.hostnames])],
      origins: [...p.mcp.origins],
      search: {
        ...(p.mcp.search.searxngUrl !== undefined ? { searxngUrl: p.mcp.search.searxngUrl } : {}),
        timeoutMs: ms(p.mcp.search.timeoutSeconds),
        maxResults: p.mcp.search.maxResults,
      },
      fetch: {
        allowHosts: [...p.mcp.fetch.allowHosts],
        maxRedirects: p.mcp.fetch.maxRedirects,
        maxBytes: p.mcp.fetch.maxBytes,
        timeoutMs: ms(p.mcp.fetch.timeoutSeconds),
        defaultMaxLength: p.mcp.fetch.defaultMaxLength,
      },
      vault: { ...p.mcp.vault, writableFolders: [...p.mcp.vault.writableFolders] },
      sandbox: {
        cpuSeconds: p.mcp.sandbox.cpuSeconds,
        wallMs: ms(p.mcp.sandbox.wallSeconds),
        memoryMb: p.mcp.sandbox.memoryMb,
        maxProcesses: p.mcp.sandbox.maxProcesses,
        maxOutputBytes: p.mcp.sandbox.maxOutputBytes,
        diskMb: p.mcp.sandbox.diskMb,
      },
      research: { maxSteps: p.mcp.research.maxSteps, timeoutMs: ms(p.mcp.research.timeoutSeconds), maxTokens: p.mcp.research.maxTokens },
    },
    telemetry: { ...(alloyBeside ? { otlpEndpoint: `http://alloy:${port('alloy', 'otlp-http')}` } : {}), serviceNamespace: p.name },
  };
  // The runtime validates this file with the same schema at start-up; fail here first.
  return RuntimeConfigSchema.parse(config);
}

export const runtimeConfigGenerator: Generator = {
  name: 'runtime-config',
  generate: (p) => [
    { path: 'runtime/runtime.json', content: toJson(runtimeConfig(p)) },
    // A worker on another host reads its own slice, shipped beside its compose file.
    ...natsWorkerHosts(p)
      .filter((h) => h !== runtimeHost(p))
      .map((h) => ({ path: `hosts/${h}/${WORKER_RUNTIME_CONF_PATH}`, content: toJson(runtimeConfig(p, h)) })),
  ],
};
