import { lookup as dnsLookup } from 'node:dns/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Readable } from 'node:stream';
import { RuntimeError, describeError } from '../errors.js';
import { forbiddenAddressReason } from './net-guard.js';

/*
 * An HTTP client for URLs chosen by a model, which must never reach the platform's own network.
 * Each hop resolves the name once, checks every address it got, and connects to the checked
 * address through a pinned `lookup` (so the socket never asks DNS again: no rebinding window).
 * Redirects are followed by hand so every hop goes through the same check.
 */

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Name resolution; tests inject their own to script answers. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = async (hostname) => {
  const all = await dnsLookup(hostname, { all: true, verbatim: true });
  return all.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

export interface SafeFetchOptions {
  /** `host:port` pairs that may resolve to non-public addresses (lower-case host, IPv6 in brackets). */
  allowHosts: readonly string[];
  maxRedirects: number;
  maxBytes: number;
  timeoutMs: number;
  resolver?: Resolver;
  signal?: AbortSignal;
  userAgent?: string;
}

export interface SafeFetchResult {
  /** The URL of the last hop. */
  url: string;
  status: number;
  contentType: string;
  body: Buffer;
  /** The body was cut at maxBytes. */
  truncated: boolean;
  redirects: string[];
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

function blocked(message: string): RuntimeError {
  return new RuntimeError('FETCH_BLOCKED', message, {
    hint: 'fetch reaches public http(s) addresses only; internal hosts open only through mcp.fetch.allowHosts in platform.yaml',
  });
}

function defaultPort(u: URL): number {
  return u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
}

/** Checks a URL and resolves it to the one address the connection will use. */
export async function checkTarget(
  raw: string | URL,
  opts: Pick<SafeFetchOptions, 'allowHosts' | 'resolver'>,
): Promise<{ url: URL; address: ResolvedAddress }> {
  let url: URL;
  try {
    url = typeof raw === 'string' ? new URL(raw) : raw;
  } catch {
    throw new RuntimeError('MCP_TOOL_INPUT', `"${String(raw).slice(0, 200)}" is not a URL`, {
      hint: 'pass an absolute http:// or https:// URL',
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw blocked(`the scheme "${url.protocol}" is refused; only http and https are fetched`);
  if (url.username || url.password) throw blocked('URLs with credentials are refused');
  // The WHATWG parser has already turned decimal, octal and hex IPv4 forms into dotted quads.
  const host = url.hostname.toLowerCase();
  const bare = host.startsWith('[') ? host.slice(1, -1) : host;
  const allowed = opts.allowHosts.includes(`${host}:${defaultPort(url)}`);
  let addresses: ResolvedAddress[];
  if (isIP(bare)) addresses = [{ address: bare, family: isIP(bare) === 6 ? 6 : 4 }];
  else {
    if (!/^[a-z0-9.-]+$/.test(bare) || bare.endsWith('.localhost') || bare === 'localhost') {
      if (!allowed) throw blocked(`the host name "${bare}" is refused`);
    }
    try {
      addresses = await (opts.resolver ?? systemResolver)(bare);
    } catch (e) {
      throw new RuntimeError('FETCH_FAILED', `cannot resolve ${bare}: ${describeError(e)}`, { hint: 'check the host name' });
    }
  }
  if (addresses.length === 0) throw new RuntimeError('FETCH_FAILED', `${bare} resolved to no address`, { hint: 'check the host name' });
  if (!allowed) {
    for (const a of addresses) {
      const why = forbiddenAddressReason(a.address);
      if (why !== undefined) throw blocked(`${url.origin} is refused: ${why}`);
    }
  }
  return { url, address: addresses[0]! };
}

/** A lookup that answers with the address already checked, whatever it is asked. */
function pinnedLookup(a: ResolvedAddress): LookupFunction {
  return ((_host: string, options: { all?: boolean }, cb: (...args: unknown[]) => void) => {
    if (options?.all) cb(null, [{ address: a.address, family: a.family }]);
    else cb(null, a.address, a.family);
  }) as unknown as LookupFunction;
}

function request(url: URL, address: ResolvedAddress, opts: SafeFetchOptions, signal: AbortSignal): Promise<IncomingMessage> {
  const mod = url.protocol === 'https:' ? https : http;
  const bare = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      {
        protocol: url.protocol,
        host: bare,
        port: defaultPort(url),
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        agent: false,
        lookup: pinnedLookup(address),
        signal,
        ...(url.protocol === 'https:' && !isIP(bare) ? { servername: bare } : {}),
        headers: {
          host: url.host,
          'user-agent': opts.userAgent ?? 'llm-platform-mcp-fetch/0.1',
          accept: 'text/html,application/xhtml+xml,text/markdown,text/plain;q=0.9,application/json;q=0.8,*/*;q=0.5',
          'accept-encoding': 'gzip, deflate, br',
        },
      },
      resolve,
    );
    req.on('error', reject);
    req.end();
  });
}

function decoded(res: IncomingMessage): Readable {
  const enc = String(res.headers['content-encoding'] ?? '')
    .toLowerCase()
    .trim();
  if (enc === 'gzip' || enc === 'x-gzip') return res.pipe(createGunzip());
  if (enc === 'deflate') return res.pipe(createInflate());
  if (enc === 'br') return res.pipe(createBrotliDecompress());
  return res;
}

/** Reads at most maxBytes of the decoded body (a small compressed bomb stops at the cap too). */
async function readCapped(res: IncomingMessage, maxBytes: number): Promise<{ body: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  const stream = decoded(res);
  try {
    for await (const chunk of stream) {
      const b = chunk as Buffer;
      if (size + b.length > maxBytes) {
        chunks.push(b.subarray(0, maxBytes - size));
        size = maxBytes;
        truncated = true;
        break;
      }
      chunks.push(b);
      size += b.length;
    }
  } finally {
    res.destroy();
    stream.destroy();
  }
  return { body: Buffer.concat(chunks, size), truncated };
}

export async function safeFetch(rawUrl: string, opts: SafeFetchOptions): Promise<SafeFetchResult> {
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  const redirects: string[] = [];
  let current: string | URL = rawUrl;
  try {
    for (;;) {
      const { url, address } = await checkTarget(current, opts);
      const res = await request(url, address, opts, signal);
      const status = res.statusCode ?? 0;
      if (REDIRECTS.has(status)) {
        res.resume();
        res.destroy();
        const location = res.headers.location;
        if (!location)
          throw new RuntimeError('FETCH_FAILED', `${url.href} answered ${status} without a Location`, { hint: 'try another URL' });
        if (redirects.length >= opts.maxRedirects) {
          throw new RuntimeError('FETCH_FAILED', `more than ${opts.maxRedirects} redirects from ${rawUrl}`, {
            hint: 'fetch the final URL directly',
          });
        }
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          throw new RuntimeError('FETCH_FAILED', `${url.href} redirects to an invalid URL`, { hint: 'try another URL' });
        }
        redirects.push(next.href);
        current = next;
        continue;
      }
      const { body, truncated } = await readCapped(res, opts.maxBytes);
      return { url: url.href, status, contentType: String(res.headers['content-type'] ?? ''), body, truncated, redirects };
    }
  } catch (e) {
    if (e instanceof RuntimeError) throw e;
    if (timeout.aborted)
      throw new RuntimeError('FETCH_FAILED', `no complete answer from ${rawUrl} within ${opts.timeoutMs} ms`, {
        hint: 'the site is slow or down; try again later or another source',
      });
    throw new RuntimeError('FETCH_FAILED', `fetching ${String(current)} failed: ${describeError(e)}`, {
      hint: 'the site may be down; try another source',
    });
  }
}
