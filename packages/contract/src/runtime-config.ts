import { z } from 'zod';
import { ProviderKindSchema, type HostedProvider } from './providers.js';
import { SecretNameSchema } from './secrets.js';

/*
 * The runtime's slice of the model: what `generated/runtime/runtime.json` holds and what the
 * runtime validates at start-up. It depends on zod only, so the runtime image carries it
 * without the rest of the model or CDKTF.
 */

const Url = z.url({ protocol: /^https?$/ });

export const RuntimeRouteSchema = z.strictObject({
  id: z.string().min(1),
  provider: ProviderKindSchema,
  /** Ollama routes only: the host whose Ollama serves the model (key into `ollamaHosts`). */
  host: z.string().optional(),
  purpose: z.string(),
  label: z.string(),
  timeoutMs: z.number().int().positive(),
  /** Anthropic always sends one; others only when set. */
  maxTokens: z.number().int().positive().optional(),
  contextWindow: z.number().int().positive().optional(),
  healthGated: z.boolean(),
});

export const RuntimeProviderSchema = z.strictObject({
  baseUrl: Url,
  apiKeySecret: SecretNameSchema,
  timeoutMs: z.number().int().positive(),
  rateLimitRetries: z.number().int().min(0),
  maxRetryWaitMs: z.number().int().positive(),
});

export const RuntimeConfigSchema = z.strictObject({
  version: z.literal(1),
  platform: z.string(),
  env: z.string(),
  /** The host the runtime's services run on. */
  host: z.string(),
  ports: z.strictObject({ web: z.number().int(), mcp: z.number().int(), rag: z.number().int(), metrics: z.number().int() }),
  routing: z.strictObject({
    default: z.string(),
    models: z.array(RuntimeRouteSchema).min(1),
    embedding: z.strictObject({ model: z.string(), host: z.string(), dimensions: z.number().int().positive() }),
    health: z.strictObject({ intervalMs: z.number().int().positive(), timeoutMs: z.number().int().positive() }),
    ollama: z.strictObject({ timeoutMs: z.number().int().positive() }),
  }),
  /** Ollama base URL per host, as seen from the runtime's containers. */
  ollamaHosts: z.record(z.string(), Url),
  providers: z.strictObject({ groq: RuntimeProviderSchema, gemini: RuntimeProviderSchema, anthropic: RuntimeProviderSchema } satisfies Record<HostedProvider, typeof RuntimeProviderSchema>),
  vault: z.strictObject({
    /** The vault as mounted in the runtime's containers. */
    path: z.string(),
    folders: z.strictObject({
      queue: z.string(),
      active: z.string(),
      completed: z.string(),
      failed: z.string(),
      outputs: z.string(),
      skills: z.string(),
    }),
    worker: z.strictObject({
      concurrency: z.number().int().positive(),
      mtimeGuardMs: z.number().int().min(0),
      rescanMs: z.number().int().positive(),
      graceMs: z.number().int().positive(),
    }),
  }),
  services: z.strictObject({ mcpUrl: Url, ragUrl: Url, qdrantUrl: Url, neo4jUri: z.string() }),
  notify: z.strictObject({ discordWebhookSecret: SecretNameSchema }),
  telemetry: z.strictObject({ otlpEndpoint: Url, serviceNamespace: z.string() }),
});

export type RuntimeConfigFile = z.infer<typeof RuntimeConfigSchema>;
export type RuntimeRoute = z.infer<typeof RuntimeRouteSchema>;
