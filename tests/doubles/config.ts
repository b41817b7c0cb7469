/*
 * The one runtime-config builder for tests: the committed runtime.json with URLs pointed at the
 * doubles, and for worker tests the vault, data dir and worker timings at a temp vault, read
 * through loadConfig like the service does.
 *
 *   const file = writeRuntimeConfig(dir, { ollamaHosts: { contabo: ollama.url, davas: davas.url }, groq: groq.url });
 *   const config = loadConfig({ RUNTIME_CONFIG: file, GROQ_API_KEY: 'k' }, { cwd: dir });
 *   const config = await testConfig({ root, vault, dataDir, ollamaUrl: ollama.url, worker: { graceMs: 300 } });
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RuntimeConfigFile } from '@platform/contract';
import { loadConfig, type RuntimeConfig } from '../../runtime/src/config/index.js';

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
  // The worker's status port (/metrics, /healthz): a free one chosen at bind, so workers of tests
  // running side by side never collide on the model's fixed port.
  c.ports.metrics = 0;
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

export interface TestConfigOptions {
  root: string;
  vault: string;
  dataDir: string;
  ollamaUrl: string;
  worker?: Partial<RuntimeConfigFile['vault']['worker']> & Record<string, unknown>;
}

/**
 * A worker test's runtime.json in `root`, with the environment that points it at the temp vault
 * and every Ollama host at one double (as OLLAMA_URL_<HOST>, like a deployment overrides them).
 */
export async function writeTestConfig(o: TestConfigOptions): Promise<{ path: string; env: Record<string, string> }> {
  const file = runtimeConfigFor({
    edit: (c) => {
      c.vault.worker = { ...c.vault.worker, concurrency: 2, mtimeGuardMs: 200, rescanMs: 500, graceMs: 1_000, ...o.worker };
    },
  });
  const path = join(o.root, 'runtime.json');
  writeFileSync(path, JSON.stringify(file, null, 2));
  const env: Record<string, string> = {
    RUNTIME_CONFIG: path,
    DATA_DIR: o.dataDir,
    VAULT_DIR: o.vault,
    OTEL_SDK_DISABLED: 'true',
    // Loopback only: the worker's status port binds here, not on every interface.
    WORKER_LISTEN_HOST: '127.0.0.1',
  };
  for (const host of Object.keys(file.ollamaHosts)) env[`OLLAMA_URL_${host.toUpperCase().replace(/-/g, '_')}`] = o.ollamaUrl;
  return { path, env };
}

export async function testConfig(o: TestConfigOptions): Promise<RuntimeConfig> {
  const { env } = await writeTestConfig(o);
  return loadConfig(env);
}
