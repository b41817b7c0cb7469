/*
 * Web chat benchmark: `npx tsx bench/chat.ts`. Prints figures against the targets, asserts
 * nothing. `runtime web --no-auth` runs as its own process (its RSS is what is measured); the
 * Ollama protocol double and the clients run here, all on 127.0.0.1.
 *
 *   a. time to first token through the web (POST with Accept: text/event-stream) minus calling
 *      the double directly, 500-token answers, p50/p99         target: overhead <= 5 ms p50
 *   b. 200 concurrent SSE chats, 500 tokens each at 20 ms: tokens/s delivered, p99 added
 *      inter-token delay, server RSS                            target: p99 <= 50 ms, RSS <= 300 MB
 *   c. full-text search over 100,000 stored messages, p50/p99   target: <= 20 ms p50
 *   d. time to first token through the OpenAI-compatible API (POST /v1/chat/completions with
 *      stream: true, first content chunk) minus calling the double directly, p50/p99
 *                                                               target: overhead <= 5 ms p50
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ChatStore } from '../runtime/src/web/chat-store.js';
import { writeRuntimeConfig } from '../tests/doubles/config.js';
import { startOllama } from '../tests/doubles/ollama.js';
import { tempDir } from '../tests/helpers.js';
import { deadPort } from '../tests/web/harness.js';

const ROOT = join(import.meta.dirname, '..');
const TOKENS = 500;
const CHUNKS = Array.from({ length: TOKENS }, (_, i) => `t${i} `);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}
const f = (n: number): string => n.toFixed(2);

async function firstNdjsonToken(url: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${url}/api/chat`, {
    method: 'POST',
    body: JSON.stringify({ model: 'qwen2.5:14b', messages: [{ role: 'user', content: 'hi' }], stream: true }),
  });
  const reader = res.body!.getReader();
  const { value } = await reader.read();
  const t = performance.now() - t0;
  void value;
  await reader.cancel();
  return t;
}

/** Reads an SSE stream (a URL, or a response already open); calls onToken at each token frame. */
async function readSse(from: string | Response, onToken: (at: number) => void): Promise<void> {
  const res = typeof from === 'string' ? await fetch(from) : from;
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += dec.decode(value, { stream: true });
    let cut: number;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      if (block.includes('\nevent: token\n')) onToken(performance.now());
      if (block.includes('\nevent: done\n')) return;
    }
  }
}

/** Milliseconds to the first `data:` chunk with content on /v1/chat/completions. */
async function firstOpenAiToken(base: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'qwen2.5:14b',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  if (!res.ok) throw new Error(`/v1/chat/completions answered ${res.status}: ${await res.text()}`);
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  let first = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    if (!first && /"content":"[^"]/.test(buf)) first = performance.now() - t0;
    if (buf.includes('data: [DONE]')) break;
    if (buf.length > 4096) buf = buf.slice(-512);
  }
  return first;
}

