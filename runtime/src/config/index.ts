import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { HOSTED_PROVIDERS, RuntimeConfigSchema, type HostedProvider, type RuntimeConfigFile, type RuntimeRoute } from '@platform/contract';
import { RuntimeError } from '../errors.js';
import { LOG_LEVELS, type LogLevel } from '../log.js';

/*
 * Start-up configuration: `runtime.json` (the runtime's slice of the model) plus the environment.
 * This is the only module that reads environment variables; the CLI passes `process.env` in.
 * Every problem is collected and reported in one CONFIG_INVALID error.
 */

export type Env = Record<string, string | undefined>;
export { HOSTED_PROVIDERS, type HostedProvider, type RuntimeConfigFile, type RuntimeRoute };

export interface RuntimeConfig extends RuntimeConfigFile {
  /** Absolute path of the runtime.json that was read. */
  readonly configPath: string;
  /** Where SQLite databases live (`DATA_DIR`, default `./.data`), absolute. */
  readonly dataDir: string;
  readonly logLevel: LogLevel;
  /** Secret values read from the environment by the names the config gives. */
  readonly secrets: {
    readonly providers: Readonly<Record<HostedProvider, string | undefined>>;
    readonly discordWebhookUrl: string | undefined;
    /** The MCP bearer token (`mcp.authTokenSecret`): the server checks it, research jobs present it. */
    readonly mcpAuthToken: string | undefined;
    /** The Access application's audience tag (`webAccess.audienceSecret`), written to Infisical by the edge stack. */
    readonly accessAudience: string | undefined;
    /** Retrieval stores' credentials, by the names retrieval.stores gives. */
    readonly rag: { readonly neo4jPassword: string | undefined; readonly qdrantApiKey: string | undefined };
    /** NATS passwords (queue.jetstream gateway/worker passwordSecret), for the jetstream queue backend. */
    readonly nats: { readonly gatewayPassword: string | undefined; readonly workerPassword: string | undefined };
  };
  /** Settings that are missing but only disable a feature, in words (e.g. "GROQ_API_KEY is not set"). */
  readonly warnings: readonly string[];
  readonly telemetryEnabled: boolean;
}

const DEFAULT_CONFIG_PATH = 'generated/runtime/runtime.json';
const DEFAULT_DATA_DIR = './.data';

/** `OLLAMA_URL_<HOST>`: host upper-cased, dashes to underscores. */
export function ollamaUrlVar(host: string): string {
  return `OLLAMA_URL_${host.toUpperCase().replace(/-/g, '_')}`;
}

function isHttpUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

function formatIssuePath(path: readonly PropertyKey[]): string {
  return (
    path
      .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
      .join('')
      .replace(/^\./, '') || '(top level)'
  );
}

export interface LoadConfigOptions {
  /** Base for relative paths; defaults to the process's working directory. */
  cwd?: string;
  /** Turns OpenTelemetry export on or off whatever the environment says; by default it is on
   *  unless OTEL_SDK_DISABLED=true. */
  telemetry?: boolean;
}

