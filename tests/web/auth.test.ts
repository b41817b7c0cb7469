import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWeb, type WebHarness } from './harness.js';
import { webSettingsFromEnv } from '../../runtime/src/web/settings.js';

/*
 * Cloudflare Access JWTs checked against a local JWKS server on 127.0.0.1, API tokens, and the
 * walk over every registered route: without credentials, all but /healthz answer 401.
 */

const TEAM = 'platform-test.cloudflareaccess.com';
const ISS = `https://${TEAM}`;
const AUD = 'a1b2c3d4e5f6-access-aud';

type Key = Awaited<ReturnType<typeof generateKeyPair>>;
let key1: Key;
let key2: Key;
let stranger: Key;
let jwks: { keys: JWK[] };
let jwksFetches = 0;
let jwksServer: Server;
let h: WebHarness;

async function publicJwk(k: Key, kid: string): Promise<JWK> {
  return { ...(await exportJWK(k.publicKey)), kid, alg: 'RS256', use: 'sig' };
}

async function jwt(
  k: Key,
  kid: string,
  claims: { aud?: string; iss?: string; exp?: number; nbf?: number; email?: string } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const t = new SignJWT({ email: claims.email ?? 'operator@example.com', type: 'app' })
    .setProtectedHeader({ alg: 'RS256', kid })
    .setIssuer(claims.iss ?? ISS)
    .setAudience(claims.aud ?? AUD)
    .setSubject('user-1')
    .setIssuedAt(now - 10)
    .setExpirationTime(claims.exp ?? now + 3600);
  if (claims.nbf !== undefined) t.setNotBefore(claims.nbf);
  return t.sign(k.privateKey);
}

