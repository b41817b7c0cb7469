/*
 * `runtime web` with every provider behind a double, for the /v1 tests and the bench: contabo
 * Ollama, Anthropic, Groq and Gemini (OpenAI-compatible) on 127.0.0.1, davas on a dead port (so
 * its model is unavailable), Access auth on (a dead JWKS) so only API tokens get in.
 *
 *   const h = await startOpenAiWeb(); const url = await h.server.listen();
 *   const { token } = h.server.tokens.create('editor', 'write');
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../runtime/src/config/index.js';
import { memoryLogger } from '../../runtime/src/log.js';
import { Router } from '../../runtime/src/router/index.js';
import { UsageStore } from '../../runtime/src/store/usage.js';
import { createWebServer, type WebServer } from '../../runtime/src/web/server.js';
import { parseWebSettings, type WebSettingsInput } from '../../runtime/src/web/settings.js';
import { startAnthropic, type AnthropicDouble } from '../doubles/anthropic.js';
import { writeRuntimeConfig } from '../doubles/config.js';
import { startOllama, type OllamaDouble } from '../doubles/ollama.js';
import { startOpenAi, type OpenAiDouble } from '../doubles/openai.js';
import { tempDir } from '../helpers.js';
import { deadPort, VAULT_FOLDERS } from './harness.js';

export interface OpenAiWebHarness {
  server: WebServer;
  app: WebServer['app'];
  router: Router;
  usage: UsageStore;
  ollama: OllamaDouble;
  anthropic: AnthropicDouble;
  groq: OpenAiDouble;
  gemini: OpenAiDouble;
  close(): Promise<void>;
}

export async function startOpenAiWeb(o: { settings?: Partial<WebSettingsInput> } = {}): Promise<OpenAiWebHarness> {
  const [ollama, anthropic, groq, gemini] = await Promise.all([
    startOllama(),
    startAnthropic(),
    startOpenAi({ basePath: '/openai/v1' }),
    startOpenAi({ basePath: '/v1beta/openai' }),
  ]);
  const dead = `http://127.0.0.1:${await deadPort()}`;
  const dir = tempDir('web-openai-');
  const vault = join(dir, 'vault');
  for (const f of VAULT_FOLDERS) mkdirSync(join(vault, f), { recursive: true });
  const file = writeRuntimeConfig(dir, {
    ollamaHosts: { contabo: ollama.url, davas: dead },
    groq: groq.url,
    gemini: gemini.url,
    anthropic: anthropic.url,
    rateLimitRetries: 0,
    healthIntervalMs: 60_000,
    healthTimeoutMs: 500,
    edit: (c) => {
      c.services = { mcpUrl: dead, ragUrl: dead, qdrantUrl: dead, neo4jUri: 'bolt://127.0.0.1:1' };
      c.telemetry.otlpEndpoint = dead;
    },
  });
  const config = loadConfig(
    {
      RUNTIME_CONFIG: file,
      DATA_DIR: join(dir, 'data'),
      VAULT_DIR: vault,
      OTEL_SDK_DISABLED: 'true',
      GROQ_API_KEY: 'groq-key',
      GEMINI_API_KEY: 'gemini-key',
      ANTHROPIC_API_KEY: 'anthropic-key',
    },
    { cwd: dir },
  );
  const log = memoryLogger();
  const usage = new UsageStore(config.dataDir);
  const router = new Router({ config, log, usage });
  await router.start();
  const settings = parseWebSettings({
    host: '127.0.0.1',
    port: 0,
    auth: {
      mode: 'access',
      teamDomain: 'example.cloudflareaccess.com',
      aud: 'aud',
      jwksUrl: `${dead}/cdn-cgi/access/certs`,
      jwksCooldownMs: 0,
    },
    healthTimeoutMs: 500,
    limits: { ratePerMinute: 100_000 },
    ...o.settings,
  });
  const server = await createWebServer({ config, settings, log, router, usage });
  return {
    server,
    app: server.app,
    router,
    usage,
    ollama,
    anthropic,
    groq,
    gemini,
    async close() {
      await server.close();
      await router.stop();
      usage.close();
      await Promise.all([ollama.close(), anthropic.close(), groq.close(), gemini.close()]);
    },
  };
}
