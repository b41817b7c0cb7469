import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { RuntimeError, describeError } from '../errors.js';
import type { AccessAuth } from './settings.js';
import type { TokenScope, TokenStore } from './token-store.js';

/*
 * Who is asking. Cloudflare Access puts a signed JWT in `Cf-Access-Jwt-Assertion` on every
 * request that passed its login; it is checked here again (issuer = the team domain, audience =
 * the application's AUD, keys from the team's JWKS, cached and refetched on an unknown `kid`),
 * so a request that reached the origin some other way is refused. Scripts use a bearer API token.
 */

export interface Identity {
  /** The email (Access) or `token:<name>` (API token) or `local` (auth off). */
  id: string;
  kind: 'access' | 'token' | 'local';
  scope: TokenScope;
  tokenId?: string;
}

export interface Authenticator {
  /** The identity, or a RuntimeError UNAUTHORIZED saying why not. */
  authenticate(headers: Record<string, string | string[] | undefined>): Promise<Identity>;
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function unauthorized(message: string): RuntimeError {
  return new RuntimeError('UNAUTHORIZED', message, {
    hint: 'sign in through Cloudflare Access, or send `Authorization: Bearer <API token>` (runtime token create)',
  });
}

export class RequestAuthenticator implements Authenticator {
  private readonly jwks: JWTVerifyGetKey | undefined;
  private readonly issuer: string | undefined;

  constructor(
    private readonly access: AccessAuth | undefined,
    private readonly tokens: TokenStore,
  ) {
    if (access) {
      this.issuer = `https://${access.teamDomain}`;
      const url = new URL(access.jwksUrl ?? `https://${access.teamDomain}/cdn-cgi/access/certs`);
      // Keys are cached for 10 minutes; an unknown kid refetches (key rotation), at most once per cooldown.
      this.jwks = createRemoteJWKSet(url, { cacheMaxAge: 600_000, cooldownDuration: access.jwksCooldownMs, timeoutDuration: 5_000 });
    }
  }

  async authenticate(headers: Record<string, string | string[] | undefined>): Promise<Identity> {
    const jwt = header(headers, 'cf-access-jwt-assertion');
    const authz = header(headers, 'authorization');
    if (jwt !== undefined) return this.verifyAccess(jwt);
    if (authz !== undefined) {
      const m = /^Bearer\s+(\S+)$/i.exec(authz);
      if (!m) throw unauthorized('the Authorization header is not `Bearer <token>`');
      const t = this.tokens.verify(m[1]!);
      if (!t) throw unauthorized('the API token is unknown, revoked or malformed');
      return { id: `token:${t.name}`, kind: 'token', scope: t.scope, tokenId: t.id };
    }
    throw unauthorized('no credentials: neither a Cf-Access-Jwt-Assertion header nor a bearer token');
  }

  private async verifyAccess(jwt: string): Promise<Identity> {
    if (!this.access || !this.jwks || !this.issuer)
      throw unauthorized('Cloudflare Access is not configured on this server; use an API token');
    try {
      const { payload } = await jwtVerify(jwt, this.jwks, {
        issuer: this.issuer,
        audience: this.access.aud,
        // Access signs with RS256; naming it shuts out `none` and algorithm confusion.
        algorithms: ['RS256'],
        requiredClaims: ['exp', 'iat'],
        clockTolerance: 30,
      });
      const who = typeof payload.email === 'string' ? payload.email : (payload.sub ?? 'access');
      return { id: who, kind: 'access', scope: 'write' };
    } catch (e) {
      throw unauthorized(`the Access JWT was refused: ${accessReason(e)}`);
    }
  }
}

function accessReason(e: unknown): string {
  if (e instanceof joseErrors.JWTExpired) return 'it has expired';
  if (e instanceof joseErrors.JWTClaimValidationFailed) return `claim ${e.claim} failed (${e.reason})`;
  if (e instanceof joseErrors.JWKSNoMatchingKey) return 'no key in the team JWKS matches its kid';
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return 'its algorithm is not allowed';
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return 'its signature does not verify';
  if (e instanceof joseErrors.JWKSTimeout) return 'the team JWKS did not answer in time';
  if (e instanceof joseErrors.JOSEError) return e.message;
  return describeError(e);
}

/** Auth turned off (local development): everyone is `local` with write scope. */
export class NoAuth implements Authenticator {
  async authenticate(): Promise<Identity> {
    return { id: 'local', kind: 'local', scope: 'write' };
  }
}