beforeAll(async () => {
  [key1, key2, stranger] = await Promise.all([
    generateKeyPair('RS256', { extractable: true }),
    generateKeyPair('RS256', { extractable: true }),
    generateKeyPair('RS256', { extractable: true }),
  ]);
  jwks = { keys: [await publicJwk(key1, 'k1')] };
  jwksServer = createServer((req, res) => {
    if (req.url === '/cdn-cgi/access/certs') {
      jwksFetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
  const port = (jwksServer.address() as { port: number }).port;
  h = await startWeb({
    settings: {
      auth: { mode: 'access', teamDomain: TEAM, aud: AUD, jwksUrl: `http://127.0.0.1:${port}/cdn-cgi/access/certs`, jwksCooldownMs: 0 },
      limits: { ratePerMinute: 100_000 },
    },
  });
});

afterAll(async () => {
  await h.close();
  await new Promise((r) => jwksServer.close(r));
});

const get = (url: string, headers: Record<string, string> = {}) => h.app.inject({ method: 'GET', url, headers });

describe('Cloudflare Access JWT', () => {
  it('accepts a valid token and names the person', async () => {
    const r = await get('/api/me', { 'cf-access-jwt-assertion': await jwt(key1, 'k1') });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ identity: { id: 'operator@example.com', kind: 'access', scope: 'write' } });
  });

  it('refuses expired, not yet valid, wrong audience, wrong issuer, unknown key, alg none and missing', async () => {
    const now = Math.floor(Date.now() / 1000);
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', kid: 'k1' })).toString('base64url')}.${Buffer.from(JSON.stringify({ iss: ISS, aud: AUD, exp: now + 3600, iat: now, email: 'x@example.com' })).toString('base64url')}.`;
    const cases: [string, Record<string, string>, RegExp][] = [
      ['expired', { 'cf-access-jwt-assertion': await jwt(key1, 'k1', { exp: now - 120 }) }, /expired/],
      ['not yet valid', { 'cf-access-jwt-assertion': await jwt(key1, 'k1', { nbf: now + 600 }) }, /nbf/],
      ['wrong audience', { 'cf-access-jwt-assertion': await jwt(key1, 'k1', { aud: 'someone-else' }) }, /aud/],
      ['wrong issuer', { 'cf-access-jwt-assertion': await jwt(key1, 'k1', { iss: 'https://evil.cloudflareaccess.com' }) }, /iss/],
      ['unknown key', { 'cf-access-jwt-assertion': await jwt(stranger, 'k-unknown') }, /no key/],
      ['key id of a known key, other signature', { 'cf-access-jwt-assertion': await jwt(stranger, 'k1') }, /signature/],
      ['alg none', { 'cf-access-jwt-assertion': unsigned }, /algorithm|not allowed|JWS|Invalid/i],
      ['garbage', { 'cf-access-jwt-assertion': 'not.a.jwt' }, /refused/],
      ['missing', {}, /no credentials/],
    ];
    for (const [what, headers, why] of cases) {
      const r = await get('/api/sessions', headers);
      expect(r.statusCode, what).toBe(401);
      const b = r.json() as { code: string; message: string };
      expect(b.code, what).toBe('UNAUTHORIZED');
      expect(b.message, what).toMatch(why);
    }
  });

  it('refetches the JWKS when a token names a key it has not seen (rotation)', async () => {
    const before = jwksFetches;
    jwks = { keys: [await publicJwk(key1, 'k1'), await publicJwk(key2, 'k2')] };
    const r = await get('/api/me', { 'cf-access-jwt-assertion': await jwt(key2, 'k2', { email: 'rotated@example.com' }) });
    expect(r.statusCode).toBe(200);
    expect(r.json().identity.id).toBe('rotated@example.com');
    expect(jwksFetches).toBe(before + 1);
    // Cached: a second request with the same key fetches nothing.
    await get('/api/me', { 'cf-access-jwt-assertion': await jwt(key2, 'k2') });
    expect(jwksFetches).toBe(before + 1);
  });
});

describe('API tokens', () => {
  it('are created by a person, scoped, shown with their last use, and revocable', async () => {
    const person = { 'cf-access-jwt-assertion': await jwt(key1, 'k1') };
    const mk = async (name: string, scope: string) => {
      const r = await h.app.inject({ method: 'POST', url: '/api/tokens', payload: { name, scope }, headers: person });
      expect(r.statusCode).toBe(201);
      return r.json() as { token: string; info: { id: string } };
    };
    const reader = await mk('phone', 'read');
    const writer = await mk('script', 'write');
    expect(reader.token).toMatch(/^rt_[0-9a-f]{32}_/);
    const asReader = { authorization: `Bearer ${reader.token}` };
    const asWriter = { authorization: `Bearer ${writer.token}` };
    expect((await get('/api/sessions', asReader)).statusCode).toBe(200);
    const refused = await h.app.inject({ method: 'POST', url: '/api/sessions', payload: {}, headers: asReader });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('FORBIDDEN');
    expect((await h.app.inject({ method: 'POST', url: '/api/sessions', payload: {}, headers: asWriter })).statusCode).toBe(201);
    // A token cannot mint tokens, whatever its scope.
    expect((await h.app.inject({ method: 'POST', url: '/api/tokens', payload: { name: 'x' }, headers: asWriter })).statusCode).toBe(403);
    const list = (await get('/api/tokens', person)).json() as { tokens: { id: string; name: string; lastUsedAt: string | null }[] };
    expect(list.tokens.find((t) => t.name === 'phone')!.lastUsedAt).not.toBeNull();
    expect(JSON.stringify(list)).not.toContain(reader.token.split('_')[2]);
    // Only a hash is stored.
    const row = h.server.chats.db.prepare('SELECT hash FROM api_tokens WHERE id = ?').get(reader.info.id) as { hash: string };
    expect(row.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(row.hash).not.toContain(reader.token.split('_')[2]);
    const rev = await h.app.inject({ method: 'DELETE', url: `/api/tokens/${reader.info.id}`, headers: person });
    expect(rev.statusCode).toBe(200);
    expect(rev.json().revokedAt).not.toBeNull();
    const after = await get('/api/sessions', asReader);
    expect(after.statusCode).toBe(401);
    expect(after.json().message).toMatch(/revoked/);
    expect((await get('/api/sessions', { authorization: 'Bearer rt_nope' })).statusCode).toBe(401);
    expect((await get('/api/sessions', { authorization: 'Basic abc' })).statusCode).toBe(401);
    const tampered = writer.token.slice(0, -2) + (writer.token.endsWith('AA') ? 'BB' : 'AA');
    expect((await get('/api/sessions', { authorization: `Bearer ${tampered}` })).statusCode).toBe(401);
    expect(
      (await h.app.inject({ method: 'DELETE', url: '/api/tokens/ffffffffffffffffffffffffffffffff', headers: person })).statusCode,
    ).toBe(404);
  });
});

describe('every route', () => {
  it('refuses unauthenticated requests, except /healthz', async () => {
    const ui = join(h.dir, 'ui');
    mkdirSync(ui, { recursive: true });
    writeFileSync(join(ui, 'index.html'), '<!doctype html><title>x</title>');
    const withUi = await startWeb({
      settings: { auth: { mode: 'access', teamDomain: TEAM, aud: AUD, jwksUrl: 'http://127.0.0.1:9/none' }, uiDir: ui },
    });
    try {
      const routes = withUi.app.routeTable;
      expect(routes.length).toBeGreaterThan(20);
      const fill = (url: string): string =>
        url
          .replace(':state', 'queued')
          .replace(':name', 'job.md')
          .replace(':tokenId', 'f'.repeat(32))
          .replace(/:[a-zA-Z]+/g, '00000000-0000-4000-8000-000000000000')
          .replace('*', 'anything');
      const open: string[] = [];
      for (const r of routes) {
        const res = await withUi.app.inject({
          method: r.method as 'GET',
          url: fill(r.url),
          payload: r.method === 'GET' || r.method === 'DELETE' ? undefined : {},
        });
        if (res.statusCode !== 401) open.push(`${r.method} ${r.url} -> ${res.statusCode}`);
      }
      expect(open).toEqual(['GET /healthz -> 200']);
      // And a path no route knows is 401 too, not a hint of what exists.
      expect((await withUi.app.inject({ method: 'GET', url: '/api/secret-admin' })).statusCode).toBe(401);
    } finally {
      await withUi.close();
    }
  });

  it('rate-limits per identity with 429 and Retry-After', async () => {
    const rl = await startWeb({ settings: { limits: { ratePerMinute: 3 } } });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 4; i++) codes.push((await rl.app.inject({ method: 'GET', url: '/api/sessions' })).statusCode);
      expect(codes).toEqual([200, 200, 200, 429]);
      const r = await rl.app.inject({ method: 'GET', url: '/api/sessions' });
      expect(r.json().code).toBe('RATE_LIMITED');
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      // /healthz is outside the limit: the compose healthcheck must never be throttled.
      expect((await rl.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await rl.close();
    }
  });

  it('auth off says so in the log on every start', async () => {
    const off = await startWeb();
    try {
      expect(off.log.records.some((r) => r.level === 'warn' && /AUTH IS OFF/.test(r.msg))).toBe(true);
    } finally {
      await off.close();
    }
  });
});

describe('Access settings from the model', () => {
  const config = {
    ports: { web: 8000, mcp: 8001, rag: 8002, metrics: 9464 },
    webAccess: { teamDomain: 'team.cloudflareaccess.com', audienceSecret: 'CF_ACCESS_AUD' },
    secrets: { accessAudience: 'aud-from-infisical' },
  };

  it('takes the team domain from the runtime slice and the audience tag from the secret it names', () => {
    expect(webSettingsFromEnv({}, config).auth).toMatchObject({
      mode: 'access',
      teamDomain: 'team.cloudflareaccess.com',
      aud: 'aud-from-infisical',
    });
  });

  it('lets CF_ACCESS_TEAM_DOMAIN and CF_ACCESS_AUD override them for a local run', () => {
    const s = webSettingsFromEnv({ CF_ACCESS_TEAM_DOMAIN: 'other.cloudflareaccess.com', CF_ACCESS_AUD: 'local' }, config);
    expect(s.auth).toMatchObject({ mode: 'access', teamDomain: 'other.cloudflareaccess.com', aud: 'local' });
  });

  it('says which secret is missing when the audience tag is not there', () => {
    expect(() => webSettingsFromEnv({}, { ...config, secrets: { accessAudience: undefined } })).toThrow(
      'no Access audience tag: CF_ACCESS_AUD is not set (the edge stack writes it to Infisical)',
    );
  });
});
