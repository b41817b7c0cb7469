import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { freePort, tempDir } from '../helpers.js';

/*
 * A real nats-server for the JetStream queue tests: one node, or a three-node JetStream cluster,
 * on 127.0.0.1 free ports with temp store dirs. Nodes can be killed (SIGKILL) and restarted on
 * the same ports and store. close() kills every node and removes the stores.
 *
 * The binary is the one scripts/install-nats.sh builds (NATS_SERVER_BIN overrides). Tests that
 * need it skip, saying why, when it is missing: natsServerMissing() gives the reason.
 *
 *   const nats = await startNats();                   // nats.url
 *   const cluster = await startNatsCluster(3);        // cluster.urls, cluster.kill(1), cluster.restart(1)
 */

export const NATS_SERVER_BIN =
  process.env.NATS_SERVER_BIN ??
  join(process.env.LLM_PLATFORM_CACHE ?? join(homedir(), '.cache/llm-platform'), 'nats-server-v2.15.2/nats-server');

/** Why the NATS tests cannot run here, or undefined when they can. */
export function natsServerMissing(): string | undefined {
  return existsSync(NATS_SERVER_BIN) ? undefined : `nats-server not found at ${NATS_SERVER_BIN}: run scripts/install-nats.sh`;
}

interface Node {
  name: string;
  port: number;
  monitor: number;
  conf: string;
  proc?: ChildProcess | undefined;
  log: string;
}

export interface NatsCluster {
  /** Client URLs, `nats://127.0.0.1:PORT`, one per node. */
  readonly urls: string[];
  readonly url: string;
  /** Monitoring ports (`/healthz`, `/connz`), one per node. */
  readonly monitors: number[];
  /** SIGKILLs node i. */
  kill(i: number): Promise<void>;
  /** Starts node i again (same port, same store) and waits until it is healthy. */
  restart(i: number): Promise<void>;
  /** The node's output so far (for failure messages). */
  log(i: number): string;
  close(): Promise<void>;
}

const live = new Set<NatsCluster>();
process.once('exit', () => {
  for (const c of live) void c.close();
});

export interface NatsOptions {
  /** Extra server config (an `authorization { ... }` block), appended to every node's file. */
  readonly extra?: string;
}

/** One JetStream node. */
export function startNats(opts: NatsOptions = {}): Promise<NatsCluster> {
  return startNatsCluster(1, opts);
}

/** `size` JetStream nodes clustered over routes (size 1: a plain single node). */
export async function startNatsCluster(size: number, opts: NatsOptions = {}): Promise<NatsCluster> {
  const missing = natsServerMissing();
  if (missing) throw new Error(missing);
  const dir = tempDir('nats-test-');
  const nodes: Node[] = [];
  const routePorts: number[] = [];
  for (let i = 0; i < size; i++) {
    nodes.push({ name: `n${i + 1}`, port: await freePort(), monitor: await freePort(), conf: join(dir, `n${i + 1}.conf`), log: '' });
    routePorts.push(await freePort());
  }
  nodes.forEach((n, i) => {
    const store = join(dir, n.name);
    mkdirSync(store, { recursive: true });
    const lines = [
      `server_name: ${n.name}`,
      `listen: 127.0.0.1:${n.port}`,
      `http: 127.0.0.1:${n.monitor}`,
      `jetstream { store_dir: ${JSON.stringify(store)}, max_memory_store: 64MB, max_file_store: 1GB }`,
    ];
    if (size > 1) {
      lines.push(
        `cluster {`,
        `  name: test`,
        `  listen: 127.0.0.1:${routePorts[i]}`,
        `  routes: [${routePorts.map((p) => `nats-route://127.0.0.1:${p}`).join(', ')}]`,
        `}`,
      );
    }
    if (opts.extra) lines.push(opts.extra);
    writeFileSync(n.conf, `${lines.join('\n')}\n`);
  });

  const spawnNode = (n: Node): void => {
    const p = spawn(NATS_SERVER_BIN, ['-c', n.conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer): void => {
      n.log = (n.log + d.toString()).slice(-20_000);
    };
    p.stdout!.on('data', keep);
    p.stderr!.on('data', keep);
    n.proc = p;
  };
  const healthy = async (n: Node, timeoutMs = 30_000): Promise<void> => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (n.proc?.exitCode !== null && n.proc?.exitCode !== undefined)
        throw new Error(`nats-server ${n.name} exited: ${n.log.slice(-2000)}`);
      try {
        const r = await fetch(`http://127.0.0.1:${n.monitor}/healthz`);
        if (r.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > until) throw new Error(`nats-server ${n.name} not healthy within ${timeoutMs} ms: ${n.log.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const stop = async (n: Node): Promise<void> => {
    const p = n.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGKILL');
    await gone;
  };

  for (const n of nodes) spawnNode(n);
  let closed = false;
  const cluster: NatsCluster = {
    urls: nodes.map((n) => `nats://127.0.0.1:${n.port}`),
    monitors: nodes.map((n) => n.monitor),
    get url() {
      return this.urls[0]!;
    },
    async kill(i) {
      await stop(nodes[i]!);
    },
    async restart(i) {
      const n = nodes[i]!;
      await stop(n);
      spawnNode(n);
      await healthy(n);
    },
    log: (i) => nodes[i]!.log,
    async close() {
      if (closed) return;
      closed = true;
      live.delete(cluster);
      await Promise.all(nodes.map((n) => stop(n)));
      await rm(dir, { recursive: true, force: true });
    },
  };
  live.add(cluster);
  try {
    await Promise.all(nodes.map((n) => healthy(n)));
  } catch (e) {
    await cluster.close();
    throw e;
  }
  return cluster;
}
