import {
  CLOUD_GROUP,
  ProviderKindSchema,
  QUEUE_BACKENDS,
  RetrievalSchema,
  SECRET_NAME,
  SecretNameSchema,
  type ProviderKind,
} from '@platform/contract';
import { z } from 'zod';

/*
 * The platform model. Every default lives here, once, and says what it does.
 * Objects are strict: an unknown key is a typo until proven otherwise.
 */

const NAME = /^[a-z][a-z0-9-]*$/;
export { ProviderKindSchema, SECRET_NAME, SecretNameSchema };

export const NameSchema = z
  .string()
  .regex(NAME, 'a lower-case name of letters, digits and dashes starting with a letter, such as "prod-services"');

export const PortSchema = z.number().int().min(1).max(65535);

const DURATION = /^\d+(ms|s|m|h|d)$/;
export const DurationSchema = z.string().regex(DURATION, 'a duration such as "500ms", "30s", "5m", "4h" or "7d"');

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
export const Ipv4Schema = z.string().regex(IPV4, 'an IPv4 address such as "203.0.113.10"');
export const CidrSchema = z.string().refine((v) => {
  const [ip, bits, ...rest] = v.split('/');
  return rest.length === 0 && ip !== undefined && IPV4.test(ip) && bits !== undefined && /^\d+$/.test(bits) && Number(bits) <= 32;
}, 'a CIDR block such as "203.0.113.0/24" or "0.0.0.0/0"');

/** "22", "80-90" or "any". */
export const PortRangeSchema = z.string().refine((v) => {
  if (v === 'any') return true;
  const m = /^(\d+)(?:-(\d+))?$/.exec(v);
  if (!m) return false;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  return lo >= 1 && hi <= 65535 && lo <= hi;
}, 'a port "22", a range "8000-8010" with low <= high within 1-65535, or "any"');

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
export const HostnameSchema = z.string().regex(HOSTNAME, 'a lower-case DNS name such as "control.example.com"');

export const UrlSchema = z.url({ protocol: /^https?$/, error: 'an http(s) URL such as "https://example.com"' });

// ---------------------------------------------------------------- AWS

/** S3 naming rules (the subset AWS enforces for new general purpose buckets). */
export const BucketNameSchema = z
  .string()
  .refine(
    (v) =>
      /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(v) &&
      !v.includes('..') &&
      !IPV4.test(v) &&
      !v.startsWith('xn--') &&
      !v.startsWith('sthree-') &&
      !v.endsWith('-s3alias') &&
      !v.endsWith('--ol-s3'),
    'an S3 bucket name: 3-63 lower-case letters, digits, dots and dashes, starting and ending with a letter or digit, not an IP address',
  );

export const RetentionSchema = z.strictObject({
  /** Current objects expire after this many days; absent means they are kept. */
  currentDays: z.number().int().positive().optional(),
  /** Superseded versions expire after this many days. */
  noncurrentDays: z.number().int().positive().default(30),
  /** Newest superseded versions kept regardless of age. */
  noncurrentNewerVersions: z.number().int().min(0).max(100).optional(),
  /** Incomplete multipart uploads are aborted after this many days. */
  abortMultipartDays: z.number().int().positive().default(7),
});

export const BucketSchema = z.strictObject({
  name: BucketNameSchema,
  purpose: z.string().min(1),
  retention: RetentionSchema.prefault({}),
});

export const AwsSchema = z.strictObject({
  region: z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, 'an AWS region such as "us-east-1"'),
  buckets: z.strictObject({
    tfstate: BucketSchema,
    'vault-snapshots': BucketSchema,
    artifacts: BucketSchema,
  }),
  /** The IAM user the hosts use for snapshots and artifacts. */
  serviceUser: NameSchema.default('homelab-svc'),
});

// ---------------------------------------------------------------- Cloudflare

export const AccessSchema = z.discriminatedUnion('policy', [
  z.strictObject({
    policy: z.literal('people'),
    /** Who may sign in, by email. */
    emails: z.array(z.email()).min(1),
    sessionDuration: DurationSchema.default('24h'),
    /**
     * Infisical secret the edge stack writes the Access application's audience tag (AUD) to, for a
     * service that verifies Access JWTs itself (the web control panel). Cloudflare mints the tag
     * when the application is created, so the model names where it goes, not its value.
     */
    audienceSecret: SecretNameSchema.optional(),
  }),
  z.strictObject({
    policy: z.literal('service-token'),
    /** Name of the Access service token machines present. */
    serviceToken: NameSchema,
    /** Infisical secret names the token's id and secret are written to. */
    clientIdSecret: SecretNameSchema,
    clientSecretSecret: SecretNameSchema,
    sessionDuration: DurationSchema.default('24h'),
  }),
]);

