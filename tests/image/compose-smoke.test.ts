import { randomBytes, randomInt } from 'node:crypto';
import { chownSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { RUNTIME_IMAGE_VAR } from '../../compose.js';
import { loadPlatform } from '../../model/index.js';
import { startDiscord, type DiscordDouble } from '../doubles/discord.js';
import { EXAMPLE_MODEL, ROOT, tempDir } from '../helpers.js';
import { startRealOllama, type RealOllama } from '../helpers/real-ollama.js';
import { bridgeToLoopback, buildImage, freePort, podman, podmanMissing, podmanOk, type Bridge } from './podman.js';

/*
 * The contabo compose file as generated, brought up under podman-compose with the real image and
 * the real Ollama (SmolLM2 under the routing table's names) as the host's Ollama. Every change
 * made to the generated file is below and printed, each for a reason this machine imposes; a
 * service that cannot run here is left out with its reason, never faked.
 */

const HOST = 'contabo';
const GENERATED = join(ROOT, `generated/hosts/${HOST}/docker-compose.yml`);

/**
 * Compose services that do not run the runtime image, and why they stay out of the smoke. A new
 * service must be added here (or run): the smoke refuses to leave one out silently.
 */
const LEFT_OUT: Record<string, string> = {
  qdrant: 'its image comes from a registry this machine cannot reach (retrieval tests use the Qdrant protocol double)',
  neo4j: 'its image comes from a registry this machine cannot reach (retrieval tests run Neo4j from Maven Central)',
  cloudflared: 'it connects out to Cloudflare, which cannot be reached from here',
  alloy: 'it ships to Grafana Cloud, which cannot be reached from here',
};

/**
 * Runtime services that are built but not yet brought into the smoke: each needs its own wiring
 * here first (secrets, doubles, what the image must carry). One line each; delete the line to
 * run the service.
 */
const NOT_YET_IN_SMOKE: Record<string, string> = {
  rag:
    'the model selects Qdrant and Neo4j as its stores (retrieval.stores in runtime.json; no environment variable selects the embedded ones) at qdrant:6333 and neo4j:7687, ' +
    'whose images cannot be pulled here; running it needs the Qdrant protocol double and Neo4j (from Maven Central) on the host, reached under those names, and an Ollama embedding model',
};

/** The runtime's own services, in the image's words: `runtime --help` marks those not built. */
function notBuilt(help: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of help.matchAll(/^ {2}([a-z]+) +(.*)\(not built yet\)\s*$/gm))
    out.set(m[1]!, `\`runtime ${m[1]}\` is not built yet in this image (${m[2]!.trim()})`);
  return out;
}

interface ComposeService {
  image?: string;
  user?: string;
  depends_on?: Record<string, unknown>;
  environment?: Record<string, string>;
  env_file?: string[];
  volumes?: Array<{ type: string; source: string; target: string; read_only?: boolean }>;
  extra_hosts?: string[];
  ports?: string[];
  healthcheck?: { test: string[] };
  [k: string]: unknown;
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  networks: Record<string, { name: string }>;
  volumes?: Record<string, unknown>;
}

// Without podman the smoke cannot run; without the real Ollama it fails, saying how to install it.
const missing = podmanMissing(['podman', 'podman-compose']);
if (missing) console.warn(`tests/image/compose-smoke: skipped: ${missing}`);

const platform = loadPlatform(EXAMPLE_MODEL);
const generated = parse(readFileSync(GENERATED, 'utf8')) as ComposeFile;
const project = `smoke-${randomBytes(4).toString('hex')}`;
const network = `${project}-net`;

