/*
 * Shared plumbing for the protocol doubles: a real HTTP server on 127.0.0.1 with an ephemeral
 * port, a record of every request, a count of connections the client closed before the answer
 * was finished (abort tests), and down()/up() that really stop listening (connection refused).
 *
 *   const srv = await startHttp(async (req, res, body) => { res.end('ok') });
 *   srv.url; srv.requests; await srv.down(); await srv.up(); await srv.close();
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  /** Parsed JSON body when it is JSON, else the raw text. */
  body: unknown;
  at: number;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: unknown) => Promise<void> | void;

export interface HttpDouble {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  /** Responses the client hung up on before they were finished. */
  readonly clientAborts: number;
  /** Resolves at the next client hang-up after this call: call it before the action that should hang up. */
  nextClientAbort(timeoutMs?: number): Promise<void>;
  /** Stops listening and drops open connections: clients get ECONNREFUSED. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function startHttp(handler: Handler): Promise<HttpDouble> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let clientAborts = 0;
  const abortWaiters: (() => void)[] = [];
  let server: Server | undefined;
  let port = 0;

  const make = (): Server => {
    const s = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          // not JSON: keep the text
        }
        requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body, at: Date.now() });
        res.on('close', () => {
          if (!res.writableFinished) {
            clientAborts++;
            for (const w of abortWaiters.splice(0)) w();
          }
        });
        Promise.resolve(handler(req, res, body)).catch((e: unknown) => {
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: String(e) }));
        });
      });
    });
    s.on('connection', (sock) => {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
    });
    return s;
  };

  const listen = (p: number): Promise<void> =>
    new Promise((resolve, reject) => {
      if (server) return resolve();
      const s = make();
      s.once('error', reject);
      s.listen(p, '127.0.0.1', () => {
        server = s;
        port = (s.address() as AddressInfo).port;
        resolve();
      });
    });

  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      const s = server;
      server = undefined;
      for (const sock of sockets) sock.destroy();
      if (!s) return resolve();
      s.close(() => resolve());
    });

  await listen(0);
  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    requests,
    get clientAborts() {
      return clientAborts;
    },
    nextClientAbort(timeoutMs = 5000) {
      return new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('the client did not close the connection')), timeoutMs);
        abortWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    },
    down: stop,
    up: () => listen(port),
    close: stop,
  };
}

/** Writes a chunk and waits for it to drain, so delays between chunks are real on the wire. */
export async function writeChunk(res: ServerResponse, chunk: string): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return false;
  const ok = res.write(chunk);
  if (!ok) await new Promise((r) => res.once('drain', r));
  return !res.destroyed;
}

/** A FIFO of per-request scripts with a default, so a test can say "429 first, then text". */
export class ScriptQueue<T> {
  private readonly queued: T[] = [];
  constructor(public fallback: T) {}
  enqueue(...scripts: T[]): void {
    this.queued.push(...scripts);
  }
  next(): T {
    return this.queued.shift() ?? this.fallback;
  }
  /** Scripts still queued. */
  pending(): number {
    return this.queued.length;
  }
}
