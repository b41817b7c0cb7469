import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../runtime/src/config/index.js';
import { RuntimeError } from '../../runtime/src/errors.js';
import { OllamaProvider } from '../../runtime/src/providers/ollama.js';
import type { ChatEvent } from '../../runtime/src/providers/types.js';
import { UsageStore } from '../../runtime/src/store/index.js';
import { tempDir } from '../helpers.js';
import { BASE_MODEL, RealOllamaError, startRealOllama, type RealOllama } from '../helpers/real-ollama.js';
import { writeTestConfig } from '../doubles/config.js';
import { frontmatterOf, makeVault, waitFor, type TempVault } from './helpers/vault.js';

/*
 * The provider client and the worker against a real Ollama serving a real model (SmolLM2-135M,
 * built and fetched by scripts/install-ollama.sh). A 135M model says anything: these tests hold
 * structure, token counts, completion and ordering, never wording and never timing.
 */

const BIN = join(import.meta.dirname, '../../runtime/bin/runtime.js');
// The routing table's Ollama models: the default on contabo, a health-gated one on davas.
const DEFAULT_MODEL = 'qwen2.5:14b';
const DAVAS_MODEL = 'gemma4:27b';

let ollama: RealOllama;

beforeAll(async () => {
  ollama = await startRealOllama({ models: [DEFAULT_MODEL, DAVAS_MODEL] });
}, 600_000);

afterAll(async () => {
  await ollama?.stop();
});

async function collect(stream: AsyncIterable<ChatEvent>): Promise<ChatEvent[]> {
  const events: ChatEvent[] = [];
  for await (const ev of stream) events.push(ev);
  return events;
}

const textOf = (events: ChatEvent[]): string => events.map((e) => (e.type === 'text' ? e.delta : '')).join('');
const usageOf = (events: ChatEvent[]) => events.find((e): e is Extract<ChatEvent, { type: 'usage' }> => e.type === 'usage')?.usage;
const doneOf = (events: ChatEvent[]) => events.find((e): e is Extract<ChatEvent, { type: 'done' }> => e.type === 'done')?.reason;