describe.skipIf(missing !== undefined)(`the ${HOST} compose stack under podman-compose`, () => {
  let dir: string;
  let vault: string;
  let ollama: RealOllama | undefined;
  let discord: DiscordDouble | undefined;
  const bridges: Bridge[] = [];
  let running: string[] = [];
  let owner: { uid: number; gid: number };
  let imageUid: number;
  let gatewayIp = '';
  let ollamaBridgePort = 0;
  /** Loopback ports published for the services the tests call from this machine. */
  const published = new Map<string, number>();
  /** Throwaway secrets, as the Infisical agent would write them into secrets/<service>.env. */
  const mcpToken = randomBytes(24).toString('hex');
  const compose = (args: string[], timeoutMs = 300_000) =>
    podman(['-p', project, '-f', join(dir, 'docker-compose.yml'), ...args], { bin: 'podman-compose', cwd: dir, timeoutMs });
  const containerOf = async (service: string): Promise<string> => {
    const ids = (
      await podmanOk([
        'ps',
        '-a',
        '--format',
        '{{.ID}}',
        '--filter',
        `label=io.podman.compose.project=${project}`,
        '--filter',
        `label=com.docker.compose.service=${service}`,
      ])
    ).trim();
    if (!ids) throw new Error(`no container for ${service}`);
    return ids.split('\n')[0]!;
  };

  beforeAll(async () => {
    const ref = await buildImage();
    const help = await podmanOk(['run', '--rm', ref, '--help']);
    imageUid = Number((await podmanOk(['run', '--rm', '--entrypoint', 'id', ref, '-u'])).trim());
    const unbuilt = notBuilt(help);

    // ---- which services run
    const runtimeServices = Object.entries(platform.services)
      .filter(([, s]) => s.host === HOST && s.runtime)
      .map(([n]) => n);
    const reasons = new Map<string, string>();
    for (const name of Object.keys(generated.services)) {
      if (runtimeServices.includes(name)) {
        const why = unbuilt.get(platform.services[name]!.command?.[0] ?? name) ?? NOT_YET_IN_SMOKE[name];
        if (why) reasons.set(name, why);
      } else if (LEFT_OUT[name]) {
        reasons.set(name, LEFT_OUT[name]);
      } else {
        throw new Error(`compose service "${name}" is neither the runtime nor listed in LEFT_OUT with a reason`);
      }
    }
    running = Object.keys(generated.services).filter((n) => !reasons.has(n));
    for (const [name, why] of reasons) console.warn(`compose smoke: ${name} left out: ${why}`);
    if (running.length === 0) throw new Error('no service of the compose file can run here');

    // ---- the project directory, the vault and the doubles
    dir = tempDir('compose-smoke-');
    vault = join(dir, 'vault');
    const [uid, gid] = generated.services[running[0]!]!.user!.split(':').map(Number) as [number, number];
    owner = { uid, gid };
    for (const f of Object.values(platform.vault.folders)) mkdirSync(join(vault, f), { recursive: true, mode: 0o750 });
    for (const p of [vault, ...Object.values(platform.vault.folders).map((f) => join(vault, f))]) chownSync(p, uid, gid);

    const ollamaRoutes = platform.routing.models.filter((r) => r.provider === 'ollama').map((r) => r.id);
    const [realOllama, discordDouble] = await Promise.all([startRealOllama({ models: ollamaRoutes }), startDiscord()]);
    ollama = realOllama;
    discord = discordDouble;

    // The network with a subnet of our own, so the gateway (where the bridges listen) is known.
    let gateway = '';
    for (let i = 0; i < 10 && !gateway; i++) {
      const net = `10.${randomInt(100, 250)}.${randomInt(0, 255)}`;
      const r = await podman(['network', 'create', '--subnet', `${net}.0/24`, '--gateway', `${net}.1`, network]);
      if (r.code === 0) gateway = `${net}.1`;
    }
    if (!gateway) throw new Error(`could not create the podman network ${network}`);
    const ollamaPort = await freePort();
    const discordPort = await freePort();
    const ollamaUrl = `http://host.docker.internal:${ollamaPort}`;
    gatewayIp = gateway;
    ollamaBridgePort = ollamaPort;
    // The ports the tests call: web and mcp only expose theirs to the network; here they are also
    // published, to 127.0.0.1 only, on free ports.
    const containerPorts: Record<string, number> = Object.fromEntries(
      ['web', 'mcp'].map((n) => [n, Number((generated.services[n]?.expose as string[] | undefined)?.[0])]),
    );

    // ---- the generated file, with this machine's changes
    const out: ComposeFile = structuredClone(generated);
    for (const name of Object.keys(out.services)) if (!running.includes(name)) delete out.services[name];
    for (const [name, s] of Object.entries(out.services)) {
      if (s.depends_on) {
        for (const dep of Object.keys(s.depends_on)) if (!running.includes(dep)) delete s.depends_on[dep];
        if (Object.keys(s.depends_on).length === 0) delete s.depends_on;
      }
      // The vault: a temporary one, owned like the hosts' (the Syncthing user, not the image's user).
      s.volumes = s.volumes?.map((v) => (v.type === 'bind' && v.target === '/vault' ? { ...v, source: vault } : v));
      // podman 4.3 has no "host-gateway"; the gateway of the project's own network stands in.
      s.extra_hosts = s.extra_hosts?.map((h) => (h === 'host.docker.internal:host-gateway' ? `host.docker.internal:${gateway}` : h));
      s.environment = {
        ...s.environment,
        // Loopback only: both Ollama hosts are the real Ollama on this machine (never davas' tailnet address).
        OLLAMA_URL_CONTABO: ollamaUrl,
        OLLAMA_URL_DAVAS: ollamaUrl,
        // Alloy (the OTLP receiver) is not in the smoke: it ships to Grafana Cloud.
        OTEL_SDK_DISABLED: 'true',
      };
      if (s.env_file) {
        // The Infisical agent's env file: no provider keys (the cloud providers stay unused), the
        // Discord webhook pointed at the protocol double.
        mkdirSync(join(dir, 'secrets'), { recursive: true, mode: 0o700 });
        // The MCP token is a fresh random one; the web's Access settings name an audience of the
        // test's and a key URL on the container's own loopback, so no request can reach Cloudflare
        // (the tests authenticate with an API token instead).
        const extra: Record<string, string[]> = {
          mcp: [`MCP_AUTH_TOKEN=${mcpToken}`],
          worker: [`MCP_AUTH_TOKEN=${mcpToken}`],
          web: [
            'CF_ACCESS_TEAM_DOMAIN=smoke.cloudflareaccess.invalid',
            `CF_ACCESS_AUD=${randomBytes(16).toString('hex')}`,
            'CF_ACCESS_JWKS_URL=http://127.0.0.1:9/cdn-cgi/access/certs',
          ],
        };
        const lines = [
          `DISCORD_WEBHOOK_URL=http://host.docker.internal:${discordPort}/api/webhooks/123456/token-double`,
          ...(extra[name] ?? []),
        ];
        writeFileSync(join(dir, `secrets/${name}.env`), `${lines.join('\n')}\n`, { mode: 0o600 });
      }
      if (containerPorts[name]) {
        const port = await freePort();
        published.set(name, port);
        s.ports = [...(s.ports ?? []), `127.0.0.1:${port}:${containerPorts[name]}`];
      }
    }
    for (const net of Object.values(out.networks)) net.name = network;
    writeFileSync(join(dir, 'docker-compose.yml'), stringify(out, { lineWidth: 0 }));

    // The image reference stays the generated `${PLATFORM_RUNTIME_IMAGE:-<model's ref>}`: unset, it is the image just built.
    expect(generated.services.worker?.image).toBe(`\${${RUNTIME_IMAGE_VAR}:-${ref}}`);
    delete process.env[RUNTIME_IMAGE_VAR];

    const up = await compose(['up', '-d']);
    if (up.code !== 0) throw new Error(`podman-compose up failed (${up.code}):\n${up.stderr.slice(-4000)}`);
    bridges.push(await bridgeToLoopback(gateway, ollamaPort, Number(new URL(realOllama.url).port)));
    bridges.push(await bridgeToLoopback(gateway, discordPort, discordDouble.port));
  }, 40 * 60_000);

  afterAll(async () => {
    // Whatever happened above: no container, volume or network of the project survives.
    if (dir) await compose(['down', '-v', '-t', '5']);
    const left = (await podman(['ps', '-aq', '--filter', `label=io.podman.compose.project=${project}`])).stdout.trim();
    if (left) await podman(['rm', '--force', '--volumes', '--time', '0', ...left.split('\n')]);
    const vols = (await podman(['volume', 'ls', '-q', '--filter', `label=io.podman.compose.project=${project}`])).stdout.trim();
    if (vols) await podman(['volume', 'rm', '--force', ...vols.split('\n')]);
    await podman(['network', 'rm', '--force', network]);
    for (const b of bridges) await b.close();
    await ollama?.stop();
    await discord?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('runs the services as the vault owner, with a read-only root, on the generated network', async () => {
    expect(owner.uid).not.toBe(imageUid);
    for (const name of running) {
      const [info] = JSON.parse(await podmanOk(['inspect', await containerOf(name)])) as Array<{
        State: { Running: boolean };
        Config: { User: string };
        HostConfig: { ReadonlyRootfs: boolean };
        NetworkSettings: { Networks: Record<string, unknown> };
      }>;
      expect(info!.State.Running, name).toBe(true);
      expect(info!.Config.User, name).toBe(`${owner.uid}:${owner.gid}`);
      expect(info!.HostConfig.ReadonlyRootfs, name).toBe(true);
      expect(Object.keys(info!.NetworkSettings.Networks), name).toEqual([network]);
    }
  });

  it('every service with a health check reports healthy', async () => {
    const checked = running.filter((n) => generated.services[n]!.healthcheck?.test[0] !== 'NONE');
    // podman runs health checks from systemd timers; without systemd, run each service's own check.
    for (const name of checked) {
      const id = await containerOf(name);
      let last = await podman(['healthcheck', 'run', id]);
      for (let i = 0; i < 120 && last.code !== 0; i++) {
        await new Promise((r) => setTimeout(r, 500));
        last = await podman(['healthcheck', 'run', id]);
      }
      expect(last.code, `${name}: ${last.stdout}${last.stderr}`).toBe(0);
    }
    console.warn(
      `compose smoke: health-checked: ${checked.join(', ') || '(none)'}; running without a health check of their own: ${running.filter((n) => !checked.includes(n)).join(', ') || '(none)'}`,
    );
  }, 120_000);

  it('runs a job dropped into the vault, writing as the vault owner', async (ctx) => {
    if (!running.includes('worker')) {
      console.warn('compose smoke: no job run: the worker is not in the smoke');
      ctx.skip();
    }
    const f = platform.vault.folders;
    const job = join(vault, f.queue, 'smoke.md');
    writeFileSync(job, '---\nid: SMOKE-1\n---\nSay hello in three words.\n');
    chownSync(job, owner.uid, owner.gid);
    const old = new Date(Date.now() - 60_000);
    utimesSync(job, old, old);

    const deadline = Date.now() + 240_000;
    while (!readdirSync(join(vault, f.completed)).includes('smoke.md')) {
      if (readdirSync(join(vault, f.failed)).includes('smoke.md')) {
        throw new Error(`the job failed:\n${readFileSync(join(vault, f.failed, 'smoke.md'), 'utf8')}`);
      }
      if (Date.now() > deadline) {
        const logs = await podman(['logs', '--tail', '40', await containerOf('worker')]);
        throw new Error(`the job did not complete in time; worker log:\n${logs.stdout}${logs.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    const outputs = readdirSync(join(vault, f.outputs)).filter((n) => n.endsWith('-smoke.md'));
    expect(outputs).toHaveLength(1);
    const output = join(vault, f.outputs, outputs[0]!);
    const text = readFileSync(output, 'utf8');
    const front = parse(/^---\n([\s\S]*?)\n---\n/.exec(text)?.[1] ?? '') as Record<string, unknown>;
    expect(front).toMatchObject({ job_id: 'SMOKE-1', model: 'qwen2.5:14b', status: 'completed' });
    expect(front.tokens_out).toBeGreaterThan(0);
    expect(text.slice(text.indexOf('\n---\n', 4) + 5).trim()).not.toBe('');
    const st = statSync(output);
    expect([st.uid, st.gid]).toEqual([owner.uid, owner.gid]);
    // The job file kept its bytes; the real Ollama answered it; Discord heard about it.
    expect(readFileSync(join(vault, f.completed, 'smoke.md'), 'utf8')).toContain('Say hello in three words.');
    // Provider state notices (davas found down before the bridge listened) may come first.
    const noticeDeadline = Date.now() + 30_000;
    const titles = (): string[] => discord!.posts.flatMap((p) => p.embeds.map((e) => e.title));
    while (!titles().includes('Job completed: smoke.md') && Date.now() < noticeDeadline) await new Promise((r) => setTimeout(r, 100));
    expect(titles()).toContain('Job completed: smoke.md');
  }, 300_000);

  it('serves the web API to an API token created in its data volume, and refuses a request without one', async (ctx) => {
    if (!running.includes('web')) {
      console.warn('compose smoke: web API not called: web is not in the smoke');
      ctx.skip();
    }
    const id = await containerOf('web');
    // `runtime token create` in the web's own container: the token lands in the data volume's chat.db.
    const token = (
      await podmanOk(['exec', id, 'node', '/app/runtime/bin/runtime.js', 'token', 'create', 'compose-smoke', '--scope', 'read'])
    ).trim();
    expect(token.length).toBeGreaterThan(16);
    const base = `http://127.0.0.1:${published.get('web')!}`;
    const ok = await fetch(`${base}/api/health`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status, await ok.clone().text()).toBe(200);
    const health = (await ok.json()) as { status: string; dependencies: unknown[]; generations: { running: number } };
    expect(['starting', 'ok', 'degraded']).toContain(health.status);
    expect(Array.isArray(health.dependencies)).toBe(true);
    expect(health.generations.running).toBe(0);
    const anonymous = await fetch(`${base}/api/health`);
    expect(anonymous.status).toBe(401);
    const wrong = await fetch(`${base}/api/health`, { headers: { authorization: `Bearer ${randomBytes(24).toString('hex')}` } });
    expect(wrong.status).toBe(401);
    // The control panel is in the image and served.
    const page = await fetch(`${base}/`, { headers: { authorization: `Bearer ${token}` } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toMatch(/<div id="root">|<script type="module"/);
  }, 60_000);

  it('runs code in bubblewrap inside the mcp container, with exactly the generated security_opt, and without network', async (ctx) => {
    if (!running.includes('mcp')) {
      console.warn('compose smoke: run_code not called: mcp is not in the smoke');
      ctx.skip();
    }
    const [info] = JSON.parse(await podmanOk(['inspect', await containerOf('mcp')])) as Array<{
      HostConfig: { SecurityOpt: string[] | null };
    }>;
    const opts = generated.services.mcp!.security_opt as string[];
    expect([...(info!.HostConfig.SecurityOpt ?? [])].sort()).toEqual([...opts].sort());
    // Without the bearer token the server answers nothing but 401.
    const anonymous = await fetch(`http://localhost:${published.get('mcp')!}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'anonymous', version: '0' } },
      }),
    });
    expect(anonymous.status).toBe(401);
    // Host localhost (one of mcp.hostnames) on the published loopback port, the bearer token.
    const client = new Client({ name: 'compose-smoke', version: '0.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`http://localhost:${published.get('mcp')!}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${mcpToken}` } },
    });
    await client.connect(transport);
    try {
      const call = async (code: string) => {
        const r = await client.callTool({ name: 'run_code', arguments: { language: 'python', code } });
        expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
        return r.structuredContent as { stdout: string; stderr: string; exit_code: number; limit?: string };
      };
      const one = await call('print(1)');
      expect(one).toMatchObject({ stdout: '1\n', exit_code: 0 });
      expect(one.limit).toBeUndefined();
      // The real Ollama's bridge on the network's gateway answers the mcp container itself...
      const direct = await podman([
        'exec',
        await containerOf('mcp'),
        'node',
        '-e',
        `fetch('http://${gatewayIp}:${ollamaBridgePort}/api/version').then((r) => process.stdout.write(String(r.status)))`,
      ]);
      expect(direct.stdout, direct.stderr).toBe('200');
      // ...but not a program in the sandbox: it has no network at all.
      const net = await call(
        [
          'import socket',
          'try:',
          `    socket.create_connection(("${gatewayIp}", ${ollamaBridgePort}), timeout=5)`,
          '    print("connected")',
          'except OSError as e:',
          '    print("refused", e.errno)',
        ].join('\n'),
      );
      expect(net.exit_code).toBe(0);
      expect(net.stdout).toMatch(/^refused \d+\n$/);
    } finally {
      await client.close();
    }
  }, 120_000);

  it('stops cleanly: every service exits 0 on SIGTERM, then nothing of the project is left', async () => {
    const ids = await Promise.all(running.map(async (n) => [n, await containerOf(n)] as const));
    const stop = await compose(['stop', '-t', '30']);
    expect(stop.code, stop.stderr).toBe(0);
    for (const [name, id] of ids) {
      const [info] = JSON.parse(await podmanOk(['inspect', id])) as Array<{ State: { Running: boolean; ExitCode: number } }>;
      expect(info!.State.Running, name).toBe(false);
      expect(info!.State.ExitCode, name).toBe(0);
    }
    const down = await compose(['down', '-v', '-t', '5']);
    expect(down.code, down.stderr).toBe(0);
    expect((await podmanOk(['ps', '-aq', '--filter', `label=io.podman.compose.project=${project}`])).trim()).toBe('');
    expect((await podmanOk(['volume', 'ls', '-q', '--filter', `label=io.podman.compose.project=${project}`])).trim()).toBe('');
  }, 120_000);
});
