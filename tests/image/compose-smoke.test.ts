import { randomBytes, randomInt } from 'node:crypto';
import { chownSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
  web: 'built, but not yet wired into this smoke (its API token, the control panel build in the image)',
  mcp: 'built, but not yet wired into this smoke (MCP_AUTH_TOKEN, bubblewrap under podman with the generated security_opt)',
  rag: 'built, but not yet wired into this smoke (the Qdrant protocol double and Neo4j in place of the qdrant and neo4j services)',
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
        writeFileSync(
          join(dir, `secrets/${name}.env`),
          `DISCORD_WEBHOOK_URL=http://host.docker.internal:${discordPort}/api/webhooks/123456/token-double\n`,
          { mode: 0o600 },
        );
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