describe('real Ollama: the test helper', () => {
  it('says how to install when the binary or the model is missing', async () => {
    const saved = process.env.LLM_PLATFORM_CACHE;
    const empty = tempDir('no-ollama-cache-');
    process.env.LLM_PLATFORM_CACHE = empty;
    try {
      const err = await startRealOllama().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RealOllamaError);
      expect(err).toMatchObject({ code: 'REAL_OLLAMA_MISSING' });
      expect((err as Error).message).toContain('run `bash scripts/install-ollama.sh`');
    } finally {
      if (saved === undefined) delete process.env.LLM_PLATFORM_CACHE;
      else process.env.LLM_PLATFORM_CACHE = saved;
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('real Ollama: the provider client', () => {
  let provider: OllamaProvider;
  beforeAll(() => {
    provider = new OllamaProvider({ host: 'contabo', baseUrl: ollama.url });
  });

  it('is healthy and lists the model under every name it was given', async () => {
    expect(await provider.health(5_000)).toMatchObject({ ok: true });
    const tags = (await (await fetch(`${ollama.url}/api/tags`)).json()) as { models: { name: string; size: number }[] };
    const names = tags.models.map((m) => m.name);
    for (const m of ollama.models) expect(names).toContain(m.includes(':') ? m : `${m}:latest`);
    expect(ollama.models).toEqual([BASE_MODEL, DEFAULT_MODEL, DAVAS_MODEL]);
  });

  it('streams a chat: several text deltas, then real token counts, then done', async () => {
    const events = await collect(
      provider.chat(
        {
          model: BASE_MODEL,
          system: 'You are a helpful assistant.',
          messages: [{ role: 'user', content: 'Name three colours.' }],
          maxTokens: 48,
        },
        { timeoutMs: 120_000 },
      ),
    );
    const kinds = events.map((e) => e.type);
    const texts = events.filter((e) => e.type === 'text');
    expect(texts.length).toBeGreaterThan(1);
    // Text first, then exactly one usage, then done, and nothing after it.
    expect(kinds.slice(texts.length)).toEqual(['usage', 'done']);
    expect(textOf(events).trim().length).toBeGreaterThan(0);
    const usage = usageOf(events)!;
    // The prompt includes the system message and the chat template around it.
    expect(usage.inputTokens).toBeGreaterThan(10);
    expect(usage.outputTokens).toBeGreaterThan(0);
    expect(usage.outputTokens).toBeLessThanOrEqual(48);
    // Ollama streams one token per chunk: there cannot be more text deltas than counted tokens.
    expect(texts.length).toBeLessThanOrEqual(usage.outputTokens);
    expect(usage.timeToFirstTokenMs).toBeGreaterThanOrEqual(0);
    expect(usage.durationMs).toBeGreaterThanOrEqual(usage.timeToFirstTokenMs!);
    expect(['stop', 'length']).toContain(doneOf(events));
  });

  it('stops at maxTokens with reason "length"', async () => {
    const events = await collect(
      provider.chat(
        { model: BASE_MODEL, messages: [{ role: 'user', content: 'Write a long story about a lighthouse keeper.' }], maxTokens: 5 },
        { timeoutMs: 120_000 },
      ),
    );
    expect(usageOf(events)!.outputTokens).toBe(5);
    expect(doneOf(events)).toBe('length');
  });

  it('an abort mid-stream ends the generation on the server; the next request then completes', async () => {
    // The server's request log (gin) writes a line when a request's handler returns.
    const chatsLogged = (): number => ollama.logs().split('"/api/chat"').length - 1;
    const before = chatsLogged();
    const ctl = new AbortController();
    let deltas = 0;
    const events: ChatEvent[] = [];
    // 20,000 tokens is minutes of work for this model: had the server kept generating after the
    // abort, the short request below (one slot: OLLAMA_NUM_PARALLEL=1) would wait behind it far
    // past this test's timeout. Its completing is the proof, not how long it took.
    for await (const ev of provider.chat(
      { model: BASE_MODEL, messages: [{ role: 'user', content: 'Count from 1 to 100000, one number per line.' }], maxTokens: 20_000 },
      { signal: ctl.signal, timeoutMs: 300_000 },
    )) {
      events.push(ev);
      if (ev.type === 'text' && ++deltas === 5) ctl.abort();
    }
    expect(deltas).toBe(5);
    expect(events.map((e) => e.type).slice(5)).toEqual(['usage', 'done']);
    expect(events.at(-1)).toEqual({ type: 'done', reason: 'aborted' });

    // The server saw the client go and ended that request's handler...
    await waitFor(() => chatsLogged() === before + 1, 'the server to end the aborted request', 60_000);
    // ...and the single slot is free again: a short request runs to its end.
    const after = await collect(
      provider.chat({ model: BASE_MODEL, messages: [{ role: 'user', content: 'Say hi.' }], maxTokens: 3 }, { timeoutMs: 120_000 }),
    );
    expect(['stop', 'length']).toContain(doneOf(after));
    expect(usageOf(after)!.outputTokens).toBeGreaterThan(0);
    expect(usageOf(after)!.outputTokens).toBeLessThanOrEqual(3);
    // The log line is written when the handler returns, which can be just after the last chunk.
    await waitFor(() => chatsLogged() === before + 2, 'the server to log the short request', 30_000);
  }, 180_000);

  it('a model the server does not have is a PROVIDER_ERROR with a pull hint, for chat and embed', async () => {
    const chat = collect(provider.chat({ model: 'no-such-model:1b', messages: [{ role: 'user', content: 'hi' }] }, { timeoutMs: 60_000 }));
    await expect(chat).rejects.toBeInstanceOf(RuntimeError);
    const err = (await chat.catch((e: unknown) => e)) as RuntimeError;
    expect(err.code).toBe('PROVIDER_ERROR');
    expect(err.httpStatus).toBe(502);
    expect(err.message).toContain('HTTP 404');
    expect(err.message).toContain('no-such-model:1b');
    expect(err.hint).toBe('pull the model on contabo: ollama pull no-such-model:1b');

    const embed = provider.embed('no-such-model:1b', ['hi'], { timeoutMs: 60_000 }).catch((e: unknown) => e);
    expect(await embed).toMatchObject({ code: 'PROVIDER_ERROR', hint: 'pull the model on contabo: ollama pull no-such-model:1b' });
  });

  it('/api/embed returns one 576-dimension vector per input (SmolLM2-135M hidden size)', async () => {
    const vectors = await provider.embed(BASE_MODEL, ['the vault queue', 'a lighthouse keeper', 'the vault queue'], { timeoutMs: 120_000 });
    expect(vectors).toHaveLength(3);
    for (const v of vectors) {
      expect(v).toHaveLength(576);
      expect(v.every((x) => Number.isFinite(x))).toBe(true);
      expect(v.some((x) => x !== 0)).toBe(true);
    }
    // Same text, same vector; different text, a different one.
    const dot = (a: number[], b: number[]): number => a.reduce((n, x, i) => n + x * b[i]!, 0);
    const cos = (a: number[], b: number[]): number => dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));
    expect(cos(vectors[0]!, vectors[2]!)).toBeCloseTo(1, 5);
    expect(cos(vectors[0]!, vectors[1]!)).toBeLessThan(0.9999);
  });
});

describe('real Ollama: the worker process runs text and chain jobs', () => {
  let v: TempVault;
  let env: Record<string, string>;
  let worker: ChildProcess;
  let stderr = '';
  let exited: Promise<number | null>;

  beforeAll(async () => {
    v = await makeVault();
    ({ env } = await writeTestConfig({
      root: v.root,
      vault: v.vault,
      dataDir: v.dataDir,
      ollamaUrl: ollama.url,
      worker: { concurrency: 1, mtimeGuardMs: 50, rescanMs: 200 },
    }));
    await v.drop('Colours.md', '---\ntitle: Colours\n---\nName three colours.\n');
    await v.drop(
      'chain.md',
      [
        '---',
        'type: chain',
        'steps:',
        '  - prompt: Name a fruit.',
        '  - prompt: Name a colour.',
        `    model: ${DAVAS_MODEL}`,
        '---',
        'Answer in a few words.',
      ].join('\n'),
    );
    // The production entry point, in a clean environment: nothing but the test config's overrides.
    worker = spawn(process.execPath, [BIN, 'worker'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: v.root, ...env, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    worker.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    exited = new Promise((r) => worker.once('exit', (code) => r(code)));
    await waitFor(
      async () => (await v.list('completed')).length + (await v.list('failed')).length >= 2 || worker.exitCode !== null,
      'both jobs to finish',
      300_000,
      100,
    );
    expect(worker.exitCode, stderr).toBeNull();
    worker.kill('SIGTERM');
    expect(await exited, stderr).toBe(0);
  }, 360_000);

  afterAll(async () => {
    if (worker && worker.exitCode === null && worker.signalCode === null) {
      worker.kill('SIGKILL');
      await exited;
    }
    await v?.cleanup();
  });

  it('points every Ollama host of the routing table at the loopback server (davas is never contacted)', async () => {
    const config = await loadConfig(env);
    expect(Object.keys(config.ollamaHosts).sort()).toEqual(expect.arrayContaining(['contabo', 'davas']));
    for (const url of Object.values(config.ollamaHosts)) expect(url).toBe(ollama.url);
  });

  async function outputFor(source: string): Promise<ReturnType<typeof frontmatterOf>> {
    for (const name of await v.list('outputs')) {
      const doc = frontmatterOf(await v.read('outputs', name));
      if (doc.data.source === source) return doc;
    }
    throw new Error(`no output for ${source}; failed: ${(await v.list('failed')).join(', ')}; worker stderr: ${stderr.slice(-2000)}`);
  }

  function usageRows(jobId: string) {
    const store = new UsageStore(v.dataDir);
    try {
      return store.recent(100, { jobId });
    } finally {
      store.close();
    }
  }

  it('a text job: real answer, real token counts in the output and the usage store', async () => {
    expect(await v.list('failed')).toEqual([]);
    expect(await v.list('completed')).toContain('Colours.md');
    const out = await outputFor('Colours.md');
    expect(out.data).toMatchObject({ type: 'text', model: DEFAULT_MODEL, status: 'completed', source: 'Colours.md' });
    expect(out.data.tokens_in).toBeGreaterThan(0);
    expect(out.data.tokens_out).toBeGreaterThan(0);
    expect(out.content.trim().length).toBeGreaterThan(0);

    const rows = usageRows(String(out.data.job_id));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      provider: 'ollama',
      model: DEFAULT_MODEL,
      outcome: 'ok',
      inputTokens: out.data.tokens_in,
      outputTokens: out.data.tokens_out,
    });
    expect(rows[0]!.ttftMs).toBeGreaterThanOrEqual(0);

    const done = await v.read('completed', 'Colours.md');
    expect(done).toContain('title: Colours');
    expect(done).toContain('Name three colours.\n');
  });

  it('a chain job: each step a real call, the davas step served by the loopback server, tokens summed', async () => {
    expect(await v.list('completed')).toContain('chain.md');
    const out = await outputFor('chain.md');
    expect(out.data).toMatchObject({ type: 'chain', model: DEFAULT_MODEL, status: 'completed' });
    expect(out.content).toMatch(/## Step 1 \(qwen2\.5:14b\)\n\n\S/);
    expect(out.content).toMatch(/## Step 2 \(gemma4:27b\)\n\n\S/);

    const rows = usageRows(String(out.data.job_id)).reverse();
    expect(rows.map((r) => [r.model, r.outcome])).toEqual([
      [DEFAULT_MODEL, 'ok'],
      [DAVAS_MODEL, 'ok'],
    ]);
    for (const r of rows) {
      expect(r.inputTokens).toBeGreaterThan(0);
      expect(r.outputTokens).toBeGreaterThan(0);
    }
    // The second step's prompt carries the first step's exchange, so it is longer.
    expect(rows[1]!.inputTokens).toBeGreaterThan(rows[0]!.inputTokens);
    expect(out.data.tokens_in).toBe(rows[0]!.inputTokens + rows[1]!.inputTokens);
    expect(out.data.tokens_out).toBe(rows[0]!.outputTokens + rows[1]!.outputTokens);
  });
});
