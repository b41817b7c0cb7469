import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { homedir } from 'node:os';
import { join } from 'node:path';

/*
 * A real nats-server for tests, and just enough of the NATS client protocol (INFO, CONNECT, PUB,
 * SUB, MSG, PING/PONG, -ERR) over a plain socket to check what a user may publish and receive.
 */

/** The nats-server scripts/install-nats.sh builds, or NATS_SERVER_BIN; undefined when neither is there. */
export function natsServerBin(): string | undefined {
  const candidates = [process.env.NATS_SERVER_BIN, join(homedir(), '.cache/llm-platform/nats-server-v2.15.2/nats-server')];
  return candidates.find((c): c is string => c !== undefined && c !== '' && existsSync(c));
}

export interface NatsServer {
  port: number;
  proc: ChildProcess;
  log: () => string;
  stop: () => Promise<void>;
}

/** Start nats-server on `args` (config plus overrides) and wait until it accepts clients on `port`. */
export async function startNatsServer(bin: string, args: string[], env: Record<string, string>, port: number): Promise<NatsServer> {
  const proc = spawn(bin, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const deadline = Date.now() + 15_000;
  while (!log.includes('Server is ready')) {
    if (proc.exitCode !== null) throw new Error(`nats-server exited with ${proc.exitCode}:\n${log}`);
    if (Date.now() > deadline) throw new Error(`nats-server did not become ready:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    proc,
    log: () => log,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

/** The loopback ports one server of a test cluster listens on. */
export interface ServerPorts {
  client: number;
  cluster: number;
  monitor: number;
}

/**
 * Starts one nats-server per host on its config file, every listen address pinned to 127.0.0.1 on
 * the host's test ports (the config's own addresses, tailnet or 0.0.0.0, never bind).
 */
export async function startServersFrom(
  bin: string,
  hosts: readonly string[],
  confOf: (host: string) => string,
  ports: Record<string, ServerPorts>,
): Promise<NatsServer[]> {
  const started: NatsServer[] = [];
  for (const host of hosts) {
    const pt = ports[host]!;
    const args = ['--config', confOf(host), '-a', '127.0.0.1', '-p', String(pt.client), '-m', String(pt.monitor)];
    started.push(await startNatsServer(bin, [...args, '--cluster', `nats://127.0.0.1:${pt.cluster}`], {}, pt.client));
  }
  return started;
}

/** What one server of a cluster reports on its monitoring port. */
export interface ServerState {
  /** The other servers it has routes to, by name, sorted. */
  peers: string[];
  leader?: string;
  size?: number;
  clientTls?: boolean;
  routeTls?: { tls_required?: boolean; tls_verify?: boolean };
}

/**
 * Polls /routez, /varz and /jsz of every host until each routes to all the others and JetStream
 * has a meta leader over the whole cluster; returns what each reports then, in `hosts` order.
 */
export async function waitForCluster(
  hosts: readonly string[],
  ports: Record<string, ServerPorts>,
  servers: readonly NatsServer[],
  timeoutMs = 30_000,
): Promise<ServerState[]> {
  const get = async <T>(port: number, path: string): Promise<T> => (await (await fetch(`http://127.0.0.1:${port}/${path}`)).json()) as T;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await Promise.all(
      hosts.map(async (h): Promise<ServerState> => {
        const m = ports[h]!.monitor;
        const routez = await get<{ routes: { remote_name: string }[] }>(m, 'routez');
        const varz = await get<{ tls_required?: boolean; cluster?: ServerState['routeTls'] }>(m, 'varz');
        const jsz = await get<{ meta_cluster?: { leader?: string; cluster_size?: number } }>(m, 'jsz');
        return {
          peers: [...new Set(routez.routes.map((r) => r.remote_name))].sort(),
          ...(jsz.meta_cluster?.leader ? { leader: jsz.meta_cluster.leader } : {}),
          ...(jsz.meta_cluster?.cluster_size !== undefined ? { size: jsz.meta_cluster.cluster_size } : {}),
          ...(varz.tls_required !== undefined ? { clientTls: varz.tls_required } : {}),
          ...(varz.cluster ? { routeTls: varz.cluster } : {}),
        };
      }),
    );
    const n = hosts.length;
    if (state.every((s, i) => s.peers.length === n - 1 && !s.peers.includes(hosts[i]!) && s.leader && s.size === n)) return state;
    if (Date.now() > deadline)
      throw new Error(`the cluster did not form: ${JSON.stringify(state)}\n${servers.map((s) => s.log()).join('\n')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface Msg {
  /** The subscription it arrived on (a pulled JetStream message keeps its own subject). */
  sid: number;
  subject: string;
  reply?: string;
  data: string;
}

/** One client connection: the server's -ERR lines and MSG deliveries are collected as they arrive. */
export class WireClient {
  readonly errors: string[] = [];
  private readonly msgs: Msg[] = [];
  private buf = Buffer.alloc(0);
  private pongs = 0;
  private sid = 0;

  private constructor(private readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
    });
  }

  /**
   * Connect as `user`. With `tls`, as a NATS client does with a server that requires it: read the
   * server's INFO in the clear, then upgrade the socket to TLS, verifying the server's certificate
   * with `ca` for the name `servername`, and send CONNECT over it.
   */
  static async connect(port: number, user: string, pass: string, tls?: { ca: string; servername: string }): Promise<WireClient> {
    let sock: Socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
    if (tls) {
      const raw = sock;
      await new Promise<void>((resolve, reject) => {
        let head = '';
        const timer = setTimeout(() => reject(new Error('no INFO from the server')), 5000);
        const onData = (d: Buffer): void => {
          head += d.toString();
          if (!head.includes('\r\n')) return;
          clearTimeout(timer);
          raw.off('data', onData);
          if (!head.startsWith('INFO ')) return reject(new Error(`expected INFO, got ${head}`));
          resolve();
        };
        raw.on('data', onData).once('error', reject);
      });
      const secure = tlsConnect({ socket: raw, ca: tls.ca, servername: tls.servername });
      await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
      sock = secure;
    }
    const c = new WireClient(sock);
    c.write(
      `CONNECT ${JSON.stringify({ verbose: false, pedantic: false, user, pass, protocol: 1, headers: true, no_responders: true, ...(tls ? { tls_required: true } : {}) })}\r\n`,
    );
    await c.flush();
    return c;
  }

  private parse(): void {
    for (;;) {
      const eol = this.buf.indexOf('\r\n');
      if (eol < 0) return;
      const line = this.buf.subarray(0, eol).toString();
      if (line.startsWith('MSG ') || line.startsWith('HMSG ')) {
        const parts = line.split(' ');
        const size = Number(parts[parts.length - 1]);
        const headerSize = line.startsWith('HMSG ') ? Number(parts[parts.length - 2]) : 0;
        if (this.buf.length < eol + 2 + size + 2) return;
        const body = this.buf.subarray(eol + 2 + headerSize, eol + 2 + size).toString();
        const reply = line.startsWith('HMSG ') ? (parts.length === 6 ? parts[3] : undefined) : parts.length === 5 ? parts[3] : undefined;
        this.msgs.push({ sid: Number(parts[2]), subject: parts[1]!, ...(reply ? { reply } : {}), data: body });
        this.buf = this.buf.subarray(eol + 2 + size + 2);
        continue;
      }
      this.buf = this.buf.subarray(eol + 2);
      if (line === 'PING') this.write('PONG\r\n');
      else if (line === 'PONG') this.pongs++;
      else if (line.startsWith('-ERR')) this.errors.push(line);
    }
  }

  private write(s: string): void {
    this.sock.write(s);
  }

  /** PING and wait for its PONG: every command sent before it has been processed. */
  async flush(): Promise<void> {
    const want = this.pongs + 1;
    this.write('PING\r\n');
    const deadline = Date.now() + 5000;
    while (this.pongs < want) {
      if (this.sock.destroyed) throw new Error(`connection closed: ${this.errors.join('; ')}`);
      if (Date.now() > deadline) throw new Error(`no PONG: ${this.errors.join('; ')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  publish(subject: string, data = '', reply?: string): void {
    this.write(`PUB ${subject}${reply ? ` ${reply}` : ''} ${Buffer.byteLength(data)}\r\n${data}\r\n`);
  }

  subscribe(subject: string): number {
    this.write(`SUB ${subject} ${++this.sid}\r\n`);
    return this.sid;
  }

  /** A request: subscribe a fresh inbox, publish with it as the reply subject, wait for one message. */
  async request(subject: string, data = ''): Promise<Msg | undefined> {
    const inbox = `_INBOX.t${this.sid + 1}`;
    const sid = this.subscribe(inbox);
    this.publish(subject, data, inbox);
    await this.flush();
    const deadline = Date.now() + 3000;
    for (;;) {
      const i = this.msgs.findIndex((m) => m.sid === sid);
      if (i >= 0) return this.msgs.splice(i, 1)[0];
      if (Date.now() > deadline) return undefined;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): void {
    this.sock.destroy();
  }
}
