/*
 * A runtime.json for tests, from the committed one, with URLs pointed at the doubles.
 *
 *   const file = writeRuntimeConfig(dir, { ollamaHosts: { contabo: ollama.url, davas: davas.url }, groq: groq.url });
 *   const config = loadConfig({ RUNTIME_CONFIG: file, GROQ_API_KEY: 'k' }, { cwd: dir });
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RuntimeConfigFile } from '@platform/contract';

export const COMMITTED_RUNTIME_JSON = resolve(import.meta.dirname, '../../generated/runtime/runtime.json');

export function baseRuntimeConfig(): RuntimeConfigFile {
  return JSON.parse(readFileSync(COMMITTED_RUNTIME_JSON, 'utf8')) as RuntimeConfigFile;
}

export interface DoubleUrls {
  ollamaHosts?: Record<string, string>;
  groq?: string;
  gemini?: string;
  anthropic?: string;
  /** Applied to every hosted provider. */
  rateLimitRetries?: number;
  maxRetryWaitMs?: number;
  healthIntervalMs?: number;
  healthTimeoutMs?: number;
  edit?: (c: RuntimeConfigFile) => void;
}

export function runtimeConfigFor(urls: DoubleUrls): RuntimeConfigFile {
  const c = baseRuntimeConfig();
  if (urls.ollamaHosts) c.ollamaHosts = { ...c.ollamaHosts, ...urls.ollamaHosts };
  for (const p of ['groq', 'gemini', 'anthropic'] as const) {
    const url = urls[p];
    if (url) c.providers[p].baseUrl = url;
    if (urls.rateLimitRetries !== undefined) c.providers[p].rateLimitRetries = urls.rateLimitRetries;
    if (urls.maxRetryWaitMs !== undefined) c.providers[p].maxRetryWaitMs = urls.maxRetryWaitMs;
  }
  if (urls.healthIntervalMs !== undefined) c.routing.health.intervalMs = urls.healthIntervalMs;
  if (urls.healthTimeoutMs !== undefined) c.routing.health.timeoutMs = urls.healthTimeoutMs;
  urls.edit?.(c);
  return c;
}

/** Writes `runtime.json` into `dir` and returns its path. */
export function writeRuntimeConfig(dir: string, urls: DoubleUrls = {}): string {
  const file = join(dir, 'runtime.json');
  writeFileSync(file, `${JSON.stringify(runtimeConfigFor(urls), null, 2)}\n`);
  return file;
}