export const PublicHostnameSchema = z.strictObject({
  hostname: HostnameSchema,
  /** A compose service name (`web`) or a host service as `host/service` (`davas/ollama`). */
  target: z.string().min(1),
  /** Behind Cloudflare Access, and for whom. Absent means public. */
  access: AccessSchema.optional(),
});

export const CloudflareSchema = z.strictObject({
  zone: HostnameSchema,
  /** Account id is resolved at deploy time from this environment variable. */
  accountIdEnv: SecretNameSchema.default('CLOUDFLARE_ACCOUNT_ID'),
  tunnel: z.strictObject({
    name: NameSchema,
    /** The compose service that runs cloudflared. */
    connector: NameSchema,
    /** Infisical secret the tunnel token is written to; cloudflared reads it as TUNNEL_TOKEN. */
    tokenSecret: SecretNameSchema.default('TUNNEL_TOKEN'),
  }),
  hostnames: z.array(PublicHostnameSchema).default([]),
  /** Cloudflare Access: the team domain that issues and signs Access JWTs (`<team>.cloudflareaccess.com`). */
  access: z
    .strictObject({
      teamDomain: HostnameSchema.refine((h) => h.endsWith('.cloudflareaccess.com'), 'a team domain ends with .cloudflareaccess.com'),
    })
    .optional(),
});

// ---------------------------------------------------------------- Infisical

export const IdentitySchema = z.strictObject({
  name: NameSchema,
  auth: z.literal('universal-auth'),
  role: z.enum(['viewer', 'member', 'admin', 'no-access']),
  /** Hosts that authenticate as this identity. */
  hosts: z.array(NameSchema).min(1),
  /** Client secret lifetime; 0 means it does not expire. */
  clientSecretTtlDays: z.number().int().min(0).default(0),
});

export const InfisicalSchema = z.strictObject({
  siteUrl: UrlSchema,
  project: NameSchema,
  env: NameSchema,
  identities: z.array(IdentitySchema).min(1),
});

// ---------------------------------------------------------------- hosts

export const FirewallRuleSchema = z.strictObject({
  name: NameSchema,
  protocol: z.enum(['tcp', 'udp', 'icmp']),
  ports: PortRangeSchema.default('any'),
  sources: z.array(CidrSchema).min(1),
});

const HostServiceBase = {
  /** Address and port the service listens on, e.g. "127.0.0.1:11434". */
  listen: z
    .string()
    .regex(/^(\d{1,3}(\.\d{1,3}){3}):(\d{1,5})$/, 'an "address:port" pair such as "127.0.0.1:11434"')
    .optional(),
};

export const HostServiceSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('ollama'),
    ...HostServiceBase,
    listen: HostServiceBase.listen.default('127.0.0.1:11434'),
    /** Models pulled on this host. */
    models: z.array(z.string().min(1)).min(1),
  }),
  z.strictObject({ kind: z.literal('syncthing'), ...HostServiceBase }),
  z.strictObject({ kind: z.literal('alloy'), ...HostServiceBase }),
  z.strictObject({ kind: z.literal('tailscale') }),
]);

export const HostSchema = z.strictObject({
  kind: z.enum(['vps', 'proxmox-vm', 'gpu']),
  description: z.string().default(''),
  addresses: z.strictObject({ public: Ipv4Schema.optional(), tailnet: Ipv4Schema.optional() }).default({}),
  /** The OS user Ansible connects as. */
  user: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]*$/, 'a POSIX user name such as "root" or "ops"')
    .default('root'),
  /** Provider instance id, where a cloud firewall needs it (Contabo). */
  instanceId: z.string().min(1).optional(),
  /** Services installed on the host itself, outside compose. Key is the service name. */
  hostServices: z.record(NameSchema, HostServiceSchema).default({}),
  firewall: z.strictObject({ inbound: z.array(FirewallRuleSchema).default([]) }).prefault({}),
  /** Where the Obsidian vault lives on this host, if it has one. */
  vaultPath: z.string().regex(/^\//, 'an absolute path').optional(),
});

// ---------------------------------------------------------------- services

