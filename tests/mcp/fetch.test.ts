import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../runtime/src/errors.js';
import {
  forbiddenAddressReason,
  safeFetch,
  type ResolvedAddress,
  type Resolver,
  type SafeFetchOptions,
} from '../../runtime/src/mcp/index.js';
import { sleep, startHttp, type HttpDouble } from '../doubles/http.js';
import { startPages } from './helpers.js';

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isRuntimeError(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'OK';
}

/** A scripted resolver: answer i for the i-th lookup of a name (the last one repeats). */
function scripted(answers: Record<string, string[][]>): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const counts = new Map<string, number>();
  const fn = (async (name: string): Promise<ResolvedAddress[]> => {
    calls.push(name);
    const list = answers[name];
    if (!list) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    const n = counts.get(name) ?? 0;
    counts.set(name, n + 1);
    return list[Math.min(n, list.length - 1)]!.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  }) as Resolver & { calls: string[] };
  fn.calls = calls;
  return fn;
}

describe('fetch refuses internal addresses (SSRF)', () => {
  let pages: HttpDouble;
  let base: SafeFetchOptions;
  beforeAll(async () => {
    pages = await startPages();
    // No allow-list: the page server on 127.0.0.1 must be unreachable.
    base = { allowHosts: [], maxRedirects: 3, maxBytes: 100_000, timeoutMs: 3000, resolver: scripted({}) };
  });
  afterAll(async () => {
    await pages.close();
  });

  it.each([
    ['127.0.0.1', /loopback/],
    ['10.0.0.1', /private/],
    ['169.254.169.254', /link-local/],
    ['[::1]', /loopback/],
    ['[::ffff:127.0.0.1]', /IPv4-mapped for 127\.0\.0\.1, which is loopback/],
    ['0x7f000001', /127\.0\.0\.1 is loopback/],
    ['2130706433', /127\.0\.0\.1 is loopback/],
    ['017700000001', /127\.0\.0\.1 is loopback/],
    ['127.1', /loopback/],
    ['0.0.0.0', /unspecified/],
    ['100.64.0.1', /carrier-grade NAT/],
    ['192.168.1.1', /private/],
    ['172.16.0.1', /private/],
    ['224.0.0.1', /multicast/],
    ['255.255.255.255', /broadcast/],
    ['198.18.0.1', /benchmarking/],
    ['192.0.2.1', /documentation/],
    ['[fd00:ec2::254]', /unique local/],
    ['[fe80::1]', /link-local/],
    ['[::127.0.0.1]', /IPv4-compatible/],
    ['[64:ff9b::a9fe:a9fe]', /NAT64.*169\.254\.169\.254/],
    ['[::ffff:a00:1]', /10\.0\.0\.1.*private/],
  ])('refuses http://%s', async (host, why) => {
    const port =
      host.startsWith('127') || host.startsWith('0x') || /^\d+$/.test(host) || host === '[::1]' || host.includes('127.0.0.1')
        ? `:${pages.port}`
        : '';
    const before = pages.requests.length;
    const r = await code(safeFetch(`http://${host}${port}/article`, base));
    expect(r).toMatch(/^FETCH_BLOCKED: /);
    expect(r).toMatch(why);
    expect(pages.requests.length).toBe(before);
  });

  it('refuses a name that resolves to a private address, and one whose answers mix public and private', async () => {
    const resolver = scripted({ 'intranet.example': [['10.1.2.3']], 'mixed.example': [['93.184.215.14', '127.0.0.1']] });
    expect(await code(safeFetch('http://intranet.example/', { ...base, resolver }))).toMatch(/^FETCH_BLOCKED: .*10\.1\.2\.3 is private/);
    expect(await code(safeFetch('https://mixed.example/', { ...base, resolver }))).toMatch(/^FETCH_BLOCKED: .*127\.0\.0\.1 is loopback/);
  });

  it('connects to the address it checked: a second, different answer is never asked for', async () => {
    // The first answer reaches the test page server (allow-listed by name and port, as the model
    // would list an internal host); every later answer points elsewhere. A client that looked
    // the name up again would connect to 10.0.0.1 and fail.
    const resolver = scripted({ 'rebind.example': [['127.0.0.1'], ['10.0.0.1']] });
    const r = await safeFetch(`http://rebind.example:${pages.port}/plain`, {
      ...base,
      allowHosts: [`rebind.example:${pages.port}`],
      resolver,
    });
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('just text\n');
    expect(resolver.calls).toEqual(['rebind.example']);
    expect(pages.requests.at(-1)!.headers.host).toBe(`rebind.example:${pages.port}`);
  });

  it('refuses a name whose first answer is private before any second lookup', async () => {
    const resolver = scripted({ 'flip.example': [['127.0.0.1'], ['93.184.215.14']] });
    expect(await code(safeFetch('http://flip.example/', { ...base, resolver }))).toMatch(/^FETCH_BLOCKED/);
    expect(resolver.calls).toEqual(['flip.example']);
  });

  it('checks every redirect: into a private address, cloud metadata or another scheme is refused', async () => {
    const opts = { ...base, allowHosts: [`127.0.0.1:${pages.port}`] };
    expect(await code(safeFetch(`${pages.url}/to-private`, opts))).toMatch(
      /^FETCH_BLOCKED: http:\/\/10\.0\.0\.1 is refused: 10\.0\.0\.1 is private/,
    );
    expect(await code(safeFetch(`${pages.url}/to-metadata`, opts))).toMatch(/^FETCH_BLOCKED: .*169\.254\.169\.254/);
    expect(await code(safeFetch(`${pages.url}/to-file`, opts))).toMatch(/^FETCH_BLOCKED: the scheme "file:"/);
    const ok = await safeFetch(`${pages.url}/to-article`, opts);
    expect(ok.redirects).toEqual([`${pages.url}/article`]);
  });

  it('refuses other schemes, credentials in URLs and localhost names', async () => {
    expect(await code(safeFetch('file:///etc/passwd', base))).toMatch(/^FETCH_BLOCKED: the scheme "file:"/);
    expect(await code(safeFetch('ftp://example.com/', base))).toMatch(/^FETCH_BLOCKED/);
    expect(await code(safeFetch('http://user:pw@example.com/', base))).toMatch(/credentials/);
    expect(await code(safeFetch(`http://localhost:${pages.port}/`, base))).toMatch(/^FETCH_BLOCKED: the host name "localhost"/);
  });

  it('caps redirects, bytes and time', async () => {
    const opts = { ...base, allowHosts: [`127.0.0.1:${pages.port}`] };
    expect(await code(safeFetch(`${pages.url}/loop`, opts))).toMatch(/^FETCH_FAILED: more than 3 redirects/);
    const big = await safeFetch(`${pages.url}/big`, { ...opts, maxBytes: 1000 });
    expect(big.truncated).toBe(true);
    expect(big.body.length).toBe(1000);
    const slow = await startHttp(async (_req, res) => {
      await sleep(2000);
      res.end('late');
    });
    try {
      expect(await code(safeFetch(`${slow.url}/`, { ...base, allowHosts: [`127.0.0.1:${slow.port}`], timeoutMs: 200 }))).toMatch(
        /^FETCH_FAILED: no complete answer .* within 200 ms/,
      );
    } finally {
      await slow.close();
    }
  });

  it('lets public unicast addresses through the address check', () => {
    for (const a of ['93.184.215.14', '1.1.1.1', '2606:4700:4700::1111', '64:ff9b::808:808', '::ffff:8.8.8.8'])
      expect(forbiddenAddressReason(a), a).toBeUndefined();
    expect(forbiddenAddressReason('not-an-ip')).toMatch(/not an IP/);
  });
});
