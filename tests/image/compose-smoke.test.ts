import { randomBytes, randomInt } from 'node:crypto';
import { chownSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import neo4jDriver from 'neo4j-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { RUNTIME_IMAGE_VAR } from '../../compose.js';
import { loadPlatform } from '../../model/index.js';
import { baseRuntimeConfig } from '../doubles/config.js';
import { startDiscord, type DiscordDouble } from '../doubles/discord.js';
import { startQdrant, type QdrantDouble } from '../doubles/qdrant.js';
import { EXAMPLE_MODEL, ROOT, tempDir } from '../helpers.js';
import { startNeo4j, type RealNeo4j } from '../helpers/neo4j.js';
import { startRealOllama, type RealOllama } from '../helpers/real-ollama.js';
import { bridgeToLoopback, buildImage, freePort, podman, podmanMissing, podmanOk, type Bridge } from './podman.js';

/*
 * The contabo compose file as generated, brought up under podman-compose with the real image and
 * the real Ollama (SmolLM2 under the routing table's names, the embedding model's included) as
 * the host's Ollama. The stores rag uses run on this machine and are reached from the containers
 * under the names runtime.json gives them (qdrant, neo4j): a real Neo4j, and the Qdrant protocol
 * double (Qdrant's image cannot be pulled here). Every change made to the generated file is below
 * and printed, each for a reason this machine imposes; a service that cannot run here is left
 * out with its reason, never faked.
 */

const HOST = 'contabo';
const GENERATED = join(ROOT, `generated/hosts/${HOST}/docker-compose.yml`);

/**
 * Compose services that do not run the runtime image, and why they stay out of the smoke. A new
 * service must be added here (or run): the smoke refuses to leave one out silently.
 */
const LEFT_OUT: Record<string, string> = {
  qdrant: 'its image comes from a registry this machine cannot reach: the Qdrant protocol double on this machine stands in, as qdrant',
  neo4j: 'its image comes from a registry this machine cannot reach: Neo4j from Maven Central runs on this machine, as neo4j',
  cloudflared: 'it connects out to Cloudflare, which cannot be reached from here',
  alloy: 'it ships to Grafana Cloud, which cannot be reached from here',
};

/**
 * Runtime services that are built but not yet brought into the smoke: each needs its own wiring
 * here first (secrets, doubles, what the image must carry). One line each; delete the line to
 * run the service.
 */
const NOT_YET_IN_SMOKE: Record<string, string> = {};

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
  let qdrant: QdrantDouble | undefined;
  let neo4j: RealNeo4j | undefined;
  /** The width the real Ollama embeds at (SmolLM2's), which rag's runtime.json is given here. */
  let embedWidth = 0;
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

  /**
   * The anonymous volumes of the project's containers: the image's VOLUME /data, for services
   * whose compose entry mounts nothing there (mcp, rag). `podman-compose down -v` removes only the
   * named ones, so these are removed by id once their containers are gone.
   */
  const anonymousVolumes = async (): Promise<string[]> => {
    const ids = (await podman(['ps', '-aq', '--filter', `label=io.podman.compose.project=${project}`])).stdout.trim();
    if (!ids) return [];
    const infos = JSON.parse(await podmanOk(['inspect', ...ids.split('\n')])) as Array<{ Mounts?: { Type: string; Name?: string }[] }>;
    return infos.flatMap((i) =>
      (i.Mounts ?? []).filter((m) => m.Type === 'volume' && /^[0-9a-f]{64}$/.test(m.Name ?? '')).map((m) => m.Name!),
    );
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

    // The image's runtime.json: where rag finds its stores, and which model embeds.
    const runtimeJson = baseRuntimeConfig();
    const ragRuns = running.includes('rag');
    const ollamaRoutes = platform.routing.models.filter((r) => r.provider === 'ollama').map((r) => r.id);
    // SmolLM2 answers under the embedding model's name too: Ollama's /api/embed works with it.
    const ollamaModels = [...new Set([...ollamaRoutes, ...(ragRuns ? [runtimeJson.routing.embedding.model] : [])])];
    const [realOllama, discordDouble, qdrantDouble, realNeo4j] = await Promise.all([
      startRealOllama({ models: ollamaModels }),
      startDiscord(),
      ragRuns ? startQdrant() : undefined,
      ragRuns ? startNeo4j() : undefined,
    ]);
    ollama = realOllama;
    discord = discordDouble;
    qdrant = qdrantDouble;
    neo4j = realNeo4j;
    // rag's stores, as runtime.json names them: each name resolves to the network's gateway, where
    // a bridge to the server on this machine's loopback listens on the port runtime.json gives.
    const stores = ragRuns
      ? [
          { url: new URL(runtimeJson.services.qdrantUrl!), target: qdrantDouble!.port },
          { url: new URL(runtimeJson.services.neo4jUri!), target: realNeo4j!.port },
        ].map(({ url, target }) => ({ host: url.hostname, port: Number(url.port), target }))
      : [];
    let ragRuntimeJson: string | undefined;
    if (ragRuns) {
      const res = await fetch(`${realOllama.url}/api/embed`, {
        method: 'POST',
        body: JSON.stringify({ model: runtimeJson.routing.embedding.model, input: ['width'] }),
      });
      if (!res.ok) throw new Error(`the real Ollama does not embed: HTTP ${res.status} ${await res.text()}`);
      embedWidth = ((await res.json()) as { embeddings: number[][] }).embeddings[0]!.length;
      // The one change to rag's runtime.json, mounted over the image's own: the embedding width
      // of the model that answers here (SmolLM2) in place of the model's (nomic-embed-text).
      const ragConfig = structuredClone(runtimeJson);
      ragConfig.routing.embedding.dimensions = embedWidth;
      ragRuntimeJson = join(dir, 'rag-runtime.json');
      writeFileSync(ragRuntimeJson, `${JSON.stringify(ragConfig, null, 2)}\n`, { mode: 0o644 });
      console.warn(
        `compose smoke: rag runs with runtime.json's routing.embedding.dimensions ${runtimeJson.routing.embedding.dimensions} -> ${embedWidth} ` +
          `(SmolLM2 answers as ${runtimeJson.routing.embedding.model}); its stores ${stores.map((x) => `${x.host}:${x.port}`).join(', ')} are on this machine`,
      );
    }

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
    // The ports the tests call: web, mcp and rag only expose theirs to the network; here they are
    // also published, to 127.0.0.1 only, on free ports.
    const containerPorts: Record<string, number> = Object.fromEntries(
      ['web', 'mcp', 'rag'].map((n) => [n, Number((generated.services[n]?.expose as string[] | undefined)?.[0])]),
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
      if (name === 'rag') {
        // Its stores' names (qdrant, neo4j) resolve to the gateway, where the bridges to the
        // Qdrant double and the real Neo4j listen; its runtime.json is the image's but for the
        // embedding width (above), mounted where the image keeps it.
        s.extra_hosts = [...(s.extra_hosts ?? []), ...stores.map((x) => `${x.host}:${gateway}`)];
        s.volumes = [
          ...(s.volumes ?? []),
          { type: 'bind', source: ragRuntimeJson!, target: '/app/generated/runtime/runtime.json', read_only: true },
        ];
      }
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
          // The test Neo4j runs without auth and takes any password; rag refuses to start without one.
          rag: [`${runtimeJson.retrieval.stores.neo4jPasswordSecret}=${randomBytes(16).toString('hex')}`],
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
    for (const x of stores) bridges.push(await bridgeToLoopback(gateway, x.port, x.target));
  }, 40 * 60_000);

  afterAll(async () => {
    // Whatever happened above: no container, volume or network of the project survives.
    const anonymous = await anonymousVolumes();
    if (dir) await compose(['down', '-v', '-t', '5']);
    const left = (await podman(['ps', '-aq', '--filter', `label=io.podman.compose.project=${project}`])).stdout.trim();
    if (left) await podman(['rm', '--force', '--volumes', '--time', '0', ...left.split('\n')]);
    const vols = (await podman(['volume', 'ls', '-q', '--filter', `label=io.podman.compose.project=${project}`])).stdout.trim();
    if (vols) await podman(['volume', 'rm', '--force', ...vols.split('\n')]);
    if (anonymous.length) await podman(['volume', 'rm', '--force', ...anonymous]);
    await podman(['network', 'rm', '--force', network]);
    for (const b of bridges) await b.close();
    await ollama?.stop();
    await discord?.close();
    await qdrant?.close();
    await neo4j?.stop();
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

  it('indexes a vault note and retrieves it over the rag API: embedded by the real Ollama, stored in the Qdrant double and the real Neo4j', async (ctx) => {
    if (!running.includes('rag')) {
      console.warn('compose smoke: no retrieval round trip: rag is not in the smoke');
      ctx.skip();
    }
    // A note in the vault, owned like the vault (rag mounts it read-only).
    const notes = join(vault, 'notes');
    mkdirSync(notes, { recursive: true, mode: 0o750 });
    const note = join(notes, 'Herons.md');
    writeFileSync(note, '---\ntags: [birds]\n---\n# Herons\n\nThe grey heron nests in the reed beds of Quillwater Lagoon every April.\n');
    for (const p of [notes, note]) chownSync(p, owner.uid, owner.gid);
    const base = `http://127.0.0.1:${published.get('rag')!}`;
    const post = (path: string, body?: unknown): Promise<Response> =>
      fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });

    const started = await post('/index');
    expect(started.status, await started.clone().text()).toBe(202);
    const deadline = Date.now() + 180_000;
    for (;;) {
      const h = (await (await fetch(`${base}/healthz`)).json()) as { ok: boolean; indexing: boolean };
      expect(h.ok).toBe(true);
      if (!h.indexing) break;
      if (Date.now() > deadline) {
        const logs = await podman(['logs', '--tail', '40', await containerOf('rag')]);
        throw new Error(`the index run did not finish in time; rag log:\n${logs.stdout}${logs.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    // The run's last progress event: `done`, with its stats (an error would have left a `note` or nothing).
    const events = new AbortController();
    const stream = await fetch(`${base}/index/events`, { signal: events.signal });
    const reader = stream.body!.getReader();
    let text = '';
    while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
    events.abort();
    expect(text, (await podman(['logs', '--tail', '40', await containerOf('rag')])).stdout).toMatch(/^event: done$/m);
    const stats = (JSON.parse(/^data: (.*)$/m.exec(text)![1]!) as { stats: { indexed: number; chunks: number } }).stats;
    expect(stats.indexed).toBe(1);
    expect(stats.chunks).toBeGreaterThanOrEqual(1);

    // The vectors reached the Qdrant double (through the name qdrant), as wide as the real Ollama embeds, every request valid.
    expect(qdrant!.invalid).toEqual([]);
    const collection = qdrant!.collections.get(baseRuntimeConfig().retrieval.stores.qdrantCollection);
    expect(collection?.points.size).toBe(stats.chunks);
    const dense = Object.values([...collection!.points.values()][0]!.vector).find(Array.isArray) as number[] | undefined;
    expect(dense?.length).toBe(embedWidth);
    // The note and its chunks reached the real Neo4j (through the name neo4j).
    const driver = neo4jDriver.driver(`bolt://127.0.0.1:${neo4j!.port}`);
    try {
      const r = await driver.executeQuery('MATCH (:Note {path: $path})-[:HAS_CHUNK]->(c:Chunk) RETURN count(c) AS n', {
        path: 'notes/Herons.md',
      });
      expect(r.records[0]!.get('n').toNumber()).toBe(stats.chunks);
    } finally {
      await driver.close();
    }

    // A question comes back with the note, cited, and the vector retriever found it (the query embedded by the real Ollama).
    const asked = await post('/retrieve', { query: 'Where does the grey heron nest?', debug: true });
    expect(asked.status, await asked.clone().text()).toBe(200);
    const answer = (await asked.json()) as {
      results: { notePath: string; citation: string; text: string }[];
      debug: { lists: { retriever: string; results: { id: string }[] }[] };
    };
    expect(answer.results[0]).toMatchObject({ notePath: 'notes/Herons.md', citation: expect.stringContaining('[[notes/Herons') });
    expect(answer.results[0]!.text).toContain('Quillwater Lagoon');
    expect(answer.debug.lists.find((l) => l.retriever === 'vector')?.results.length).toBeGreaterThanOrEqual(1);
    // A bad request is a 4xx {code, message}.
    const bad = await post('/retrieve', { query: '' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'RAG_BAD_REQUEST' });
  }, 300_000);

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
    const anonymous = await anonymousVolumes();
    const down = await compose(['down', '-v', '-t', '5']);
    expect(down.code, down.stderr).toBe(0);
    expect((await podmanOk(['ps', '-aq', '--filter', `label=io.podman.compose.project=${project}`])).trim()).toBe('');
    expect((await podmanOk(['volume', 'ls', '-q', '--filter', `label=io.podman.compose.project=${project}`])).trim()).toBe('');
    if (anonymous.length) await podmanOk(['volume', 'rm', ...anonymous]);
    const left = (await podmanOk(['volume', 'ls', '-q'])).trim().split('\n');
    expect(anonymous.filter((v) => left.includes(v))).toEqual([]);
  }, 120_000);
});
