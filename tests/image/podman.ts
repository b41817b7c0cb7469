import { execFile, spawnSync } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../helpers.js';

/*
 * Podman plumbing for the image tests and the image benchmark: the project's containers.conf
 * (rlimits a sandboxed machine accepts), the image build through scripts/image-build.sh, and a
 * TCP bridge that lets containers on a podman network reach a server on the host's loopback.
 */

const execFileP = promisify(execFile);

export const CONTAINERS_CONF = join(ROOT, 'scripts/containers.conf');
export const podmanEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ ...process.env, CONTAINERS_CONF, ...extra });

/** Why the container tests cannot run here, or undefined when they can. */
export function podmanMissing(tools: readonly string[] = ['podman']): string | undefined {
  for (const tool of tools) {
    const r = spawnSync(tool, ['--version'], { encoding: 'utf8', env: podmanEnv() });
    if (r.error || r.status !== 0)
      return `${tool} is not installed (apt-get install -y podman buildah podman-compose debootstrap, or bash scripts/install-tools.sh)`;
  }
  const info = spawnSync('podman', ['info', '--format', '{{.Host.OCIRuntime.Name}}'], { encoding: 'utf8', env: podmanEnv() });
  if (info.status !== 0) return `podman cannot run containers here: ${info.stderr.trim().split('\n').pop() ?? ''}`;
  return undefined;
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs podman (or podman-compose) to completion; never throws on a non-zero exit. */
export async function podman(
  args: readonly string[],
  opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number; bin?: string } = {},
): Promise<Run> {
  try {
    const r = await execFileP(opts.bin ?? 'podman', [...args], {
      env: podmanEnv(opts.env),
      cwd: opts.cwd ?? ROOT,
      timeout: opts.timeoutMs ?? 120_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? err.message };
  }
}

/** Like `podman` but fails loudly, with podman's own words. */
export async function podmanOk(args: readonly string[], opts: Parameters<typeof podman>[1] = {}): Promise<string> {
  const r = await podman(args, opts);
  if (r.code !== 0) throw new Error(`${opts.bin ?? 'podman'} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim().slice(-2000)}`);
  return r.stdout;
}

/**
 * Builds the image as `make image` does (cached layers make a rebuild quick) and returns its
 * reference. The first build on a machine takes minutes (base image, better-sqlite3 from source).
 */
export async function buildImage(): Promise<string> {
  const r = await podman([join(ROOT, 'scripts/image-build.sh')], { bin: 'bash', timeoutMs: 30 * 60_000, env: { IMAGE_BUILD_QUIET: '1' } });
  if (r.code !== 0) throw new Error(`scripts/image-build.sh exited ${r.code}:\n${r.stderr.slice(-4000)}`);
  const ref = r.stdout.trim().split('\n').pop() ?? '';
  if (!ref) throw new Error('scripts/image-build.sh printed no image reference');
  return ref;
}

/** The image's user, labels, health check and size, from `podman image inspect`. */
export interface ImageFacts {
  user: string;
  labels: Record<string, string>;
  healthcheck: string[] | undefined;
  entrypoint: string[];
  env: Record<string, string>;
  size: number;
}

export async function inspectImage(ref: string): Promise<ImageFacts> {
  const [raw] = JSON.parse(await podmanOk(['image', 'inspect', ref])) as Array<{
    Size: number;
    /** podman keeps a docker-format image's health check beside Config. */
    Healthcheck?: { Test?: string[] };
    Config: { User?: string; Labels?: Record<string, string>; Healthcheck?: { Test?: string[] }; Entrypoint?: string[]; Env?: string[] };
  }>;
  if (!raw) throw new Error(`podman image inspect ${ref}: no image`);
  const c = raw.Config;
  return {
    user: c.User ?? '',
    labels: c.Labels ?? {},
    healthcheck: raw.Healthcheck?.Test ?? c.Healthcheck?.Test,
    entrypoint: c.Entrypoint ?? [],
    env: Object.fromEntries((c.Env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
    size: raw.Size,
  };
}

/**
 * A TCP bridge from `listenHost` (a podman network's gateway: an address only that network's
 * containers and this host see) to a server on 127.0.0.1. The gateway address exists once the
 * network's first container is up, so listening retries until then; the port is chosen before
 * (freePort) so the containers can be told it at start.
 */
export interface Bridge {
  readonly port: number;
  close(): Promise<void>;
}

export async function bridgeToLoopback(listenHost: string, listenPort: number, targetPort: number, timeoutMs = 120_000): Promise<Bridge> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    const outbound = connect(targetPort, '127.0.0.1');
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(listenPort, listenHost, () => {
          server.off('error', reject);
          resolve();
        });
      });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRNOTAVAIL' || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('bridge: no port');
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port free on 127.0.0.1 right now, for a listener that binds it a moment later on another address. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const a = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (!a || typeof a === 'string') throw new Error('freePort: no port');
  return a.port;
}
