import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RuntimeError, describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from './metrics.js';

/*
 * The status port of a service that serves no HTTP of its own (the worker, on ports.metrics):
 * GET /metrics, the Prometheus text of the in-process metrics mirror (what Alloy scrapes), and
 * GET /healthz, the service's own health as JSON, 200 when `ok` and 503 otherwise (what the
 * compose healthcheck calls with runtime/bin/healthcheck.js). Nothing else: any other path is a
 * 404 and any other method a 405, both in the runtime's {code, message, hint} shape. Requests
 * carry no body worth reading, so none is read; slow clients are cut off.
 */

/** The service's health, sent as JSON; `ok` decides 200 or 503. */
export interface StatusHealth {
  readonly ok: boolean;
}

export interface StatusServerOptions {
  /** Address to bind (the service's configured listen host). */
  readonly host: string;
  /** Port to bind; 0 picks a free one (tests). */
  readonly port: number;
  readonly metrics: Pick<Metrics, 'renderPrometheus'>;
  readonly health: () => StatusHealth;
  readonly log: Logger;
}

export interface StatusServer {
  /** http://host:port, as bound. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

function sendError(res: ServerResponse, e: RuntimeError, headers: Record<string, string> = {}): void {
  const { code, message, hint } = e.toJSON();
  res.writeHead(e.httpStatus, { 'content-type': 'application/json', ...headers }).end(JSON.stringify({ code, message, hint }));
}

function handle(opts: StatusServerOptions, req: IncomingMessage, res: ServerResponse): void {
  // A body is never read; let it drain so the connection can be reused.
  req.resume();
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/metrics' && path !== '/healthz') {
    sendError(res, new RuntimeError('NOT_FOUND', `no endpoint at ${path}`, { hint: 'this port serves GET /metrics and GET /healthz' }));
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendError(res, new RuntimeError('BAD_REQUEST', `${req.method} is not allowed on ${path}`, { hint: 'use GET', httpStatus: 405 }), {
      allow: 'GET, HEAD',
    });
    return;
  }
  const body =
    path === '/metrics'
      ? { status: 200, type: PROMETHEUS_TEXT, text: opts.metrics.renderPrometheus() }
      : (() => {
          const h = opts.health();
          return { status: h.ok ? 200 : 503, type: 'application/json', text: JSON.stringify(h) };
        })();
  res.writeHead(body.status, { 'content-type': body.type, 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : body.text);
}

export async function startStatusServer(opts: StatusServerOptions): Promise<StatusServer> {
  const server: Server = createServer((req, res) => {
    try {
      handle(opts, req, res);
    } catch (e) {
      opts.log.error('status request failed', { path: req.url, error: describeError(e) });
      if (!res.headersSent)
        sendError(
          res,
          new RuntimeError('INTERNAL', 'the status request failed inside the service', { hint: 'the service log has the cause' }),
        );
      else res.destroy();
    }
  });
  server.headersTimeout = 5_000;
  server.requestTimeout = 10_000;
  server.maxHeadersCount = 50;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    throw new RuntimeError('CONFIG_INVALID', `cannot listen on ${opts.host}:${opts.port} for /metrics and /healthz: ${describeError(e)}`, {
      hint: 'free the port, or change the service\'s port named "metrics" in platform.yaml and run `make render`',
      cause: e,
    });
  }
  const port = (server.address() as AddressInfo).port;
  const shown = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${shown}:${port}`,
    port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
