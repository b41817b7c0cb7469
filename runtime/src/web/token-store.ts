import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Db } from '../store/db.js';
import { RuntimeError } from '../errors.js';

/*
 * API tokens for scripts and phones: `rt_<id>_<secret>`. Only a SHA-256 of the secret is kept;
 * the plain token is shown once, when it is made. Scope `read` may only read; `write` may do
 * anything a signed-in person may.
 */

export type TokenScope = 'read' | 'write';

export interface ApiToken {
  id: string;
  name: string;
  scope: TokenScope;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

interface Row {
  id: string;
  name: string;
  scope: TokenScope;
  hash: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS api_tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  scope TEXT NOT NULL,
  hash TEXT NOT NULL,
  created_at TEXT NOT NULL,
  last_used_at TEXT,
  revoked_at TEXT
);
`;

const TOKEN_RE = /^rt_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

function toToken(r: Row): ApiToken {
  return { id: r.id, name: r.name, scope: r.scope, createdAt: r.created_at, lastUsedAt: r.last_used_at, revokedAt: r.revoked_at };
}

export class TokenStore {
  // last-used is written at most this often per token, so reads do not become writes.
  private readonly touchEveryMs = 60_000;
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly now: () => Date = () => new Date(),
  ) {
    db.exec(SCHEMA);
  }

  create(name: string, scope: TokenScope): { token: string; info: ApiToken } {
    const id = randomUUID().replace(/-/g, '');
    const secret = randomBytes(32).toString('base64url');
    this.db
      .prepare(`INSERT INTO api_tokens (id, name, scope, hash, created_at) VALUES (?, ?, ?, ?, ?)`)
      .run(id, name, scope, hashSecret(secret), this.now().toISOString());
    return { token: `rt_${id}_${secret}`, info: this.get(id)! };
  }

  get(id: string): ApiToken | undefined {
    const r = this.db.prepare(`SELECT * FROM api_tokens WHERE id = ?`).get(id) as Row | undefined;
    return r ? toToken(r) : undefined;
  }

  list(): ApiToken[] {
    return (this.db.prepare(`SELECT * FROM api_tokens ORDER BY created_at DESC, id`).all() as Row[]).map(toToken);
  }

  revoke(id: string): ApiToken {
    const t = this.get(id);
    if (!t) throw new RuntimeError('NOT_FOUND', `no API token ${id}`, { hint: 'list tokens with `runtime token list`' });
    if (!t.revokedAt) this.db.prepare(`UPDATE api_tokens SET revoked_at = ? WHERE id = ?`).run(this.now().toISOString(), id);
    return this.get(id)!;
  }

  /** The token's record when it is well formed, known, unrevoked and its secret matches. */
  verify(token: string): ApiToken | undefined {
    const m = TOKEN_RE.exec(token);
    if (!m) return undefined;
    const r = this.db.prepare(`SELECT * FROM api_tokens WHERE id = ?`).get(m[1]) as Row | undefined;
    if (!r || r.revoked_at) return undefined;
    const a = Buffer.from(r.hash, 'hex');
    const b = Buffer.from(hashSecret(m[2]!), 'hex');
    if (a.length !== b.length || !timingSafeEqual(a, b)) return undefined;
    const t = this.now();
    const last = this.touched.get(r.id) ?? 0;
    if (t.getTime() - last >= this.touchEveryMs) {
      this.touched.set(r.id, t.getTime());
      this.db.prepare(`UPDATE api_tokens SET last_used_at = ? WHERE id = ?`).run(t.toISOString(), r.id);
      r.last_used_at = t.toISOString();
    }
    return toToken(r);
  }
}
