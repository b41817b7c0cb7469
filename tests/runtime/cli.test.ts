import { spawn } from 'node:child_process';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageStore } from '../../runtime/src/store/usage.js';
import { writeRuntimeConfig } from '../doubles/config.js';
import { startDiscord, type DiscordDouble } from '../doubles/discord.js';
import { startHttp, type HttpDouble } from '../doubles/http.js';
import { startOllama, type OllamaDouble } from '../doubles/ollama.js';
import { ROOT, tempDir } from '../helpers.js';
import { waitFor } from '../helpers/wait.js';

const BIN = resolve(ROOT, 'runtime/bin/runtime.js');
const HEALTHCHECK = resolve(ROOT, 'runtime/bin/healthcheck.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(
  script: string,
  args: string[],
  env: Record<string, string> = {},
  opts: { until?: (out: string) => boolean; cwd?: string } = {},
): Promise<Run> & { kill: () => void } {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const p = new Promise<Run>((res) => child.on('close', (code) => res({ code, stdout, stderr })));
  return Object.assign(p, { kill: () => child.kill('SIGTERM') });
}

describe('runtime CLI', () => {
  it('prints usage and exits 2 without a service or with an unknown one', async () => {
    const none = await run(BIN, []);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('usage: runtime <service>');
    const bogus = await run(BIN, ['bogus']);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toMatch(/^runtime: unknown service "bogus"\n\nusage: runtime <service>/);
  });

  it('exits 1 listing every configuration problem', async () => {
    const r = await run(BIN, ['worker'], { RUNTIME_CONFIG: '/nonexistent.json', LOG_LEVEL: 'loud' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('runtime: CONFIG_INVALID: runtime configuration is invalid (2 problems):');
    expect(r.stderr).toContain('LOG_LEVEL: "loud"');
    expect(r.stderr).toContain('hint: ');
  });

  describe('worker', () => {
    let contabo: OllamaDouble;
    let davas: OllamaDouble;
    let discord: DiscordDouble;
    beforeAll(async () => {
      [contabo, davas, discord] = await Promise.all([startOllama(), startOllama(), startDiscord()]);
    });
    afterAll(async () => {
      await Promise.all([contabo.close(), davas.close(), discord.close()]);
    });

    it('runs a queued job end to end, records usage, notifies Discord and stops on SIGTERM', async () => {
      const dir = tempDir('cli-worker-');
      const vault = join(dir, 'vault');
      mkdirSync(join(vault, '_queue'), { recursive: true });
      const file = writeRuntimeConfig(dir, {
        edit: (c) => {
          c.vault.worker.mtimeGuardMs = 0;
          c.vault.worker.rescanMs = 200;
          c.vault.worker.graceMs = 2000;
        },
      });
      const child = run(BIN, ['worker'], {
        RUNTIME_CONFIG: file,
        VAULT_DIR: vault,
        DATA_DIR: join(dir, 'data'),
        OLLAMA_URL_CONTABO: contabo.url,
        OLLAMA_URL_DAVAS: davas.url,
        DISCORD_WEBHOOK_URL: discord.webhookUrl,
        OTEL_SDK_DISABLED: 'true',
        WORKER_LISTEN_HOST: '127.0.0.1',
      });
      const job = join(vault, '_queue', 'hello.md');
      writeFileSync(job, '---\nmodel: qwen2.5:14b\n---\nSay hello.\n');
      const old = new Date(Date.now() - 10_000);
      utimesSync(job, old, old);
      await waitFor(() => discord.accepted.length > 0, 'a Discord notice', 20_000);
      const embed = discord.accepted[0]!.embeds[0]!;
      expect(embed.title).toBe('Job completed: hello.md');
      expect(embed.fields).toContainEqual({ name: 'Model', value: 'qwen2.5:14b', inline: true });
      expect(embed.fields).toContainEqual({ name: 'Tokens', value: '12 in / 3 out', inline: true });
      child.kill();
      const r = await child;
      expect(r.code).toBe(0);
      const lines = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { msg: string; level: string });
      expect(lines.some((l) => l.msg === 'worker started')).toBe(true);
      expect(lines.some((l) => l.msg === 'GROQ_API_KEY is not set: groq models are unavailable until it is' && l.level === 'warn')).toBe(
        true,
      );
      const usage = new UsageStore(join(dir, 'data'));
      expect(usage.recent(5)).toMatchObject([
        { provider: 'ollama', model: 'qwen2.5:14b', inputTokens: 12, outputTokens: 3, outcome: 'ok' },
      ]);
      usage.close();
    });
  });
});

describe('healthcheck.js', () => {
  let srv: HttpDouble;
  beforeAll(async () => {
    srv = await startHttp((req, res) => {
      res.writeHead(req.url === '/healthz' ? 200 : 503).end('x');
    });
  });
  afterAll(() => srv.close());

  it('exits 0 on 2xx and 1 otherwise', async () => {
    expect((await run(HEALTHCHECK, [`${srv.url}/healthz`])).code).toBe(0);
    const bad = await run(HEALTHCHECK, [`${srv.url}/other`]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('answered HTTP 503');
    const closed = await startHttp(() => undefined);
    const url = closed.url;
    await closed.close();
    const down = await run(HEALTHCHECK, [`${url}/healthz`, '1000']);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('ECONNREFUSED');
    expect((await run(HEALTHCHECK, [])).code).toBe(2);
  });
});
