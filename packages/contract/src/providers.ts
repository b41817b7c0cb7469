import { z } from 'zod';

/*
 * The LLM providers the platform routes to. The model's routing table, the runtime slice and the
 * runtime's router all take the list from here, so a new provider is added in one place.
 */

export const PROVIDER_KINDS = ['ollama', 'groq', 'gemini', 'anthropic'] as const;
export const ProviderKindSchema = z.enum(PROVIDER_KINDS);
export type ProviderKind = (typeof PROVIDER_KINDS)[number];

/** Providers reached over the internet with an API key; Ollama runs on the platform's own hosts. */
export const HOSTED_PROVIDERS = ['groq', 'gemini', 'anthropic'] as const satisfies readonly ProviderKind[];
export type HostedProvider = (typeof HOSTED_PROVIDERS)[number];

export function isHostedProvider(kind: ProviderKind): kind is HostedProvider {
  return (HOSTED_PROVIDERS as readonly string[]).includes(kind);
}
