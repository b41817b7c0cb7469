import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, ollamaUrlVar } from '../../runtime/src/config/index.js';
import { RuntimeError } from '../../runtime/src/errors.js';
import { COMMITTED_RUNTIME_JSON, writeRuntimeConfig } from '../doubles/config.js';
import { tempDir } from '../helpers.js';

function configError(fn: () => unknown): RuntimeError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RuntimeError);
    return e as RuntimeError;
  }
  throw new RuntimeError('INTERNAL', 'expected CONFIG_INVALID');
}

describe('loadConfig', () => {
  it('reads the committed runtime.json with the defaults', () => {
    const cwd = tempDir('config-');
    const c = loadConfig({ RUNTIME_CONFIG: COMMITTED_RUNTIME_JSON }, { cwd });
    expect(c.configPath).toBe(COMMITTED_RUNTIME_JSON);
    expect(c.dataDir).toBe(join(cwd, '.data'));
    expect(c.logLevel).toBe('info');
    expect(c.vault.path).toBe('/vault');
    expect(c.ollamaHosts.davas).toBe('http://100.101.40.1:11434');
    expect(c.secrets.providers).toEqual({ groq: undefined, gemini: undefined, anthropic: undefined });
    expect(c.secrets.discordWebhookUrl).toBeUndefined();
    // Missing provider keys are not fatal: they are reported as warnings.
    expect(c.warnings).toEqual([
      'GROQ_API_KEY is not set: groq models are unavailable until it is',
      'GEMINI_API_KEY is not set: gemini models are unavailable until it is',
      'ANTHROPIC_API_KEY is not set: anthropic models are unavailable until it is',
      'DISCORD_WEBHOOK_URL is not set: Discord notices are off',
    ]);
    expect(c.telemetryEnabled).toBe(true);
    expect(Object.isFrozen(c) && Object.isFrozen(c.routing.models[0])).toBe(true);
  });

  it('defaults RUNTIME_CONFIG to generated/runtime/runtime.json under the working directory', () => {
    const c = loadConfig({}, { cwd: join(COMMITTED_RUNTIME_JSON, '../../..') });
    expect(c.configPath).toBe(COMMITTED_RUNTIME_JSON);
  });

  it('applies every override and reads secrets by the names the config gives', () => {
    const dir = tempDir('config-');
    const file = writeRuntimeConfig(dir, {
      edit: (c) => {
        c.ollamaHosts['gpu-box'] = 'http://gpu-box:11434';
        c.providers.groq.apiKeySecret = 'MY_GROQ_KEY';
        c.notify.discordWebhookSecret = 'OPS_HOOK';
      },
    });
    const c = loadConfig(
      {
        RUNTIME_CONFIG: file,
        VAULT_DIR: 'vault',
        DATA_DIR: '/tmp/runtime-data',
        OLLAMA_URL_DAVAS: 'http://127.0.0.1:9/',
        OLLAMA_URL_GPU_BOX: 'http://10.0.0.5:11434',
        LOG_LEVEL: 'debug',
        MY_GROQ_KEY: 'gsk_1',
        GROQ_API_KEY: 'ignored',
        GEMINI_API_KEY: 'gm_1',
        ANTHROPIC_API_KEY: 'sk_1',
        OPS_HOOK: 'https://discord.com/api/webhooks/1/abc',
      },
      { cwd: dir },
    );
    expect(c.vault.path).toBe(join(dir, 'vault'));
    expect(c.vault.folders.queue).toBe('_queue');
    expect(c.dataDir).toBe('/tmp/runtime-data');
    expect(c.ollamaHosts).toEqual({
      contabo: 'http://host.docker.internal:11434',
      davas: 'http://127.0.0.1:9',
      'gpu-box': 'http://10.0.0.5:11434',
    });
    expect(c.logLevel).toBe('debug');
    expect(c.secrets.providers).toEqual({ groq: 'gsk_1', gemini: 'gm_1', anthropic: 'sk_1' });
    expect(c.secrets.discordWebhookUrl).toBe('https://discord.com/api/webhooks/1/abc');
    expect(c.warnings).toEqual([]);
  });

  it('names the OLLAMA_URL variable by upper-casing the host and turning dashes into underscores', () => {
    expect(ollamaUrlVar('davas')).toBe('OLLAMA_URL_DAVAS');
    expect(ollamaUrlVar('prod-services')).toBe('OLLAMA_URL_PROD_SERVICES');
  });

  it("turns telemetry off with OTEL_SDK_DISABLED or the caller's option, and on otherwise", () => {
    const base = { RUNTIME_CONFIG: COMMITTED_RUNTIME_JSON };
    expect(loadConfig({ ...base, OTEL_SDK_DISABLED: 'true' }).telemetryEnabled).toBe(false);
    expect(loadConfig(base, { telemetry: false }).telemetryEnabled).toBe(false);
    // Only what the caller passes decides: a test runner's variables do not.
    expect(loadConfig({ ...base, VITEST: 'true', NODE_ENV: 'test' }).telemetryEnabled).toBe(true);
    expect(loadConfig(base).telemetryEnabled).toBe(true);
  });

  it('reports every problem in one CONFIG_INVALID error', () => {
    const dir = tempDir('config-');
    const file = writeRuntimeConfig(dir, {
      edit: (c) => {
        (c.ports as Record<string, unknown>).web = 'eight thousand';
        c.routing.default = 'no-such-model';
        (c as Record<string, unknown>).extra = true;
      },
    });
    const err = configError(() =>
      loadConfig({
        RUNTIME_CONFIG: file,
        LOG_LEVEL: 'loud',
        OLLAMA_URL_DAVAS: 'not a url',
        OLLAMA_URL_NOWHERE: 'http://x:1',
        DISCORD_WEBHOOK_URL: 'discord',
      }),
    );
    expect(err.code).toBe('CONFIG_INVALID');
    const lines = err.message.split('\n');
    expect(lines[0]).toBe('runtime configuration is invalid (6 problems):');
    expect(err.message).toContain(`${file} ports.web: Invalid input: expected number, received string`);
    expect(err.message).toContain('(top level): Unrecognized key: "extra"');
    expect(err.message).toContain('LOG_LEVEL: "loud" is not one of debug, info, warn, error');
    expect(err.message).toContain('OLLAMA_URL_DAVAS: "not a url" is not an http(s) URL');
    expect(err.message).toContain('OLLAMA_URL_NOWHERE: names no host in ollamaHosts (known: OLLAMA_URL_CONTABO, OLLAMA_URL_DAVAS)');
    expect(err.message).toContain('DISCORD_WEBHOOK_URL: is set but is not an http(s) URL');
    expect(err.hint).toContain('a missing provider API key is not an error');
  });

  it('reports cross-reference problems and a bad webhook together', () => {
    const dir = tempDir('config-');
    const file = writeRuntimeConfig(dir, { edit: (c) => (c.routing.default = 'no-such-model') });
    const err = configError(() => loadConfig({ RUNTIME_CONFIG: file, DISCORD_WEBHOOK_URL: 'discord', LOG_LEVEL: 'verbose' }));
    expect(err.message).toContain('routing.default: "no-such-model" is not a model in routing.models');
    expect(err.message).toContain('DISCORD_WEBHOOK_URL: is set but is not an http(s) URL');
    expect(err.message).toContain('LOG_LEVEL');
    expect(err.message).toContain('(3 problems)');
  });

  it('reports a missing file with how to make it', () => {
    const err = configError(() => loadConfig({ RUNTIME_CONFIG: '/nonexistent/runtime.json' }));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('RUNTIME_CONFIG: cannot read /nonexistent/runtime.json: file not found (run `make render`');
  });
});
