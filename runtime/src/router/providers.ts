import { HOSTED_PROVIDERS, type HostedProvider, type RuntimeConfig, type RuntimeRoute } from '../config/index.js';
import { AnthropicProvider } from '../providers/anthropic.js';
import { OllamaProvider } from '../providers/ollama.js';
import { OpenAiCompatibleProvider } from '../providers/openai-compatible.js';
import type { LlmProvider } from '../providers/types.js';

/*
 * Provider construction from the runtime config: one Ollama client per host, one client per
 * hosted provider whose API key is set. A hosted provider without its key stays in the table
 * with the reason, so the router can say why a model is unavailable.
 */

export interface HostedEntry {
  provider: LlmProvider | undefined;
  /** Why it is absent, e.g. "GROQ_API_KEY is not set". */
  missing?: string;
  retries: number;
  maxRetryWaitMs: number;
}

export interface ProviderTable {
  readonly ollama: ReadonlyMap<string, OllamaProvider>;
  readonly hosted: ReadonlyMap<HostedProvider, HostedEntry>;
}

export function buildProviders(config: RuntimeConfig): ProviderTable {
  const ollama = new Map<string, OllamaProvider>();
  for (const [host, url] of Object.entries(config.ollamaHosts)) ollama.set(host, new OllamaProvider({ host, baseUrl: url }));
  const hosted = new Map<HostedProvider, HostedEntry>();
  for (const kind of HOSTED_PROVIDERS) {
    const p = config.providers[kind];
    const key = config.secrets.providers[kind];
    const entry: HostedEntry = { provider: undefined, retries: p.rateLimitRetries, maxRetryWaitMs: p.maxRetryWaitMs };
    if (!key) entry.missing = `${p.apiKeySecret} is not set`;
    else if (kind === 'anthropic') {
      entry.provider = new AnthropicProvider({
        baseUrl: p.baseUrl,
        apiKey: key,
        apiKeySecret: p.apiKeySecret,
        defaultMaxTokens: config.providers.anthropic.defaultMaxTokens,
      });
    } else entry.provider = new OpenAiCompatibleProvider({ kind, baseUrl: p.baseUrl, apiKey: key, apiKeySecret: p.apiKeySecret });
    hosted.set(kind, entry);
  }
  return { ollama, hosted };
}

/** The client a route calls, if it has one. */
export function providerFor(table: ProviderTable, r: RuntimeRoute): LlmProvider | undefined {
  return r.provider === 'ollama' ? (r.host ? table.ollama.get(r.host) : undefined) : table.hosted.get(r.provider)?.provider;
}
