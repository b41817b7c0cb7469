import { z } from 'zod';
import { ProviderKindSchema, type HostedProvider } from './providers.js';
import { RuntimeQueueSchema } from './queue.js';
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

/** One schedule as the worker's scheduler runs it (see `schedules:` in the model). */
export const RuntimeScheduleSchema = z.strictObject({
  name: z.string().min(1),
  cron: z.string().min(1),
  timezone: z.string().min(1),
  enabled: z.boolean(),
  catchUp: z.enum(['skip', 'once']),
  quietHours: z.strictObject({ start: z.string(), end: z.string() }).optional(),
  job: z.strictObject({
    /** text and research: a prompt for a model; memory and reindex: the built-in agents. */
    type: z.enum(['text', 'research', 'memory', 'reindex']),
    model: z.string().min(1).optional(),
    skills: z.array(z.string().min(1)),
    title: z.string().min(1).optional(),
    prompt: z.string().min(1).optional(),
    /** Vault-relative; read at each slot. */
    template: z.string().min(1).optional(),
    /**
     * Vault-relative folder the job writes into: the answer of a text or research job (instead of
     * the outputs folder), the durable notes of a memory job.
     */
    output: z.string().min(1).optional(),
  }),
});

/*
 * Retrieval over the vault (`runtime index`, `runtime rag`). The same schema validates the
 * model's `retrieval:` section and the runtime slice, so its defaults live here once.
 */
export const RetrievalSchema = z.strictObject({
  chunk: z
    .strictObject({
      /** Target chunk size in characters; a code block or table longer than this stays whole. */
      maxChars: z.number().int().min(200).max(20_000).default(1200),
      /** Characters of the previous chunk repeated at the start of the next (prose only). */
      overlapChars: z.number().int().min(0).max(2000).default(150),
    })
    .prefault({}),
  /**
   * Which embedder fills the index: `ollama` uses routing.embedding (model, host, dimensions);
   * `onnx` runs all-MiniLM-L6-v2 (384 dimensions) in-process, so a laptop needs no Ollama.
   */
  embedder: z.enum(['ollama', 'onnx']).default('ollama'),
  stores: z
    .strictObject({
      /** `embedded`: SQLite + sqlite-vec + FTS5 in the data folder; `qdrant`: services.qdrant. */
      vector: z.enum(['embedded', 'qdrant']).default('embedded'),
      /** `embedded`: SQLite tables in the data folder; `neo4j`: services.neo4j over Bolt. */
      graph: z.enum(['embedded', 'neo4j']).default('embedded'),
      qdrantCollection: z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,64}$/)
        .default('vault'),
      /** Empty when Qdrant runs without an API key (on the private network). */
      qdrantApiKeySecret: SecretNameSchema.optional(),
      neo4jUser: z.string().min(1).default('neo4j'),
      neo4jPasswordSecret: SecretNameSchema.default('NEO4J_PASSWORD'),
    })
    .prefault({}),
  entities: z
    .strictObject({
      /** Extract entities and relations with one LLM call per chunk; wiki links are edges regardless. */
      extract: z.boolean().default(true),
      /** Route id that extracts entities, decomposes questions and answers; empty = routing.default. */
      model: z.string().optional(),
      /** Trigram/Jaccard similarity at or above which two entity names are one entity. */
      fuzzyThreshold: z.number().min(0.3).max(1).default(0.5),
    })
    .prefault({}),
  /** Folders (relative to the vault) never indexed, besides the queue folders and dot-folders. */
  skipFolders: z.array(z.string().min(1)).default(['skills']),
  /** Index job outputs (vault.folders.outputs) too. */
  includeRunnerOutputs: z.boolean().default(false),
  /** Largest note read, in bytes; bigger notes are skipped and reported. */
  maxNoteBytes: z.number().int().positive().default(1_000_000),
  retrieve: z
    .strictObject({
      /** Results returned by /retrieve unless the request asks for fewer. */
      topK: z.number().int().min(1).max(100).default(8),
      /** Candidates each retriever contributes before fusion. */
      candidates: z.number().int().min(1).max(500).default(40),
      /** Reciprocal-rank-fusion constant. */
      rrfK: z.number().int().min(1).default(60),
      /** Questions with fewer words than this are not decomposed into sub-questions. */
      decomposeMinWords: z.number().int().min(1).default(12),
      /** Sub-questions at most. */
      maxSubQuestions: z.number().int().min(1).max(8).default(3),
    })
    .prefault({}),
});

export type RetrievalSettings = z.infer<typeof RetrievalSchema>;

