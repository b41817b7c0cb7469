/*
 * Runtime image benchmark: `npx tsx bench/image.ts` (part of `make bench`). Prints figures,
 * asserts nothing. Skips, saying why, where podman is missing.
 *
 *   1. size: the image, its base, and what the runtime adds on top;
 *   2. cold start of each service from `podman run` to ready, as the compose file runs it
 *      (vault owner's uid, read-only root, /tmp tmpfs, a fresh /data volume): ready is the
 *      health check the generated compose file gives the service passing (the worker's is its
 *      status port); `--help` gives the floor (container start plus Node start).
 */
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadPlatform } from '../model/index.js';
import { EXAMPLE_MODEL, ROOT } from '../tests/helpers.js';
import { buildImage, inspectImage, podman, podmanMissing, podmanOk } from '../tests/image/podman.js';

const RUNS = 3;
const READY_TIMEOUT_MS = 60_000;

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const missing = podmanMissing();
  if (missing) {
    console.log(`image: skipped: ${missing}`);
    return;
  }
  const platform = loadPlatform(EXAMPLE_MODEL);
  const runtimeHost = platform.services.worker!.host;
  const compose = parse(readFileSync(join(ROOT, `generated/hosts/${runtimeHost}/docker-compose.yml`), 'utf8')) as {
    services: Record<string, { healthcheck?: { test: string[] } }>;
  };
  const runtimeJson = JSON.parse(readFileSync(join(ROOT, 'generated/runtime/runtime.json'), 'utf8')) as {
    retrieval: { stores: { neo4jPasswordSecret: string } };
    mcp: { authTokenSecret: string };
    webAccess?: { audienceSecret: string };
  };
  const secret = (): string => randomBytes(16).toString('hex');
  // The secrets each service refuses to start without, as the Infisical agent would write them:
  // throwaway values, and addresses on the container's own loopback (nothing outside is contacted).
  const secrets: Record<string, string[]> = {
    web: [
      'CF_ACCESS_TEAM_DOMAIN=bench.cloudflareaccess.invalid',
      `${runtimeJson.webAccess?.audienceSecret ?? 'CF_ACCESS_AUD'}=${secret()}`,
      'CF_ACCESS_JWKS_URL=http://127.0.0.1:9/cdn-cgi/access/certs',
    ],
    mcp: [`${runtimeJson.mcp.authTokenSecret}=${secret()}`],
    // rag reaches its stores only to index or answer.
    rag: [`${runtimeJson.retrieval.stores.neo4jPasswordSecret}=${secret()}`],
  };
  const t0 = performance.now();
  const ref = await buildImage();
  console.log(`build (cached layers when unchanged): ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const image = await inspectImage(ref);
  const baseRef = (await podmanOk(['image', 'inspect', '--format', '{{index .Labels "org.opencontainers.image.base.name"}}', ref])).trim();
  const history = JSON.parse(await podmanOk(['image', 'history', '--format', 'json', ref])) as Array<{
    size: number;
    createdBy?: string;
    CreatedBy?: string;
    Size?: number;
  }>;
  console.log(`image ${ref}: ${mb(image.size)}${baseRef ? ` (base ${baseRef})` : ''}`);
  const layers = history
    .map((h) => ({ size: h.size ?? h.Size ?? 0, by: (h.createdBy ?? h.CreatedBy ?? '').replace(/\s+/g, ' ').slice(0, 90) }))
    .filter((l) => l.size > 1e6);
  for (const l of layers) console.log(`  ${mb(l.size).padStart(9)}  ${l.by}`);

  const owner = platform.vault.owner;
  const root = join(tmpdir(), `bench-image-${randomBytes(4).toString('hex')}`);
  const vault = join(root, 'vault');
  for (const f of Object.values(platform.vault.folders)) mkdirSync(join(vault, f), { recursive: true });
  for (const f of ['', ...Object.values(platform.vault.folders)]) chownSync(join(vault, f), owner.uid, owner.gid);
  const started: string[] = [];
  try {
    const coldStart = async (service: string): Promise<{ ms: number; note: string }> => {
      const name = `bench-image-${service}-${randomBytes(3).toString('hex')}`;
      const volume = `${name}-data`;
      const check = compose.services[service]?.healthcheck?.test;
      const healthCmd = check && check[0] === 'CMD' ? check.slice(1) : undefined;
      const t = performance.now();
      const args = [
        'run',
        '-d',
        '--name',
        name,
        '--read-only',
        '--tmpfs',
        '/tmp',
        '--user',
        `${owner.uid}:${owner.gid}`,
        '-v',
        `${vault}:/vault`,
        '-v',
        `${volume}:/data`,
      ];
      // Loopback inside the container: nothing listens there, and no address outside is contacted.
      args.push('-e', 'OTEL_SDK_DISABLED=true', '-e', 'OLLAMA_URL_CONTABO=http://127.0.0.1:9', '-e', 'OLLAMA_URL_DAVAS=http://127.0.0.1:9');
      for (const kv of secrets[service] ?? []) args.push('-e', kv);
      if (healthCmd) args.push('--health-cmd', JSON.stringify(healthCmd));
      started.push(name);
      await podmanOk([...args, ref, service]);
      try {
        for (;;) {
          const state = JSON.parse(await podmanOk(['inspect', '--format', '{{json .State}}', name])) as {
            Running: boolean;
            ExitCode: number;
          };
          if (!state.Running) {
            const logs = await podman(['logs', name]);
            const ms = performance.now() - t;
            const line = `${logs.stderr}${logs.stdout}`.trim().split('\n').pop() ?? '';
            return { ms, note: `exited ${state.ExitCode}: ${line.slice(0, 100)}` };
          }
          if (healthCmd && (await podman(['healthcheck', 'run', name])).code === 0) return { ms: performance.now() - t, note: 'healthy' };
          if (performance.now() - t > READY_TIMEOUT_MS) return { ms: performance.now() - t, note: 'not ready in time' };
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        await podman(['rm', '--force', '--volumes', '--time', '5', name]);
        await podman(['volume', 'rm', '--force', volume]);
        started.splice(started.indexOf(name), 1);
      }
    };

    const help = [];
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      await podmanOk(['run', '--rm', ref, '--help']);
      help.push(performance.now() - t);
    }
    console.log(`cold start, median of ${RUNS} (podman run to ready):`);
    console.log(`  ${'--help'.padEnd(8)} ${median(help).toFixed(0).padStart(6)} ms  (container plus Node start, exits)`);
    // The long-running services (`runtime index` is a one-shot command that needs its stores).
    for (const service of ['web', 'worker', 'mcp', 'rag']) {
      const runs = [];
      for (let i = 0; i < RUNS; i++) runs.push(await coldStart(service));
      const note = runs.at(-1)!.note;
      console.log(
        `  ${service.padEnd(8)} ${median(runs.map((r) => r.ms))
          .toFixed(0)
          .padStart(6)} ms  (${note})`,
      );
    }
  } finally {
    for (const name of started) await podman(['rm', '--force', '--volumes', '--time', '0', name]);
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
