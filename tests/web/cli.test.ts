import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeRuntimeConfig } from '../doubles/config.js';
import { startOllama, type OllamaDouble } from '../doubles/ollama.js';
import { ROOT, tempDir } from '../helpers.js';
import { VAULT_FOLDERS, deadPort } from './harness.js';

/* `runtime web` and `runtime token` as real processes through the bin shim. */

const BIN = resolve(ROOT, 'runtime/bin/runtime.js');

function run(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const done = new Promise<{ code: number | null }>((r) => child.on('close', (code) => r({ code })));
  return { out, done, kill: () => child.kill('SIGTERM') };
}

let ollama: OllamaDouble;
let env: Record<string, string>;

beforeAll(async () => {
  ollama = await startOllama();
  const dir = tempDir('web-cli-');
  const vault = join(dir, 'vault');
  for (const f of VAULT_FOLDERS) mkdirSync(join(vault, f), { recursive: true });
  const dead = `http://127.0.0.1:${await deadPort()}`;
  const file = writeRuntimeConfig(dir, {
    ollamaHosts: { contabo: ollama.url, davas: dead },
    healthTimeoutMs: 300,
    edit: (c) => {
      c.services = { mcpUrl: dead, ragUrl: dead, qdrantUrl: dead, neo4jUri: 'bolt://127.0.0.1:1' };
    },
  });
  env = {
    RUNTIME_CONFIG: file,
    DATA_DIR: join(dir, 'data'),
    VAULT_DIR: vault,
    OTEL_SDK_DISABLED: 'true',
    WEB_HOST: '127.0.0.1',
    WEB_PORT: String(await deadPort()),
  };
});
afterAll(async () => {
  await ollama.close();
});

describe('runtime web', () => {
  it('starts with --no-auth, warns that auth is off, serves /healthz and the API, stops on SIGTERM', async () => {
    const p = run(['web', '--no-auth'], env);
    try {
      const deadline = Date.now() + 30_000;
      while (!p.out.stdout.includes('"msg":"web listening"')) {
        if (Date.now() > deadline) throw new Error(`web did not start: ${p.out.stderr}${p.out.stdout}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(p.out.stdout).toMatch(/"level":"warn".*AUTH IS OFF/);
      const base = `http://127.0.0.1:${env.WEB_PORT}`;
      expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
      const models = (await (await fetch(`${base}/api/models`)).json()) as { models: { id: string; available: boolean }[] };
      expect(models.models.find((m) => m.id === 'gemma4:27b')!.available).toBe(false);
    } finally {
      p.kill();
    }
    expect((await p.done).code).toBe(0);
  });

  it('refuses to start with Access auth but no team domain or audience', async () => {
    const p = run(['web'], env);
    expect((await p.done).code).toBe(1);
    expect(p.out.stderr).toContain('CONFIG_INVALID');
    // The team domain comes from the model; the audience tag is a secret the edge stack writes.
    expect(p.out.stderr).not.toContain('no Access team domain');
    expect(p.out.stderr).toContain('no Access audience tag: CF_ACCESS_AUD is not set');
  });

  it('runtime token create, list and revoke', async () => {
    const c = run(['token', 'create', 'laptop', '--scope', 'write'], env);
    expect((await c.done).code).toBe(0);
    const token = c.out.stdout.trim();
    expect(token).toMatch(/^rt_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/);
    const id = token.split('_')[1]!;
    const l = run(['token', 'list'], env);
    expect((await l.done).code).toBe(0);
    expect(l.out.stdout).toContain(`${id}\twrite\tactive\tnever used\tlaptop`);
    const r = run(['token', 'revoke', id], env);
    expect((await r.done).code).toBe(0);
    const l2 = run(['token', 'list'], env);
    await l2.done;
    expect(l2.out.stdout).toContain(`${id}\twrite\trevoked`);
    const bad = run(['token', 'create', 'x', '--scope', 'admin'], env);
    expect((await bad.done).code).toBe(2);
    const none = run(['token', 'revoke', 'ffff'], env);
    expect((await none.done).code).toBe(1);
  });
});