export const VolumeSchema = z.discriminatedUnion('type', [
  /** A named compose volume. */
  z.strictObject({
    type: z.literal('volume'),
    source: NameSchema,
    target: z.string().regex(/^\//, 'an absolute path'),
    readOnly: z.boolean().default(false),
  }),
  /** A host path. */
  z.strictObject({
    type: z.literal('bind'),
    source: z.string().regex(/^\//, 'an absolute path'),
    target: z.string().regex(/^\//, 'an absolute path'),
    readOnly: z.boolean().default(false),
  }),
  /** The host's vault (its `vaultPath`). */
  z.strictObject({ type: z.literal('vault'), target: z.string().regex(/^\//, 'an absolute path'), readOnly: z.boolean().default(false) }),
]);

export const HealthcheckSchema = z.strictObject({
  /** Exec form, e.g. ["CMD", "wget", "-qO-", "http://localhost:8000/healthz"]. */
  test: z.array(z.string()).min(2),
  interval: DurationSchema.default('30s'),
  timeout: DurationSchema.default('5s'),
  retries: z.number().int().positive().default(3),
  startPeriod: DurationSchema.default('10s'),
});

export const ServiceSchema = z
  .strictObject({
    host: NameSchema,
    description: z.string().default(''),
    image: z.string().min(1).optional(),
    /** Runs the platform's runtime image (`runtimeImage`) as the vault owner, with a read-only root. */
    runtime: z.boolean().default(false),
    build: z.strictObject({ context: z.string().min(1), dockerfile: z.string().min(1).optional() }).optional(),
    command: z.array(z.string()).optional(),
    /** Ports the container listens on; reachable on the compose network only. */
    ports: z.array(z.strictObject({ name: NameSchema, port: PortSchema })).default([]),
    /** Ports published on the host. Empty unless something outside compose must reach the service. */
    publish: z.array(z.strictObject({ port: PortSchema, hostPort: PortSchema, hostIp: Ipv4Schema.default('127.0.0.1') })).default([]),
    volumes: z.array(VolumeSchema).default([]),
    dependsOn: z.record(NameSchema, z.enum(['started', 'healthy', 'completed'])).default({}),
    healthcheck: HealthcheckSchema.optional(),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'), z.string()).default({}),
    /** Infisical secret names, materialised into the service's env_file by the Infisical agent. */
    secrets: z.array(SecretNameSchema).default([]),
    /** Host services this container reaches through host.docker.internal. */
    usesHostServices: z.array(NameSchema).default([]),
    restart: z.enum(['no', 'always', 'on-failure', 'unless-stopped']).default('unless-stopped'),
    /** Memory limit, e.g. "2g". */
    memLimit: z
      .string()
      .regex(/^\d+[kmg]$/, 'a size such as "512m" or "2g"')
      .optional(),
    /**
     * The service runs untrusted code under bubblewrap. The compose file then lifts only the
     * container profiles that forbid creating namespaces (seccomp, AppArmor); no capability
     * is added and the container stays unprivileged.
     */
    sandbox: z.enum(['bubblewrap']).optional(),
  })
  .refine((s) => [s.image !== undefined, s.build !== undefined, s.runtime].filter(Boolean).length === 1, {
    message: 'exactly one of "image", "build" or "runtime: true"',
  });

// ---------------------------------------------------------------- routing

export const RouteSchema = z.strictObject({
  id: z.string().min(1),
  provider: ProviderKindSchema,
  /** For Ollama: the host whose Ollama serves the model. */
  host: NameSchema.optional(),
  purpose: z.string().min(1),
  label: z.string().optional(),
  timeoutSeconds: z.number().int().positive().optional(),
  maxTokens: z.number().int().positive().optional(),
  contextWindow: z.number().int().positive().optional(),
  /** Checked in the background; unavailable (503) while its host is down. Never falls back. */
  healthGated: z.boolean().default(false),
});

export const ProviderSettingsSchema = z.strictObject({
  baseUrl: UrlSchema,
  apiKeySecret: SecretNameSchema,
  /** Per-request timeout pinned for this provider, unless a route sets its own. */
  timeoutSeconds: z.number().int().positive(),
  /** Retries a job spends on 429s before it is held (chat never retries). */
  rateLimitRetries: z.number().int().min(0).max(10).default(3),
  /** Upper bound on one 429 wait, whatever the provider's hint says. */
  maxRetryWaitSeconds: z.number().int().positive().default(60),
});

export const RoutingSchema = z.strictObject({
  default: z.string().min(1),
  embedding: z.strictObject({ model: z.string().min(1), host: NameSchema, dimensions: z.number().int().positive() }),
  health: z
    .strictObject({ intervalSeconds: z.number().int().positive().default(15), timeoutSeconds: z.number().int().positive().default(3) })
    .prefault({}),
  providers: z.strictObject({
    ollama: ProviderSettingsSchema.omit({ baseUrl: true, apiKeySecret: true }).prefault({ timeoutSeconds: 300, rateLimitRetries: 0 }),
    groq: ProviderSettingsSchema,
    gemini: ProviderSettingsSchema,
    anthropic: ProviderSettingsSchema.extend({
      /** Anthropic requires max_tokens on every request: routes without their own use this. */
      defaultMaxTokens: z.number().int().positive().default(8192),
    }),
  } satisfies Record<ProviderKind, z.ZodType>),
  models: z.array(RouteSchema).min(1),
});

// ---------------------------------------------------------------- observability

const GrafanaEndpointSchema = z.strictObject({
  url: UrlSchema,
  /** Numeric Grafana Cloud user / instance id: not a secret. */
  user: z.string().regex(/^\d+$/, 'the numeric Grafana Cloud instance id'),
  tokenSecret: SecretNameSchema,
});

/** A share of something, between 0.01 and 1 (write 0.2, not 20 or "20%"). */
const RatioSchema = z.number().min(0.01).max(1);
/** A whole number of minutes, at least 1 (write 30, not "30m"). */
const MinutesSchema = z.number().int().min(1).max(10080);

export const DASHBOARD_NAMES = ['jobs', 'providers', 'hosts', 'retrieval'] as const;

export const AlertThresholdsSchema = z.strictObject({
  /** Window the job-failure alerts look back over, in minutes (at least 5: a few scrapes). */
  jobFailureWindowMinutes: z.number().int().min(5).max(1440).default(15),
  /** Failed / finished jobs over the window above which the ratio alert fires. */
  jobFailureRatio: RatioSchema.default(0.25),
  /** The oldest queued job waiting longer than this means the worker is stuck. */
  queueStuckMinutes: MinutesSchema.default(30),
  /** Free space below this share of a filesystem fires at once. */
  diskFreeRatio: RatioSchema.default(0.1),
  /** predict_linear horizon: fires when a filesystem would fill within this many hours. */
  diskFillHours: z.number().int().min(1).max(720).default(24),
  /** How long davas (a health-gated provider host) may be unreachable before it alerts. */
  providerDownMinutes: MinutesSchema.default(10),
  /** 429s over 15 minutes, per provider, that count as "rate-limited repeatedly". */
  rateLimitedPer15m: z.number().int().min(1).default(5),
  /** A host whose metrics stop arriving for this long alerts. */
  hostAbsentMinutes: MinutesSchema.default(10),
  /**
   * A JetStream consumer with messages waiting and nothing delivered or acked for this long is
   * stuck (jetstream queue backend). Keep it above vault.worker.jobTimeoutSeconds: a worker busy
   * with long jobs pulls nothing new until one ends.
   */
  consumerStuckMinutes: MinutesSchema.default(30),
});

/** A panel the operator adds to a built-in dashboard, built from one catalog metric. */
export const ExtraPanelSchema = z.strictObject({
  dashboard: z.enum(DASHBOARD_NAMES),
  title: z.string().min(1),
  /** A metric name from the catalog (packages/contract/src/metrics.ts). */
  metric: z.string().min(1),
  /** rate: per-second rate of a counter; value: a gauge as is; p50/p95/p99: quantile of a histogram. */
  show: z.enum(['rate', 'value', 'p50', 'p95', 'p99']).default('value'),
  /** Labels to split the series by; each must be one the metric carries. */
  by: z.array(z.string().min(1)).default([]),
});

export const ObservabilitySchema = z.strictObject({
  grafanaCloud: z.strictObject({
    stackUrl: UrlSchema,
    loki: GrafanaEndpointSchema,
    prometheus: GrafanaEndpointSchema,
    tempo: GrafanaEndpointSchema,
    /** Token the observability stack deploys with. */
    apiTokenSecret: SecretNameSchema,
  }),
  discord: z.strictObject({
    webhookSecret: SecretNameSchema,
    groupWait: DurationSchema.default('30s'),
    groupInterval: DurationSchema.default('5m'),
    repeatInterval: DurationSchema.default('4h'),
  }),
  dashboards: z.array(z.enum(DASHBOARD_NAMES)).default([...DASHBOARD_NAMES]),
  extraPanels: z.array(ExtraPanelSchema).default([]),
  // The object default is derived from the field defaults above, so the JSON Schema shows the values.
  alerts: AlertThresholdsSchema.default(AlertThresholdsSchema.parse({})),
  /** Where runbook links point; absent means the path in this repository (generated/docs/runbooks.md). */
  runbookBaseUrl: UrlSchema.optional(),
});
export type Observability = z.infer<typeof ObservabilitySchema>;
export type AlertThresholds = z.infer<typeof AlertThresholdsSchema>;
export type ExtraPanel = z.infer<typeof ExtraPanelSchema>;
export type DashboardName = (typeof DASHBOARD_NAMES)[number];

// ---------------------------------------------------------------- vault

export const VaultOwnerSchema = z.strictObject({
  /** The user Syncthing runs as on every vault host; it owns the vault's files. */
  user: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]*$/, 'a POSIX user name such as "syncthing"')
    .default('syncthing'),
  /** Its uid and gid: the runtime's containers run as them, so what they write stays the owner's. */
  uid: z
    .number()
    .int()
    .min(1, 'a non-root uid (the containers must not run as root)')
    .max(2 ** 31 - 1)
    .default(1000),
  gid: z
    .number()
    .int()
    .min(1, 'a non-root gid')
    .max(2 ** 31 - 1)
    .default(1000),
});

export const VaultSchema = z.strictObject({
  /**
   * Which queue runs the jobs. `folder`: one worker drains the vault's queue folder. `jetstream`: a
   * gateway on the runtime host claims files from the queue folder and publishes them to a NATS
   * JetStream work-queue stream (the `nats:` section); workers on any host listed under
   * `nats.workers` pull them and the gateway writes their outputs back into the vault.
   */
  queue: z.strictObject({ backend: z.enum(QUEUE_BACKENDS).default('folder') }).prefault({}),
  /** Who owns the vault on the hosts (the Syncthing user). */
  owner: VaultOwnerSchema.prefault({}),
  folders: z
    .strictObject({
      queue: z.string().default('_queue'),
      active: z.string().default('_active'),
      completed: z.string().default('_completed'),
      failed: z.string().default('_failed'),
      outputs: z.string().default('runner-outputs'),
      skills: z.string().default('skills'),
    })
    .prefault({}),
  worker: z
    .strictObject({
      /** Jobs run at once. */
      concurrency: z.number().int().min(1).max(64).default(2),
      /** A queued file is claimed only when untouched this long (Syncthing may still be writing). */
      mtimeGuardSeconds: z.number().min(0).default(2),
      /** Full rescan of the queue, since file events can be lost. */
      rescanSeconds: z.number().positive().default(30),
      /** On SIGTERM running jobs get this long before they go back to the queue. */
      graceSeconds: z.number().positive().default(30),
      /** A queued file whose frontmatter block is still open is waited for this long (a writer mid-file), then failed with the reason. */
      incompleteWaitSeconds: z.number().min(0).default(60),
      /** Largest job file read, in bytes (1 MiB); a larger file goes to the failed folder with the reason. */
      maxJobBytes: z.number().int().min(1024).default(1_048_576),
      /** Longest answer one provider call may stream, in characters; past it the call is cut and the job fails with the reason. */
      maxAnswerChars: z.number().int().min(1000).default(200_000),
      /** Most steps a chain job may have; a longer chain is invalid. */
      maxChainSteps: z.number().int().min(1).max(1000).default(20),
      /** A provider call with no first token after this long is cut (a loading or hung model frees its slot). */
      firstTokenTimeoutSeconds: z.number().positive().default(120),
      /** A provider stream that sends nothing for this long between chunks is cut. */
      idleTimeoutSeconds: z.number().positive().default(60),
      /** A whole job, every step included, is cut after this long (each call is also bound by its route's timeout). */
      jobTimeoutSeconds: z.number().positive().default(900),
      /** Storage faults (disk full, quota, I/O error): times a job is returned to the queue before it fails. */
      ioRetries: z.number().int().min(0).max(100).default(5),
      /** First wait before such a retry; it doubles with each attempt. */
      ioRetryBackoffSeconds: z.number().positive().default(10),
      /** The worker touches its queue lease this often. */
      leaseHeartbeatSeconds: z.number().positive().default(5),
      /** Heartbeats a lease may miss before another worker takes the queue over (same-host dead owners are seen at once). */
      leaseStaleHeartbeats: z.number().int().min(2).max(100).default(3),
    })
    .prefault({}),
});

// ---------------------------------------------------------------- nats

const NatsUserSchema = z.strictObject({
  user: z.string().regex(/^[A-Za-z0-9_-]+$/, 'a NATS user name (letters, digits, _ and -)'),
  /** Infisical secret holding the password; the server reads it from its environment. */
  passwordSecret: SecretNameSchema,
});

const ContainerImageSchema = z
  .string()
  .regex(/^[a-z0-9]+([._/-][a-z0-9]+)*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'an image with a pinned tag such as "nats:2.15.2-alpine"');

/** A size as NATS reads it: "512M", "10G". */
const NatsSizeSchema = z.string().regex(/^\d+[KMGT]$/, 'a size such as "512M" or "10G"');

/**
 * The NATS cluster behind the `jetstream` queue backend: the hosts that run a server, how clients
 * and peers authenticate (secret names only), and the two streams. May be present while
 * `vault.queue.backend` is `folder`: it is then checked but nothing is generated from it.
 */
export const NatsSchema = z.strictObject({
  /** The NATS server image (pinned). The alpine variant carries the wget its healthcheck runs. */
  image: ContainerImageSchema.default('nats:2.15.2-alpine'),
  /** The Prometheus exporter beside each server, scraped by Alloy (pinned). */
  exporterImage: ContainerImageSchema.default('natsio/prometheus-nats-exporter:0.17.3'),
  /** The cluster's name (every server must agree on it). */
  cluster: NameSchema.default('platform'),
  /** Hosts that run a NATS server: one, or an odd number of at least three (JetStream's Raft needs a majority). */
  servers: z.array(NameSchema).min(1),
  ports: z
    .strictObject({
      /** Clients (the gateway and the workers). */
      client: PortSchema.default(4222),
      /** Routes between the servers. */
      cluster: PortSchema.default(6222),
      /** HTTP monitoring (healthz, jsz), read by the exporter on the compose network. */
      monitor: PortSchema.default(8222),
      /** The exporter's metrics, scraped by Alloy. */
      exporter: PortSchema.default(7777),
    })
    .prefault({}),
  users: z
    .strictObject({
      /** Publishes jobs, consumes results. */
      gateway: NatsUserSchema.default({ user: 'gateway', passwordSecret: 'NATS_GATEWAY_PASSWORD' }),
      /** Consumes jobs, publishes results. */
      worker: NatsUserSchema.default({ user: 'worker', passwordSecret: 'NATS_WORKER_PASSWORD' }),
      /** Servers authenticate their routes to each other as this user. */
      route: NatsUserSchema.default({ user: 'route', passwordSecret: 'NATS_ROUTE_PASSWORD' }),
    })
    .prefault({}),
  /**
   * TLS on client and route connections, the PEM files from the named Infisical secrets (one
   * certificate for every server, naming `nats` and each server's address; the Infisical agent
   * writes the files on the servers, and the CA on the gateway's and the workers' hosts). Off: the
   * servers listen on the tailnet, which WireGuard already encrypts. Turn it on when a server is
   * reached outside the tailnet.
   */
  tls: z
    .strictObject({
      enabled: z.boolean().default(false),
      certSecret: SecretNameSchema.default('NATS_TLS_CERT'),
      keySecret: SecretNameSchema.default('NATS_TLS_KEY'),
      caSecret: SecretNameSchema.default('NATS_TLS_CA'),
    })
    .prefault({}),
  /** What each server may store. */
  storage: z
    .strictObject({
      maxFileStore: NatsSizeSchema.default('10G'),
      maxMemoryStore: NatsSizeSchema.default('256M'),
    })
    .prefault({}),
  stream: z
    .strictObject({
      /** The work-queue stream of jobs, subjects `<subjectPrefix>.run.<group>`. */
      name: z
        .string()
        .regex(/^[A-Za-z0-9_-]+$/, 'a stream name (letters, digits, _ and -)')
        .default('JOBS'),
      /** The stream of results the gateway settles, subjects `<subjectPrefix>.result.<group>`. */
      resultsName: z
        .string()
        .regex(/^[A-Za-z0-9_-]+$/, 'a stream name (letters, digits, _ and -)')
        .default('JOB_RESULTS'),
      subjectPrefix: z
        .string()
        .regex(/^[a-z][a-z0-9_-]*$/, 'a lower-case subject token such as "jobs"')
        .default('jobs'),
      /** Copies of each stream; at most the number of servers. */
      replicas: z.number().int().min(1).max(5).default(1),
      /** A delivered job not acked (or progress-acked) within this is redelivered. */
      ackWaitSeconds: z.number().int().min(5).max(3600).default(60),
      /** Deliveries before a job is given up (the gateway fails it with the reason). */
      maxDeliver: z.number().int().min(1).max(100).default(5),
      /** The server drops a second publish of the same job id within this window. */
      duplicateWindowSeconds: z.number().int().min(1).max(86_400).default(600),
      /** Delay before a job that failed in a retryable way is delivered again. */
      nakDelaySeconds: z.number().int().min(0).max(3600).default(15),
      /** Workers send an in-progress ack this often on long jobs (well under ackWaitSeconds). */
      progressIntervalSeconds: z.number().int().min(1).max(600).default(20),
      /** Jobs and results older than this are dropped from the streams (the vault keeps the files). */
      maxAgeHours: z.number().int().min(1).max(8760).default(168),
    })
    .prefault({}),
  /**
   * The hosts that run a worker, each with the route groups it takes: `cloud` (hosted providers)
   * or an Ollama host whose models it can reach. Every group a route uses needs at least one.
   */
  workers: z.record(NameSchema, z.array(z.string().min(1)).min(1)),
});

export { CLOUD_GROUP };

// ---------------------------------------------------------------- schedules

const CLOCK = /^([01]\d|2[0-3]):[0-5]\d$/;

/** The job a schedule drops into the vault queue at each slot. */
export const ScheduledJobSchema = z
  .strictObject({
    /**
     * The job type. text, chain and research are as in a hand-written job file; two are built-in
     * agents: memory (consolidates recent chats and job outputs into notes in `output` and facts
     * in the retrieval graph) and reindex (the incremental retrieval index, no model call).
     */
    type: z.enum(['text', 'chain', 'research', 'memory', 'reindex']).default('text'),
    /** A routing model id; the routing default when absent. */
    model: z.string().min(1).optional(),
    skills: z.array(z.string().min(1)).default([]),
    title: z.string().min(1).optional(),
    /** The prompt itself; it may use the variables a template may use. */
    prompt: z.string().min(1).optional(),
    /**
     * A prompt template in the vault, relative to its root (`templates/briefing.md`). Read at each
     * slot with the variables {{date}}, {{slot}}, {{schedule}}, {{last_run}}, {{previous_output}},
     * {{notes_changed}}, {{jobs_open}}, {{jobs_failed}}, {{health}} and
     * {{token_spend}} filled in.
     */
    template: z.string().min(1).optional(),
    /**
     * A vault folder, relative to its root (`briefings`): where a text or research job's answer is
     * written instead of the outputs folder, and where a memory job keeps its notes (required for
     * memory). The runtime's own folders are refused.
     */
    output: z.string().min(1).optional(),
  })
  .superRefine((j, ctx) => {
    if (j.type === 'reindex') {
      if (j.prompt !== undefined || j.template !== undefined)
        ctx.addIssue({ code: 'custom', path: ['prompt'], message: 'a reindex job takes no "prompt" or "template": it calls no model' });
      if (j.output !== undefined)
        ctx.addIssue({ code: 'custom', path: ['output'], message: 'a reindex job writes no notes: drop "output"' });
    } else if (j.type === 'memory') {
      // The agent has its own instructions; a prompt or template only adds to them.
      if (j.prompt !== undefined && j.template !== undefined)
        ctx.addIssue({ code: 'custom', path: ['prompt'], message: 'at most one of "prompt" or "template"' });
      if (j.output === undefined)
        ctx.addIssue({ code: 'custom', path: ['output'], message: 'a memory job needs "output": the vault folder its notes go to' });
    } else if ((j.prompt === undefined) === (j.template === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'exactly one of "prompt" or "template"' });
    }
  });

export const ScheduleSchema = z.strictObject({
  /** Standard five-field cron: minute hour day-of-month month day-of-week. */
  cron: z.string().min(1),
  /** IANA time zone the cron fields are read in; DST is followed. */
  timezone: z.string().min(1).default('UTC'),
  enabled: z.boolean().default(true),
  /**
   * After downtime (or a clock jump forward): skip the missed slots, or run once for the latest
   * of them. A slot reached on time always runs.
   */
  catchUp: z.enum(['skip', 'once']).default('skip'),
  /** Discord notices for this schedule's jobs are held back in this local-time window. */
  quietHours: z
    .strictObject({ start: z.string().regex(CLOCK, 'a time "HH:MM"'), end: z.string().regex(CLOCK, 'a time "HH:MM"') })
    .optional(),
  job: ScheduledJobSchema,
});

// ---------------------------------------------------------------- runtime image

export const RuntimeImageSchema = z.strictObject({
  /** The registry CI pushes the runtime image to and the hosts pull it from. */
  registry: HostnameSchema.default('ghcr.io'),
  /** Repository path inside the registry, e.g. "owner/platform-runtime". */
  repository: z
    .string()
    .regex(
      /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/,
      'a lower-case repository path such as "owner/platform-runtime"',
    ),
  /** The release the hosts run; CI tags the image with it, the deploy pins its digest. */
  tag: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'an image tag such as "0.1.0"'),
});

// ---------------------------------------------------------------- mcp

/** `host:port` (a DNS name or an IP literal, IPv6 in brackets). */
const HostPortSchema = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[a-z0-9]([a-z0-9.-]*[a-z0-9])?):\d{1,5}$/, 'a "host:port" pair such as "searxng:8080" or "127.0.0.1:8888"');

