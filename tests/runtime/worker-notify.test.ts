import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { jobNotifier } from '../../runtime/src/cli.js';
import { loadConfig } from '../../runtime/src/config/index.js';
import { memoryLogger } from '../../runtime/src/log.js';
import { DiscordNotifier } from '../../runtime/src/notify/discord.js';
import { Router } from '../../runtime/src/router/index.js';
import { UsageStore } from '../../runtime/src/store/usage.js';
import { createWorker, type Worker } from '../../runtime/src/worker/index.js';
import { writeRuntimeConfig } from '../doubles/config.js';
import { startDiscord, type DiscordDouble } from '../doubles/discord.js';
import { startOllama, type OllamaDouble } from '../doubles/ollama.js';
import { rateLimited, startOpenAi, type OpenAiDouble } from '../doubles/openai.js';
import { makeVault, waitFor, type TempVault, frontmatterOf } from './helpers/vault.js';

/*
 * The worker wired as `runtime worker` wires it (router, Discord notifier, usage store), against
 * the shared protocol doubles: Ollama, Groq (OpenAI-compatible) and a Discord webhook.
 */

let v: TempVault;
let ollama: OllamaDouble;
let groq: OpenAiDouble;
let discord: DiscordDouble;
let worker: Worker | undefined;
let notifier: DiscordNotifier;
let usage: UsageStore;

beforeEach(async () => {
  v = await makeVault();
  [ollama, groq, discord] = await Promise.all([startOllama(), startOpenAi({ basePath: '/openai/v1' }), startDiscord()]);
  const file = writeRuntimeConfig(v.root, {
    ollamaHosts: { contabo: ollama.url, davas: ollama.url },
    groq: groq.url,
    rateLimitRetries: 2,
    maxRetryWaitMs: 5_000,
    edit: (c) => {
      c.vault.worker = { ...c.vault.worker, concurrency: 2, mtimeGuardMs: 100, rescanMs: 500, graceMs: 1_000 };
    },
  });
  const config = loadConfig({
    RUNTIME_CONFIG: file,
    DATA_DIR: v.dataDir,
    VAULT_DIR: v.vault,
    GROQ_API_KEY: 'test-key',
    DISCORD_WEBHOOK_URL: discord.webhookUrl,
    OTEL_SDK_DISABLED: 'true',
  });
  const log = memoryLogger();
  notifier = new DiscordNotifier({ webhookUrl: config.secrets.discordWebhookUrl, log });
  usage = new UsageStore(config.dataDir);
  const router = new Router({ config, log, usage });
  worker = createWorker({ config, router, notifier: jobNotifier(notifier), log });
  await worker.start();
});

afterEach(async () => {
  await worker?.stop();
  await notifier.close();
  usage.close();
  await Promise.all([ollama.close(), groq.close(), discord.close()]);
  await v.cleanup();
});

describe('worker with the Discord notifier', () => {
  it('posts a success embed with the output, and records usage with the job id', async () => {
    ollama.chat.enqueue({ chunks: ['Forty', '-two.'], promptEvalCount: 7, evalCount: 2 });
    await v.drop('answer.md', '---\nid: JOB-A\n---\nWhat is the answer?');
    const [post] = await discord.waitForPosts(1);
    const embed = post!.embeds[0]!;
    expect(embed.title).toBe('Job completed: answer.md');
    const fields = Object.fromEntries((embed.fields ?? []).map((f) => [f.name, f.value]));
    expect(fields).toMatchObject({ Job: 'answer.md', Model: 'qwen2.5:14b', Tokens: '7 in / 2 out' });
    expect(fields.Output).toMatch(/^runner-outputs\/\d{4}-\d{2}-\d{2}-\d{6}-answer\.md$/);
    const out = frontmatterOf(await v.read('outputs', fields.Output!.replace('runner-outputs/', '')));
    expect(out.content.trim()).toBe('Forty-two.');
    expect(out.data).toMatchObject({ job_id: 'JOB-A', tokens_in: 7, tokens_out: 2 });
    expect(usage.recent(10, { jobId: 'JOB-A' })).toMatchObject([{ model: 'qwen2.5:14b', inputTokens: 7, outputTokens: 2, outcome: 'ok' }]);
  });

  it('posts a failure embed saying why', async () => {
    await v.drop('research.md', '---\ntype: research\n---\nLook it up.');
    const [post] = await discord.waitForPosts(1);
    const embed = post!.embeds[0]!;
    expect(embed.title).toBe('Job failed: research.md');
    expect(embed.description).toContain('the MCP tool server is not available; research jobs need it');
    expect(embed.fields).toContainEqual({ name: 'Code', value: 'MCP_UNAVAILABLE', inline: true });
    expect(await v.list('failed')).toEqual(['research.md']);
  });

  it('a 429 in job mode holds the job (notice), then it completes', async () => {
    groq.completions.enqueue({ error: rateLimited({ 'retry-after': '1' }) });
    await v.drop('groq.md', '---\nmodel: llama-3.3-70b-versatile\n---\nHello Groq');
    const posts = await discord.waitForPosts(2, 10_000);
    expect(posts.map((p) => p.embeds[0]!.title)).toEqual(['Job held: groq.md', 'Job completed: groq.md']);
    expect(posts[0]!.embeds[0]!.description).toMatch(/rate-limited llama-3\.3-70b-versatile; the job waits and retries/);
    expect(groq.requests.filter((r) => r.path.endsWith('/chat/completions'))).toHaveLength(2);
    const out = await v.read('outputs', (await v.list('outputs'))[0]!);
    expect(out).toContain('Hi from Groq');
  });

  it('Discord being down never holds up a job', async () => {
    await discord.down();
    await v.drop('a.md', 'one');
    await v.drop('b.md', 'two');
    await waitFor(async () => (await v.list('completed')).length === 2, 'both jobs', 5_000);
  });
});
