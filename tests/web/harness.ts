/*
 * A real `runtime web` for tests: the real Router, UsageStore, ChatStore and registry, with
 * every address on 127.0.0.1. The contabo Ollama is the protocol double (or a real Ollama);
 * davas points at a port nobody listens on, so it is down and its model greyed.
 *
 *   const h = await startWeb();                  // auth off
 *   const res = await h.app.inject({ method: 'GET', url: '/api/models' });
 *   await h.close();
 */
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { loadConfig, type RuntimeConfig } from '../../runtime/src/config/index.js';
import { memoryLogger } from '../../runtime/src/log.js';
import { Router } from '../../runtime/src/router/index.js';
import { UsageStore } from '../../runtime/src/store/usage.js';
import { createWebServer, type WebServer } from '../../runtime/src/web/server.js';
import { parseWebSettings, type WebSettingsInput } from '../../runtime/src/web/settings.js';
import { writeRuntimeConfig } from '../doubles/config.js';
import { startOllama, type OllamaChatScript, type OllamaDouble } from '../doubles/ollama.js';
import { tempDir } from '../helpers.js';

export const VAULT_FOLDERS = ['_queue', '_active', '_completed', '_failed', 'runner-outputs', 'skills'] as const;

/** A loopback port with nothing listening (bound, then released). */
export async function deadPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface WebHarness {
  server: WebServer;
  app: WebServer['app'];
  ollama: OllamaDouble | undefined;
  config: RuntimeConfig;
  router: Router;
  usage: UsageStore;
  log: ReturnType<typeof memoryLogger>;
  dir: string;
  vault: string;
  close(): Promise<void>;
}

export interface WebHarnessOptions {
  settings?: Partial<WebSettingsInput>;
  /** Use this Ollama URL for contabo instead of starting the double. */
  ollamaUrl?: string;
  chat?: OllamaChatScript;
  env?: Record<string, string>;
  /** davas' Ollama URL (default: a port nobody listens on). */
  davasUrl?: string;
  /** Wait for the first health round before returning (default true). */
  awaitHealth?: boolean;
}

export async function startWeb(o: WebHarnessOptions = {}): Promise<WebHarness> {
  const ollama = o.ollamaUrl ? undefined : await startOllama(o.chat ? { chat: o.chat } : {});
  const dead = `http://127.0.0.1:${await deadPort()}`;
  const dir = tempDir('web-test-');
  const vault = join(dir, 'vault');
  for (const f of VAULT_FOLDERS) mkdirSync(join(vault, f), { recursive: true });
  const file = writeRuntimeConfig(dir, {
    ollamaHosts: { contabo: o.ollamaUrl ?? ollama!.url, davas: o.davasUrl ?? dead },
    groq: dead,
    gemini: dead,
    anthropic: dead,
    healthIntervalMs: 60_000,
    healthTimeoutMs: 500,
    edit: (c) => {
      c.services = { mcpUrl: dead, ragUrl: dead, qdrantUrl: dead, neo4jUri: 'bolt://127.0.0.1:1' };
      c.telemetry.otlpEndpoint = dead;
      c.vault.worker = { ...c.vault.worker, mtimeGuardMs: 100, rescanMs: 200, graceMs: 1_000 };
    },
  });
  const config = loadConfig(
    { RUNTIME_CONFIG: file, DATA_DIR: join(dir, 'data'), VAULT_DIR: vault, OTEL_SDK_DISABLED: 'true', ...o.env },
    { cwd: dir },
  );
  const log = memoryLogger();
  const usage = new UsageStore(config.dataDir);
  const router = new Router({ config, log, usage });
  await router.start();
  const settings = parseWebSettings({ host: '127.0.0.1', port: 0, auth: { mode: 'off' }, healthTimeoutMs: 500, ...o.settings });
  const server = await createWebServer({ config, settings, log, router, usage });
  if (o.awaitHealth !== false) await server.health.refresh();
  return {
    server,
    app: server.app,
    ollama,
    config,
    router,
    usage,
    log,
    dir,
    vault,
    async close() {
      await server.close();
      await router.stop();
      usage.close();
      await ollama?.close();
    },
  };
}

/** Parses an SSE body into frames (comments kept as `{comment}`). */
export function sseFrames(body: string): ({ id?: string; event?: string; data?: string; retry?: string } | { comment: string })[] {
  const out: ({ id?: string; event?: string; data?: string; retry?: string } | { comment: string })[] = [];
  for (const block of body.split('\n\n')) {
    if (!block) continue;
    if (block.startsWith(':')) {
      out.push({ comment: block.slice(1).trim() });
      continue;
    }
    const f: Record<string, string> = {};
    for (const line of block.split('\n')) {
      const i = line.indexOf(':');
      f[line.slice(0, i)] = line.slice(i + 2);
    }
    out.push(f);
  }
  return out;
}
