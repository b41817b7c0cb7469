import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RuntimeConfigFile } from '@platform/contract';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envFilesOn } from '../../playbooks-gen/index.js';
import { generateAll } from '../../render/render.js';
import { startOllama, type OllamaDouble } from '../doubles/ollama.js';
import { startOpenAi, type OpenAiDouble } from '../doubles/openai.js';
import { freePort } from '../helpers.js';
import { jetstreamPlatform } from '../helpers/jetstream.js';
import { NATS_SERVER_BIN, natsServerMissing } from '../helpers/nats.js';
import { frontmatterOf, makeVault, waitFor, type TempVault } from './helpers/vault.js';

/*
 * The two sides of the JetStream queue against each other: the jetstream variant of the example
 * model is rendered, its three generated nats.conf files run as a real nats-server cluster (users,
 * permissions and replicas as generated; only listen addresses, ports and the store dir moved to
 * loopback and temp folders), and the generated runtime.json files (the runtime host's, davas's)
 * drive a real `runtime gateway`, a contabo `runtime worker` and a davas `runtime worker`, with
 * the passwords in the environment under the secret names runtime.json gives (only addresses
 * changed: the NATS servers, the Groq base URL and the status port in the file, the Ollama hosts
 * by OLLAMA_URL_<HOST>). A job of each route group (cloud: Groq; contabo, davas: their Ollama)
 * must complete through them, and no server or runtime may log a refused permission.
 */

const missing = natsServerMissing();
if (missing) console.warn(`skipping the generated-config JetStream test: ${missing}`);

const BIN = join(import.meta.dirname, '../../runtime/bin/runtime.js');
const SERVERS = ['contabo', 'prod-services', 'dev-learning'];
const PASSWORDS: Record<string, string> = {
  NATS_GATEWAY_PASSWORD: 'gw pass #1',
  NATS_WORKER_PASSWORD: 'wk, "pass"',
  NATS_ROUTE_PASSWORD: 'route/pass@1',
};

const artifacts = generateAll(jetstreamPlatform());
const content = (path: string): string => {
  const a = artifacts.find((x) => x.path === path);
  if (!a) throw new Error(`no artifact ${path}`);
  return a.content;
};

interface Proc {
  name: string;
  proc: ChildProcess;
  log: string;
}
const procs: Proc[] = [];

