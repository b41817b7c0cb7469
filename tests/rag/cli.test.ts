import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeRuntimeConfig } from '../doubles/config.js';
import { startOllama, type OllamaDouble } from '../doubles/ollama.js';
import { ROOT, tempDir } from '../helpers.js';
import { scriptModel } from './helpers.js';

/*
 * `runtime index` and `runtime rag` as a person runs them: the real bin, a runtime.json with the
 * embedded defaults and the in-process MiniLM embedder, every Ollama host pointed at the double.
 */

const BIN = resolve(ROOT, 'runtime/bin/runtime.js');

function run(
  args: string[],
  env: Record<string, string>,
  opts: { until?: (s: string) => boolean } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> & { kill(): void } {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const p = new Promise<{ code: number | null; stdout: string; stderr: string }>((res) => {
    const check = (): void => {
      if (opts.until?.(stdout + stderr)) res({ code: null, stdout, stderr });
    };
    child.stdout.on('data', (d: Buffer) => ((stdout += d.toString()), check()));
    child.stderr.on('data', (d: Buffer) => ((stderr += d.toString()), check()));
    child.on('close', (code) => res({ code, stdout, stderr }));
  });
  return Object.assign(p, { kill: () => child.kill('SIGTERM') });
}

async function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => res(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

let ollama: OllamaDouble;
let env: Record<string, string>;
let port: number;

beforeAll(async () => {
  ollama = await startOllama();
  const vault = tempDir('rag-cli-vault-');
  mkdirSync(join(vault, 'projects'));
  mkdirSync(join(vault, '_queue'));
  writeFileSync(
    join(vault, 'projects/Falcon.md'),
    '# Falcon\n\nFalcon keeps its records in [[Orion Store]].\n\n## Deployment\n\nFalcon is deployed in Lisbon.\n',
  );
  writeFileSync(join(vault, 'Orion Store.md'), '# Orion Store\n\nOrion Store listens on port 7421.\n');
  writeFileSync(join(vault, '_queue/job.md'), '# queued job, never indexed\n');
  scriptModel(ollama, {
    notes: [],
    ignored: [],
    questions: [],
    projects: [],
    entities: [
      { name: 'Falcon', type: 'project' },
      { name: 'Orion Store', type: 'technology' },
    ],
  });
  const dir = tempDir('rag-cli-');
  port = await freePort();
  const config = writeRuntimeConfig(dir, {
    ollamaHosts: { contabo: ollama.url, davas: ollama.url },
    edit: (c) => {
      c.retrieval.embedder = 'onnx';
      c.retrieval.stores = { ...c.retrieval.stores, vector: 'embedded', graph: 'embedded' };
      c.ports.rag = port;
    },
  });
  env = {
    RUNTIME_CONFIG: config,
    DATA_DIR: join(dir, 'data'),
    VAULT_DIR: vault,
    OLLAMA_URL_CONTABO: ollama.url,
    OLLAMA_URL_DAVAS: ollama.url,
    RAG_LISTEN_HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
  };
});

afterAll(async () => {
  await ollama?.close();
});

describe('runtime index and runtime rag', () => {
  it('indexes the vault, then finds nothing to do, then serves retrieval', async () => {
    const first = await run(['index'], env);
    expect(first.stderr).toContain('index: 2 notes in the vault');
    expect(first.stdout).toMatch(/^indexed 2 notes \(3 chunks\), 0 unchanged, 0 removed/m);
    expect(first.code).toBe(0);
    const second = await run(['index'], env);
    expect(second.stdout).toMatch(/^indexed 0 notes \(0 chunks\), 2 unchanged, 0 removed/m);

    const rag = run(['rag'], { ...env, LOG_LEVEL: 'info' }, { until: (s) => s.includes('rag listening') || s.includes('runtime:') });
    try {
      await rag;
      const res = await fetch(`http://127.0.0.1:${port}/retrieve`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: 'Which port does the store of Falcon listen on?', topK: 2 }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { results: { citation: string }[] };
      expect(body.results.map((r) => r.citation)).toContain('[[Orion Store]]');
      const bad = await fetch(`http://127.0.0.1:${port}/answer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"query": 3}',
      });
      expect(bad.status).toBe(400);
    } finally {
      rag.kill();
    }
  }, 180_000);

  it('refuses an unknown option', async () => {
    const r = await run(['index', '--fast'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('runtime: USAGE: runtime index: unknown option --fast');
  }, 60_000);
});