async function main(): Promise<void> {
  // runtime/bin/runtime.js runs the compiled CLI: build it if the sources changed.
  const built = spawnSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), '--if-stale', 'runtime'], { cwd: ROOT, stdio: 'inherit' });
  if (built.status !== 0) throw new Error('scripts/build.mjs runtime failed: run `make build` to see why');
  const ollama = await startOllama();
  const dir = tempDir('bench-chat-');
  const vault = join(dir, 'vault');
  for (const d of ['_queue', '_active', '_completed', '_failed', 'runner-outputs', 'skills'])
    await mkdir(join(vault, d), { recursive: true });
  const dead = `http://127.0.0.1:${await deadPort()}`;
  const file = writeRuntimeConfig(dir, {
    ollamaHosts: { contabo: ollama.url, davas: dead },
    edit: (c) => {
      c.services = { mcpUrl: dead, ragUrl: dead, qdrantUrl: dead, neo4jUri: 'bolt://127.0.0.1:1' };
    },
  });
  const port = await deadPort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(process.execPath, [join(ROOT, 'runtime/bin/runtime.js'), 'web', '--no-auth'], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      RUNTIME_CONFIG: file,
      DATA_DIR: join(dir, 'data'),
      VAULT_DIR: vault,
      OTEL_SDK_DISABLED: 'true',
      WEB_HOST: '127.0.0.1',
      WEB_PORT: String(port),
      WEB_RATE_PER_MINUTE: '1000000',
      LOG_LEVEL: 'error',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${base}/healthz`)).ok) break;
      } catch {
        // not up yet
      }
      if (i > 600) throw new Error('runtime web did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    const post = async <T>(url: string, body: unknown): Promise<T> =>
      (await (
        await fetch(`${base}${url}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      ).json()) as T;

    // (a) time to first token
    ollama.chat.fallback = { chunks: CHUNKS, evalCount: TOKENS };
    const N = 100;
    for (let i = 0; i < 10; i++) await firstNdjsonToken(ollama.url); // warm-up
    const direct: number[] = [];
    for (let i = 0; i < N; i++) direct.push(await firstNdjsonToken(ollama.url));
    const viaWeb: number[] = [];
    for (let i = 0; i < N + 10; i++) {
      const s = await post<{ id: string }>('/api/sessions', {});
      const t0 = performance.now();
      // One round trip: the POST answers with the stream itself.
      const res = await fetch(`${base}/api/sessions/${s.id}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ content: 'hi' }),
      });
      let first = 0;
      await readSse(res, (at) => {
        if (!first) first = at - t0;
      });
      if (i >= 10) viaWeb.push(first);
    }
    console.log(
      `load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')} on ${(await import('node:os')).cpus().length} cores`,
    );
    console.log(
      `(a) TTFT direct p50 ${f(pct(direct, 50))} ms p99 ${f(pct(direct, 99))} ms; via web p50 ${f(pct(viaWeb, 50))} ms p99 ${f(pct(viaWeb, 99))} ms`,
    );
    console.log(
      `    overhead p50 ${f(pct(viaWeb, 50) - pct(direct, 50))} ms (target <= 5), p99 ${f(pct(viaWeb, 99) - pct(direct, 99))} ms`,
    );

    // (d) time to first token through /v1/chat/completions (read to the end, like a client)
    const viaOpenAi: number[] = [];
    for (let i = 0; i < N + 10; i++) {
      const t = await firstOpenAiToken(base);
      if (i >= 10) viaOpenAi.push(t);
    }
    console.log(`(d) TTFT via /v1/chat/completions p50 ${f(pct(viaOpenAi, 50))} ms p99 ${f(pct(viaOpenAi, 99))} ms`);
    console.log(
      `    overhead p50 ${f(pct(viaOpenAi, 50) - pct(direct, 50))} ms (target <= 5), p99 ${f(pct(viaOpenAi, 99) - pct(direct, 99))} ms`,
    );

    // (b) 200 concurrent chats
    const CHATS = 200;
    const GAP = 20;
    ollama.chat.fallback = { chunks: CHUNKS, evalCount: TOKENS, delayMs: GAP };
    const sessions = await Promise.all(Array.from({ length: CHATS }, () => post<{ id: string }>('/api/sessions', {})));
    let peak = rss();
    const sampler = setInterval(() => (peak = Math.max(peak, rss())), 200);
    const added: number[] = [];
    let delivered = 0;
    const t0 = performance.now();
    await Promise.all(
      sessions.map(async (s) => {
        const g = await post<{ events: string }>(`/api/sessions/${s.id}/messages`, { content: 'go' });
        let last = 0;
        await readSse(`${base}${g.events}`, (at) => {
          delivered++;
          if (last) added.push(Math.max(0, at - last - GAP));
          last = at;
        });
      }),
    );
    const wall = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    console.log(
      `(b) ${CHATS} chats x ${TOKENS} tokens: ${delivered} tokens in ${f(wall)} s = ${Math.round(delivered / wall)} tokens/s delivered`,
    );
    console.log(
      `    added inter-token delay p50 ${f(pct(added, 50))} ms p99 ${f(pct(added, 99))} ms (target <= 50); server RSS peak ${Math.round(peak)} MB (target <= 300)`,
    );
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('close', r));
    await ollama.close();
  }

  // (c) search over 100,000 messages
  const store = new ChatStore(join(dir, 'search.db'));
  const words = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}x`);
  let seed = 42;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const text = (n: number): string => Array.from({ length: n }, () => words[Math.floor(rnd() ** 2 * words.length)]).join(' ');
  const fill = store.db.transaction(() => {
    for (let s = 0; s < 1000; s++) {
      const sess = store.createSession({ title: text(4), model: 'qwen2.5:14b' });
      let parent: string | null = null;
      for (let m = 0; m < 100; m++)
        parent = store.addMessage({
          sessionId: sess.id,
          parentId: parent,
          role: m % 2 ? 'assistant' : 'user',
          content: text(m % 2 ? 60 : 15),
        }).id;
    }
  });
  const tf = performance.now();
  fill();
  console.log(`(c) stored 100,000 messages in ${f((performance.now() - tf) / 1000)} s`);
  const times: number[] = [];
  for (let i = 0; i < 300; i++) {
    const q = words[Math.floor(rnd() * words.length)]!;
    const t = performance.now();
    store.search(q, 20);
    times.push(performance.now() - t);
  }
  console.log(`    search p50 ${f(pct(times, 50))} ms p99 ${f(pct(times, 99))} ms (target <= 20 p50)`);
  store.close();
}

await main();