export const McpSchema = z.strictObject({
  /** Bearer token MCP clients present over HTTP (an Infisical secret name). */
  authTokenSecret: SecretNameSchema.default('MCP_AUTH_TOKEN'),
  /** Host names the HTTP endpoint answers to besides its service name and loopback (DNS-rebinding protection). */
  hostnames: z.array(HostnameSchema).default([]),
  /** Browser origins allowed to call it; requests that carry no Origin (desktop clients, the worker) pass. */
  origins: z.array(UrlSchema).default([]),
  search: z
    .strictObject({
      /** SearXNG base URL (its JSON API must be enabled: `search.formats: [json]`). Absent: the search tool says so. */
      searxngUrl: UrlSchema.optional(),
      timeoutSeconds: z.number().positive().max(60).default(10),
      maxResults: z.number().int().min(1).max(50).default(10),
    })
    .prefault({}),
  fetch: z
    .strictObject({
      /** Internal `host:port` pairs fetch may reach although they resolve to private addresses. */
      allowHosts: z.array(HostPortSchema).default([]),
      maxRedirects: z.number().int().min(0).max(10).default(5),
      /** Bytes read from one response before it is cut. */
      maxBytes: z.number().int().min(1024).max(50_000_000).default(5_000_000),
      timeoutSeconds: z.number().positive().max(120).default(20),
      /** Characters of markdown one fetch returns unless the caller asks for fewer. */
      defaultMaxLength: z.number().int().min(100).max(1_000_000).default(20_000),
    })
    .prefault({}),
  vault: z
    .strictObject({
      /** Folders (relative to the vault) vault_write may create and replace notes under. */
      writableFolders: z
        .array(
          z
            .string()
            .regex(
              /^(?!\.|_)[^/\\\0]+(\/[^/\\\0.][^/\\\0]*)*$/,
              'a relative folder such as "inbox" or "notes/research" (no "..", no leading "_" or ".")',
            ),
        )
        .default(['inbox', 'research']),
      maxReadBytes: z.number().int().min(1024).max(50_000_000).default(1_000_000),
      maxWriteBytes: z.number().int().min(1024).max(50_000_000).default(1_000_000),
    })
    .prefault({}),
  sandbox: z
    .strictObject({
      cpuSeconds: z.number().int().min(1).max(600).default(5),
      wallSeconds: z.number().positive().max(600).default(10),
      memoryMb: z.number().int().min(32).max(8192).default(256),
      maxProcesses: z.number().int().min(1).max(4096).default(32),
      maxOutputBytes: z.number().int().min(1024).max(10_000_000).default(65_536),
      /** Size of the private writable work dir. */
      diskMb: z.number().int().min(1).max(1024).default(16),
    })
    .prefault({}),
  research: z
    .strictObject({
      /** Model turns a research job may take (each may call tools). */
      maxSteps: z.number().int().min(1).max(100).default(8),
      timeoutSeconds: z.number().positive().max(7200).default(600),
      /** Input plus output tokens, over every turn. */
      maxTokens: z.number().int().min(1000).default(100_000),
    })
    .prefault({}),
});