function spawnLogged(name: string, cmd: string, args: string[], env: Record<string, string>): Proc {
  const proc = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = { name, proc, log: '' };
  const keep = (d: Buffer): void => {
    p.log += d.toString();
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  procs.push(p);
  return p;
}

async function stop(p: Proc): Promise<number | null> {
  if (p.proc.exitCode !== null || p.proc.signalCode !== null) return p.proc.exitCode;
  const gone = new Promise<number | null>((r) => p.proc.once('exit', (code) => r(code)));
  p.proc.kill('SIGTERM');
  return gone;
}

/** The host's nats.conf and the secrets.conf the agent writes beside it, every address at loopback. */
function layOutServer(host: string, dir: string, ports: Record<string, { client: number; route: number; monitor: number }>): string {
  const file = envFilesOn(jetstreamPlatform(), host).find((f) => f.name === 'nats');
  if (!file) throw new Error(`no secrets file for nats on ${host}`);
  const secrets: Record<string, string> = Object.fromEntries(file.secrets.map((s) => [s, PASSWORDS[s]!]));
  for (const d of file.derived ?? []) {
    // The route URL names a peer by its tailnet address: the peer's loopback route port here.
    const peer = SERVERS.find((h) => d.name === `NATS_ROUTE_${h.toUpperCase().replace(/-/g, '_')}`);
    if (!peer) throw new Error(`route ${d.name} names no server`);
    const suffix = d.suffix.replace(/@[^@]+$/, `@127.0.0.1:${ports[peer]!.route}`);
    secrets[d.name] = `${d.prefix}${encodeURIComponent(PASSWORDS[d.secret]!)}${suffix}`;
  }
  const at = join(dir, host);
  mkdirSync(join(at, 'secrets'), { recursive: true });
  writeFileSync(
    join(at, 'secrets/secrets.conf'),
    Object.entries(secrets)
      .map(([k, v]) => `${k}: ${JSON.stringify(v)}\n`)
      .join(''),
  );
  const p = ports[host]!;
  const swap = (text: string, from: string, to: string): string => {
    expect(text, `${host}: ${from}`).toContain(from);
    return text.replace(from, to);
  };
  let conf = content(`hosts/${host}/nats/nats.conf`);
  conf = swap(conf, 'listen: "0.0.0.0:4222"', `listen: "127.0.0.1:${p.client}"`);
  conf = swap(conf, 'http: "0.0.0.0:8222"', `http: "127.0.0.1:${p.monitor}"`);
  conf = swap(conf, '  listen: "0.0.0.0:6222"', `  listen: "127.0.0.1:${p.route}"`);
  conf = swap(conf, 'store_dir: "/data/jetstream"', `store_dir: ${JSON.stringify(join(at, 'js'))}`);
  writeFileSync(join(at, 'nats.conf'), conf);
  return join(at, 'nats.conf');
}

async function healthy(monitor: number, p: Proc): Promise<void> {
  await waitFor(
    async () => {
      if (p.proc.exitCode !== null) throw new Error(`${p.name} exited: ${p.log.slice(-2000)}`);
      return fetch(`http://127.0.0.1:${monitor}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
    },
    `${p.name} healthy`,
    20_000,
    100,
  );
}

let v: TempVault;
let contaboOllama: OllamaDouble;
let davasOllama: OllamaDouble;
let groq: OpenAiDouble;
const natsProcs: Proc[] = [];
let clientUrls: string[] = [];

/** A generated runtime.json with only its addresses changed, written to `name`. */
function runtimeJson(path: string, name: string): string {
  const c = JSON.parse(content(path)) as RuntimeConfigFile;
  expect(c.queue.backend).toBe('jetstream');
  c.queue.jetstream!.servers = clientUrls;
  c.providers.groq.baseUrl = groq.url;
  c.ports.metrics = 0;
  const file = join(v.root, name);
  writeFileSync(file, JSON.stringify(c, null, 2));
  return file;
}

beforeAll(async () => {
  if (missing) return;
  v = await makeVault();
  // The servers' configs and stores beside the vault, so cleanup() removes them too.
  const dir = join(v.root, 'nats');
  const ports: Record<string, { client: number; route: number; monitor: number }> = {};
  for (const h of SERVERS) ports[h] = { client: await freePort(), route: await freePort(), monitor: await freePort() };
  for (const h of SERVERS) {
    const conf = layOutServer(h, dir, ports);
    natsProcs.push(spawnLogged(`nats-${h}`, NATS_SERVER_BIN, ['--config', conf], { PATH: process.env.PATH ?? '' }));
  }
  await Promise.all(SERVERS.map((h, i) => healthy(ports[h]!.monitor, natsProcs[i]!)));
  clientUrls = SERVERS.map((h) => `nats://127.0.0.1:${ports[h]!.client}`);
  // Each side's Ollama answers as itself, so an output says which host's worker ran it.
  const models = ['qwen2.5:14b', 'gemma4:27b', 'nomic-embed-text'];
  contaboOllama = await startOllama({ models, answer: (b) => `contabo ollama ran ${b.model}` });
  davasOllama = await startOllama({ models, answer: (b) => `davas ollama ran ${b.model}` });
  groq = await startOpenAi({ basePath: '/openai/v1', script: { chunks: ['groq', ' ran', ' it'], usage: { prompt: 5, completion: 3 } } });
}, 60_000);

afterAll(async () => {
  for (const p of procs) await stop(p);
  await contaboOllama?.close();
  await davasOllama?.close();
  await groq?.close();
  await v?.cleanup();
});

describe.skipIf(missing !== undefined)('the generated nats.conf and runtime.json together (3 real nats-servers, real processes)', () => {
  it('a Groq job, a contabo job and a davas job complete through the gateway and the contabo and davas workers, no permission refused', async () => {
    const base = {
      PATH: process.env.PATH ?? '',
      OTEL_SDK_DISABLED: 'true',
      WORKER_LISTEN_HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      GROQ_API_KEY: 'test-groq-key',
    };
    const runtimeHost = runtimeJson('runtime/runtime.json', 'runtime-contabo.json');
    const davasFile = runtimeJson('hosts/davas/runtime/runtime.json', 'runtime-davas.json');
    const rt = JSON.parse(content('runtime/runtime.json')) as RuntimeConfigFile;
    const js = rt.queue.jetstream!;
    const gatewayPw = { [js.gateway.passwordSecret]: PASSWORDS[js.gateway.passwordSecret]! };
    const workerPw = { [js.worker.passwordSecret]: PASSWORDS[js.worker.passwordSecret]! };
    const ollamaAt = (url: string) => ({ OLLAMA_URL_CONTABO: url, OLLAMA_URL_DAVAS: url });
    const dataDir = (n: string): string => {
      const d = join(v.root, n);
      mkdirSync(d, { recursive: true });
      return d;
    };
    const noVault = join(v.root, 'no-vault-here');

    const gateway = spawnLogged('gateway', process.execPath, [BIN, 'gateway'], {
      ...base,
      ...gatewayPw,
      ...ollamaAt(contaboOllama.url),
      RUNTIME_CONFIG: runtimeHost,
      VAULT_DIR: v.vault,
      DATA_DIR: v.dataDir,
    });
    const contabo = spawnLogged('worker-contabo', process.execPath, [BIN, 'worker'], {
      ...base,
      ...workerPw,
      ...ollamaAt(contaboOllama.url),
      RUNTIME_CONFIG: runtimeHost,
      VAULT_DIR: noVault,
      DATA_DIR: dataDir('contabo-worker-data'),
    });
    const davas = spawnLogged('worker-davas', process.execPath, [BIN, 'worker'], {
      ...base,
      ...workerPw,
      ...ollamaAt(davasOllama.url),
      RUNTIME_CONFIG: davasFile,
      VAULT_DIR: noVault,
      DATA_DIR: dataDir('davas-worker-data'),
    });
    const runtimes = [gateway, contabo, davas];
    // On failure: each runtime's last lines, and every line a server logged about refusing something.
    const logs = (): string =>
      [
        ...runtimes.map((p) => `[${p.name}] ${p.log.slice(-3000)}`),
        ...natsProcs.map(
          (p) =>
            `[${p.name}] ${p.log
              .split('\n')
              .filter((l) => /violation/i.test(l))
              .join('\n')}`,
        ),
      ].join('\n');

    await v.drop('cloud job.md', '---\nmodel: llama-3.3-70b-versatile\n---\nAnswer from the cloud.\n');
    await v.drop('davas job.md', '---\nmodel: gemma4:27b\n---\nAnswer from davas.\n');
    await v.drop('contabo job.md', '---\nmodel: qwen2.5:14b\n---\nAnswer from contabo.\n');
    await waitFor(
      async () => (await v.list('completed')).length + (await v.list('failed')).length >= 3,
      'the jobs settled',
      25_000,
      100,
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${logs()}`);
    });
    expect(await v.list('failed'), logs()).toEqual([]);
    expect(await v.list('completed')).toEqual(['cloud job.md', 'contabo job.md', 'davas job.md']);
    expect(await v.list('queue')).toEqual([]);
    expect(await v.list('active')).toEqual([]);

    const outputs = await v.list('outputs');
    expect(outputs).toHaveLength(3);
    const bySource = new Map<string, string>();
    for (const name of outputs) {
      const doc = frontmatterOf(await v.read('outputs', name));
      bySource.set(String(doc.data.source), doc.content.trim());
    }
    const sourceOf = (job: string): string => [...bySource.keys()].find((s) => s.includes(job)) ?? `(none for ${job})`;
    expect(bySource.get(sourceOf('cloud job.md'))).toBe('groq ran it');
    // The davas job ran on davas's worker, against davas's Ollama.
    expect(bySource.get(sourceOf('davas job.md'))).toBe('davas ollama ran gemma4:27b');
    expect(davasOllama.chats.map((c) => c.model)).toEqual(['gemma4:27b']);
    expect(bySource.get(sourceOf('contabo job.md'))).toBe('contabo ollama ran qwen2.5:14b');
    expect(contaboOllama.chats.map((c) => c.model)).toEqual(['qwen2.5:14b']);
    expect(groq.requests.filter((r) => r.path.endsWith('/chat/completions'))).toHaveLength(1);

    for (const p of runtimes) expect(await stop(p), `${p.name} exit\n${logs()}`).toBe(0);
    // The logs are there to read (a server logs each refusal as a "Publish/Subscription Violation"
    // line naming the user and subject), and none of them refuses anything.
    for (const p of natsProcs) expect(p.log, p.name).toContain('Server is ready');
    for (const p of runtimes) expect(p.log, p.name).toContain('status listening');
    for (const p of [...runtimes, ...natsProcs]) {
      expect(p.log, p.name).not.toMatch(/permission|violation|authorization/i);
    }
  }, 40_000);
});