export function loadConfig(env: Env, opts: LoadConfigOptions = {}): RuntimeConfig {
  const cwd = opts.cwd ?? process.cwd();
  const problems: string[] = [];
  const warnings: string[] = [];
  const configPath = resolve(cwd, env.RUNTIME_CONFIG || DEFAULT_CONFIG_PATH);

  let file: RuntimeConfigFile | undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(configPath, 'utf8'));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message;
    problems.push(`RUNTIME_CONFIG: cannot read ${configPath}: ${why} (run \`make render\` or point RUNTIME_CONFIG at runtime.json)`);
  }
  if (raw !== undefined) {
    const parsed = RuntimeConfigSchema.safeParse(raw);
    if (parsed.success) file = parsed.data;
    else for (const issue of parsed.error.issues) problems.push(`${configPath} ${formatIssuePath(issue.path)}: ${issue.message}`);
  }

  let logLevel: LogLevel = 'info';
  if (env.LOG_LEVEL) {
    if ((LOG_LEVELS as string[]).includes(env.LOG_LEVEL)) logLevel = env.LOG_LEVEL as LogLevel;
    else problems.push(`LOG_LEVEL: "${env.LOG_LEVEL}" is not one of ${LOG_LEVELS.join(', ')}`);
  }

  const dataDir = resolve(cwd, env.DATA_DIR || DEFAULT_DATA_DIR);

  // OLLAMA_URL_* naming a host the config does not know is a typo worth stopping for.
  // When the file fails validation its readable parts still drive the environment checks, so
  // one run reports every problem.
  const rawObj = (raw !== null && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const rawHosts =
    rawObj.ollamaHosts !== null && typeof rawObj.ollamaHosts === 'object' ? (rawObj.ollamaHosts as Record<string, string>) : undefined;
  const ollamaHosts: Record<string, string> = { ...(file?.ollamaHosts ?? rawHosts ?? {}) };
  const knowHosts = file !== undefined || rawHosts !== undefined;
  const varToHost = new Map(Object.keys(ollamaHosts).map((h) => [ollamaUrlVar(h), h]));
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('OLLAMA_URL_') || value === undefined || value === '') continue;
    const host = varToHost.get(name);
    if (knowHosts && host === undefined) {
      problems.push(`${name}: names no host in ollamaHosts (known: ${[...varToHost.keys()].join(', ') || 'none'})`);
      continue;
    }
    if (!isHttpUrl(value)) {
      problems.push(`${name}: "${value}" is not an http(s) URL`);
      continue;
    }
    if (host !== undefined) ollamaHosts[host] = value.replace(/\/+$/, '');
  }

  const providerKeys = Object.fromEntries(HOSTED_PROVIDERS.map((p) => [p, undefined])) as Record<HostedProvider, string | undefined>;
  let discordWebhookUrl: string | undefined;
  if (file) {
    for (const route of file.routing.models) {
      if (route.provider === 'ollama') {
        if (!route.host) problems.push(`routing.models[${route.id}].host: an ollama route needs a host`);
        else if (!(route.host in ollamaHosts))
          problems.push(`routing.models[${route.id}].host: "${route.host}" is not in ollamaHosts (${Object.keys(ollamaHosts).join(', ')})`);
      }
    }
    if (!file.routing.models.some((m) => m.id === file!.routing.default)) {
      problems.push(`routing.default: "${file.routing.default}" is not a model in routing.models`);
    }
    if (!(file.routing.embedding.host in ollamaHosts)) {
      problems.push(`routing.embedding.host: "${file.routing.embedding.host}" is not in ollamaHosts`);
    }
    // A hosted provider's key is optional: without it that provider's models are unavailable.
    for (const p of HOSTED_PROVIDERS) {
      const secret = file.providers[p].apiKeySecret;
      const value = env[secret];
      if (value) providerKeys[p] = value;
      else if (file.routing.models.some((m) => m.provider === p)) {
        warnings.push(`${secret} is not set: ${p} models are unavailable until it is`);
      }
    }
  }
  const rawNotify = rawObj.notify as { discordWebhookSecret?: unknown } | undefined;
  const hookVar =
    file?.notify.discordWebhookSecret ?? (typeof rawNotify?.discordWebhookSecret === 'string' ? rawNotify.discordWebhookSecret : undefined);
  if (hookVar !== undefined) {
    const hook = env[hookVar];
    if (hook) {
      if (isHttpUrl(hook)) discordWebhookUrl = hook;
      else problems.push(`${hookVar}: is set but is not an http(s) URL`);
    } else {
      warnings.push(`${hookVar} is not set: Discord notices are off`);
    }
  }

  if (problems.length > 0 || !file) {
    throw new RuntimeError(
      'CONFIG_INVALID',
      `runtime configuration is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      {
        hint: "fix the settings listed; a missing provider API key is not an error (it only makes that provider's models unavailable)",
      },
    );
  }

  const js = file.queue.backend === 'jetstream' ? file.queue.jetstream : undefined;
  const vaultPath = env.VAULT_DIR ? resolve(cwd, env.VAULT_DIR) : file.vault.path;
  const otlp = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const telemetryEnabled = opts.telemetry ?? env.OTEL_SDK_DISABLED !== 'true';

  return deepFreeze({
    ...file,
    ollamaHosts,
    vault: { ...file.vault, path: vaultPath },
    telemetry: { ...file.telemetry, otlpEndpoint: otlp && isHttpUrl(otlp) ? otlp : file.telemetry.otlpEndpoint },
    configPath,
    dataDir,
    logLevel,
    secrets: {
      providers: providerKeys,
      discordWebhookUrl,
      mcpAuthToken: env[file.mcp.authTokenSecret] || undefined,
      accessAudience: file.webAccess ? env[file.webAccess.audienceSecret] || undefined : undefined,
      rag: {
        neo4jPassword: env[file.retrieval.stores.neo4jPasswordSecret] || undefined,
        qdrantApiKey: file.retrieval.stores.qdrantApiKeySecret ? env[file.retrieval.stores.qdrantApiKeySecret] || undefined : undefined,
      },
      nats: {
        gatewayPassword: js ? env[js.gateway.passwordSecret] || undefined : undefined,
        workerPassword: js ? env[js.worker.passwordSecret] || undefined : undefined,
      },
    },
    warnings,
    telemetryEnabled,
  });
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