// ---------------------------------------------------------------- platform

export const PlatformSchema = z.strictObject({
  name: NameSchema,
  env: NameSchema,
  domain: HostnameSchema,
  aws: AwsSchema,
  cloudflare: CloudflareSchema,
  infisical: InfisicalSchema,
  hosts: z.record(NameSchema, HostSchema),
  services: z.record(NameSchema, ServiceSchema),
  routing: RoutingSchema,
  observability: ObservabilitySchema,
  vault: VaultSchema,
  /** Jobs the worker enqueues on a clock, exactly once per slot. Key is the schedule name. */
  schedules: z.record(NameSchema, ScheduleSchema).default({}),
  /** The runtime's image: services with `runtime: true` run it (required when any does). */
  runtimeImage: RuntimeImageSchema.optional(),

  mcp: McpSchema.prefault({}),
  /** The NATS cluster behind `vault.queue.backend: jetstream`. */
  nats: NatsSchema.optional(),
  /** Hybrid retrieval over the vault; every field has a default. */
  retrieval: RetrievalSchema.prefault({}),
});

export type Platform = z.infer<typeof PlatformSchema>;
export type Mcp = z.infer<typeof McpSchema>;
export type Nats = z.infer<typeof NatsSchema>;
export type PlatformInput = z.input<typeof PlatformSchema>;
export type Host = z.infer<typeof HostSchema>;
export type HostService = z.infer<typeof HostServiceSchema>;
export type Service = z.infer<typeof ServiceSchema>;
export type Route = z.infer<typeof RouteSchema>;
export type PublicHostname = z.infer<typeof PublicHostnameSchema>;
export type FirewallRule = z.infer<typeof FirewallRuleSchema>;
export type Volume = z.infer<typeof VolumeSchema>;
export type VaultOwner = z.infer<typeof VaultOwnerSchema>;
export type RuntimeImage = z.infer<typeof RuntimeImageSchema>;
export type Bucket = z.infer<typeof BucketSchema>;
export type Identity = z.infer<typeof IdentitySchema>;
export type { ProviderKind } from '@platform/contract';
export type Schedule = z.infer<typeof ScheduleSchema>;
export type ScheduledJob = z.infer<typeof ScheduledJobSchema>;
