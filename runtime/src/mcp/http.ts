import { randomUUID, timingSafeEqual, createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { describeError } from '../errors.js';
import { createMcpServer } from './server.js';
import type { ToolContext } from './tools.js';

/*
 * Streamable HTTP on /mcp. Before the SDK sees a request it must pass, in order: the Host
 * header (DNS rebinding: a browser page on an attacker's name that resolves here carries that
 * name), the Origin header when a browser sends one, and the bearer token. A session is created
 * by an initialize request and owns a new McpServer and a new transport; DELETE ends it.
 */

export interface McpHttpOptions {
  ctx: ToolContext;
  /** The bearer token clients must present; `null` turns auth off (conformance runs only). */
  token: string | null;
  /** Host header names accepted (without port; IPv6 in brackets). */
  hostnames: readonly string[];
  /** Origin values accepted; a request without Origin passes. */
  origins: readonly string[];
  port: number;
  /** Address to bind; loopback unless the caller says otherwise. */
  host?: string;
  maxSessions?: number;
  /** A session idle this long is closed. */
  sessionIdleMs?: number;
  maxBodyBytes?: number;
}

export interface McpHttpServer {
  readonly url: string;
  readonly port: number;
  sessionCount(): number;
  close(): Promise<void>;
}

interface Session {
  transport: StreamableHTTPServerTransport;
  close: () => Promise<void>;
  lastSeen: number;
}

function jsonError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  hint: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: `${code}: ${message}`, data: { code, hint } }, id: null }));
}

/** The host name of a Host header, lower-case, IPv6 kept in brackets, port dropped. */
export function hostnameOf(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  try {
    return new URL(`http://${hostHeader}`).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

function sameToken(given: string, expected: string): boolean {
  // Hash both so the comparison takes the same time whatever the lengths.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

async function readJson(
  req: IncomingMessage,
  max: number,
): Promise<{ ok: true; value: unknown } | { ok: false; status: number; message: string }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > max) return { ok: false, status: 413, message: `the request body is over ${max} bytes` };
    chunks.push(c as Buffer);
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch {
    return { ok: false, status: 400, message: 'the request body is not JSON' };
  }
}

export async function startMcpHttpServer(opts: McpHttpOptions): Promise<McpHttpServer> {
  const sessions = new Map<string, Session>();
  const hostnames = new Set(opts.hostnames.map((h) => h.toLowerCase()));
  const origins = new Set(opts.origins.map((o) => new URL(o).origin));
  const maxSessions = opts.maxSessions ?? 1000;
  const idleMs = opts.sessionIdleMs ?? 30 * 60_000;
  const maxBody = opts.maxBodyBytes ?? 4 * 1024 * 1024;
  const { log, metrics } = opts.ctx;

  const setGauge = (): void => metrics.set('platform_mcp_sessions_open', sessions.size, {});

  const newSession = async (): Promise<StreamableHTTPServerTransport> => {
    const server = createMcpServer(opts.ctx);
    let id: string | undefined;
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sid) => {
        id = sid;
        sessions.set(sid, { transport, lastSeen: Date.now(), close: () => server.close() });
        setGauge();
        log.debug('mcp session opened', { session: sid });
      },
    });
    transport.onclose = () => {
      if (id !== undefined && sessions.delete(id)) {
        setGauge();
        log.debug('mcp session closed', { session: id });
      }
    };
    await server.connect(transport);
    return transport;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    const host = hostnameOf(req.headers.host);
    if (!host || !hostnames.has(host)) {
      jsonError(
        res,
        403,
        'MCP_HOST_REFUSED',
        `the Host "${req.headers.host ?? ''}" is not one this server answers to`,
        'connect through a host name listed in mcp.hostnames',
      );
      return;
    }
    if (path === '/healthz' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, sessions: sessions.size }));
      return;
    }
    const origin = req.headers.origin;
    // A page served from one of the server's own names (loopback included) may call it; any
    // other browser origin only when the model lists it.
    if (origin !== undefined && !origins.has(origin) && !hostnames.has(hostnameOf(origin.replace(/^[a-z]+:\/\//i, '')) ?? '')) {
      jsonError(
        res,
        403,
        'MCP_ORIGIN_REFUSED',
        `the Origin "${origin}" is not allowed`,
        'add the web origin to mcp.origins, or connect from a desktop client (no Origin)',
      );
      return;
    }
    if (path !== '/mcp') {
      jsonError(res, 404, 'NOT_FOUND', `no endpoint at ${path}`, 'the MCP endpoint is /mcp');
      return;
    }
    if (opts.token !== null) {
      const auth = req.headers.authorization ?? '';
      const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      if (!m || !sameToken(m[1]!, opts.token)) {
        jsonError(
          res,
          401,
          'MCP_AUTH',
          m ? 'the bearer token is wrong' : 'no bearer token',
          'send "Authorization: Bearer <token>" with the value of the MCP_AUTH_TOKEN secret',
          { 'www-authenticate': 'Bearer realm="mcp"' },
        );
        return;
      }
    }
    const sid = req.headers['mcp-session-id'];
    const sessionId = Array.isArray(sid) ? sid[0] : sid;
    let body: unknown;
    if (req.method === 'POST') {
      const parsed = await readJson(req, maxBody);
      if (!parsed.ok) {
        jsonError(res, parsed.status, 'MCP_BAD_REQUEST', parsed.message, 'send one JSON-RPC message or a batch');
        return;
      }
      body = parsed.value;
    }
    if (sessionId !== undefined) {
      const s = sessions.get(sessionId);
      if (!s) {
        jsonError(res, 404, 'MCP_SESSION_UNKNOWN', 'no such session (it ended or the server restarted)', 'initialize a new session');
        return;
      }
      s.lastSeen = Date.now();
      await s.transport.handleRequest(req, res, body);
      return;
    }
    const isInit = req.method === 'POST' && (Array.isArray(body) ? body.some((m) => isInitializeRequest(m)) : isInitializeRequest(body));
    if (!isInit) {
      jsonError(
        res,
        400,
        'MCP_NO_SESSION',
        'no Mcp-Session-Id header and not an initialize request',
        'start with an initialize request; send its Mcp-Session-Id on every later request',
      );
      return;
    }
    if (sessions.size >= maxSessions) {
      jsonError(res, 503, 'MCP_BUSY', `${maxSessions} sessions are open`, 'end unused sessions (DELETE /mcp) or try again later', {
        'retry-after': '5',
      });
      return;
    }
    const transport = await newSession();
    await transport.handleRequest(req, res, body);
  };

  const http: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      log.error('mcp request failed', { error: describeError(e) });
      jsonError(res, 500, 'INTERNAL', 'the request failed inside the server', 'try again; the server log has the cause');
    });
  });
  // Idle sessions are closed, so a client that vanished does not hold a server forever.
  const sweep = setInterval(
    () => {
      const cutoff = Date.now() - idleMs;
      for (const [, s] of sessions) if (s.lastSeen < cutoff) void s.transport.close();
    },
    Math.min(idleMs, 60_000),
  );
  sweep.unref();

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  const bind = opts.host ?? '127.0.0.1';
  return {
    url: `http://${bind.includes(':') ? `[${bind}]` : bind}:${port}/mcp`,
    port,
    sessionCount: () => sessions.size,
    close: async () => {
      clearInterval(sweep);
      await Promise.all([...sessions.values()].map((s) => s.transport.close().catch(() => undefined)));
      sessions.clear();
      setGauge();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