export const RuntimeConfigSchema = z.strictObject({
  version: z.literal(1),
  platform: z.string(),
  env: z.string(),
  /** The host the runtime's services run on. */
  host: z.string(),
  ports: z.strictObject({ web: z.number().int(), mcp: z.number().int(), rag: z.number().int(), metrics: z.number().int() }),
  /**
   * How the web service verifies Cloudflare Access JWTs: the team domain (issuer, JWKS) and the
   * secret holding the audience tag. Absent when the model puts no Access application in front of web.
   */
  webAccess: z.strictObject({ teamDomain: z.string().min(1), audienceSecret: SecretNameSchema }).optional(),
  routing: z.strictObject({
    default: z.string(),
    models: z.array(RuntimeRouteSchema).min(1),
    embedding: z.strictObject({ model: z.string(), host: z.string(), dimensions: z.number().int().positive() }),
    health: z.strictObject({ intervalMs: z.number().int().positive(), timeoutMs: z.number().int().positive() }),
    ollama: z.strictObject({ timeoutMs: z.number().int().positive() }),
  }),
  /** Ollama base URL per host, as seen from the runtime's containers. */
  ollamaHosts: z.record(z.string(), Url),
  providers: z.strictObject({
    groq: RuntimeProviderSchema,
    gemini: RuntimeProviderSchema,
    anthropic: RuntimeProviderSchema.extend({
      /** max_tokens for a request that names none: the Messages API requires one on every call. */
      defaultMaxTokens: z.number().int().positive(),
    }),
  } satisfies Record<HostedProvider, z.ZodType>),
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
      incompleteWaitMs: z.number().int().min(0),
      maxJobBytes: z.number().int().positive(),
      maxAnswerChars: z.number().int().positive(),
      maxChainSteps: z.number().int().positive(),
      firstTokenTimeoutMs: z.number().int().positive(),
      idleTimeoutMs: z.number().int().positive(),
      jobTimeoutMs: z.number().int().positive(),
      ioRetries: z.number().int().min(0),
      ioRetryBackoffMs: z.number().int().positive(),
      leaseHeartbeatMs: z.number().int().positive(),
      leaseStaleHeartbeats: z.number().int().min(2),
    }),
  }),
  /** Which queue the worker drains: the vault folder, or NATS JetStream behind a gateway. */
  queue: RuntimeQueueSchema.default({ backend: 'folder' }),
  /** In name order. */
  schedules: z.array(RuntimeScheduleSchema),
  services: z.strictObject({
    mcpUrl: Url,
    ragUrl: Url,
    /** Absent when the model runs no Qdrant: retrieval then keeps its vectors in the embedded store. */
    qdrantUrl: Url.optional(),
    /** Absent when the model runs no Neo4j: retrieval then keeps its graph in the embedded store. */
    neo4jUri: z.string().optional(),
  }),
  retrieval: RetrievalSchema.prefault({}),
  notify: z.strictObject({ discordWebhookSecret: SecretNameSchema }),
  /** The MCP tool server (`runtime mcp`) and the research jobs that use it. */
  mcp: z.strictObject({
    authTokenSecret: SecretNameSchema,
    /** Host header names accepted (DNS-rebinding protection), loopback and the service name included. */
    hostnames: z.array(z.string().min(1)),
    /** Origin header values accepted; a request without Origin passes. */
    origins: z.array(z.string().min(1)),
    search: z.strictObject({ searxngUrl: Url.optional(), timeoutMs: z.number().int().positive(), maxResults: z.number().int().positive() }),
    fetch: z.strictObject({
      /** `host:port` pairs fetch may reach although they resolve to non-public addresses. */
      allowHosts: z.array(z.string().min(1)),
      maxRedirects: z.number().int().min(0),
      maxBytes: z.number().int().positive(),
      timeoutMs: z.number().int().positive(),
      defaultMaxLength: z.number().int().positive(),
    }),
    vault: z.strictObject({
      writableFolders: z.array(z.string().min(1)),
      maxReadBytes: z.number().int().positive(),
      maxWriteBytes: z.number().int().positive(),
    }),
    sandbox: z.strictObject({
      cpuSeconds: z.number().int().positive(),
      wallMs: z.number().int().positive(),
      memoryMb: z.number().int().positive(),
      maxProcesses: z.number().int().positive(),
      maxOutputBytes: z.number().int().positive(),
      diskMb: z.number().int().positive(),
    }),
    research: z.strictObject({
      maxSteps: z.number().int().positive(),
      timeoutMs: z.number().int().positive(),
      maxTokens: z.number().int().positive(),
    }),
  }),
  telemetry: z.strictObject({
    /** Alloy's OTLP/HTTP receiver beside the runtime; without one, the OpenTelemetry default (an
     *  exporter on the loopback), which OTEL_EXPORTER_OTLP_ENDPOINT overrides at start-up. */
    otlpEndpoint: Url.default('http://127.0.0.1:4318'),
    serviceNamespace: z.string(),
  }),
});

export type RuntimeConfigFile = z.infer<typeof RuntimeConfigSchema>;
export type RuntimeRoute = z.infer<typeof RuntimeRouteSchema>;
export type RuntimeSchedule = z.infer<typeof RuntimeScheduleSchema>;
