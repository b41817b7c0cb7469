import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { openDatabase, type Db } from '../store/db.js';
import { RuntimeError } from '../errors.js';

/*
 * Chat history in SQLite (WAL): sessions, and messages as a tree (a regenerated answer or an
 * edited question is a sibling under the same parent; a session's head is the leaf shown).
 * FTS5 indexes session titles and message contents; triggers keep both indexes in step.
 * Lives in DATA_DIR/chat.db beside the API tokens.
 */

export type MessageRole = 'user' | 'assistant';
/** streaming: a generation is writing it; interrupted: the process died while it was. */
export type MessageStatus = 'complete' | 'streaming' | 'stopped' | 'error' | 'interrupted';

export interface Session {
  id: string;
  title: string;
  model: string;
  system: string;
  skills: string[];
  useVault: boolean;
  headId: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface Message {
  id: string;
  sessionId: string;
  parentId: string | null;
  role: MessageRole;
  content: string;
  model: string | null;
  status: MessageStatus;
  errorCode: string | null;
  errorMessage: string | null;
  tokensIn: number | null;
  tokensOut: number | null;
  ttftMs: number | null;
  durationMs: number | null;
  createdAt: string;
}

/** A message on the shown branch, with the ids of its siblings (itself included) in order. */
export interface PathMessage extends Message {
  siblings: string[];
}

export interface SnippetPart {
  text: string;
  hit: boolean;
}

export interface SearchHit {
  kind: 'title' | 'message';
  sessionId: string;
  sessionTitle: string;
  messageId: string | null;
  role: MessageRole | null;
  snippet: SnippetPart[];
  createdAt: string;
}

export interface SessionPatch {
  title?: string;
  model?: string;
  system?: string;
  skills?: string[];
  useVault?: boolean;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  model TEXT NOT NULL,
  system TEXT NOT NULL DEFAULT '',
  skills TEXT NOT NULL DEFAULT '[]',
  use_vault INTEGER NOT NULL DEFAULT 0,
  head_id TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_updated ON sessions (updated_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS messages (
  id TEXT PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  parent_id TEXT,
  role TEXT NOT NULL,
  content TEXT NOT NULL,
  model TEXT,
  status TEXT NOT NULL,
  error_code TEXT,
  error_message TEXT,
  tokens_in INTEGER,
  tokens_out INTEGER,
  ttft_ms INTEGER,
  duration_ms INTEGER,
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_session ON messages (session_id, created_at);
CREATE INDEX IF NOT EXISTS messages_parent ON messages (parent_id);
CREATE INDEX IF NOT EXISTS messages_status ON messages (status);
CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(content, content='messages', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE IF NOT EXISTS sessions_fts USING fts5(title, content='sessions', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER IF NOT EXISTS messages_ai AFTER INSERT ON messages BEGIN
  INSERT INTO messages_fts (rowid, content) VALUES (new.rowid, new.content);
END;
CREATE TRIGGER IF NOT EXISTS messages_ad AFTER DELETE ON messages BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
END;
CREATE TRIGGER IF NOT EXISTS messages_au AFTER UPDATE OF content ON messages BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
  INSERT INTO messages_fts (rowid, content) VALUES (new.rowid, new.content);
END;
CREATE TRIGGER IF NOT EXISTS sessions_ai AFTER INSERT ON sessions BEGIN
  INSERT INTO sessions_fts (rowid, title) VALUES (new.rowid, new.title);
END;
CREATE TRIGGER IF NOT EXISTS sessions_ad AFTER DELETE ON sessions BEGIN
  INSERT INTO sessions_fts (sessions_fts, rowid, title) VALUES ('delete', old.rowid, old.title);
END;
CREATE TRIGGER IF NOT EXISTS sessions_au AFTER UPDATE OF title ON sessions BEGIN
  INSERT INTO sessions_fts (sessions_fts, rowid, title) VALUES ('delete', old.rowid, old.title);
  INSERT INTO sessions_fts (rowid, title) VALUES (new.rowid, new.title);
END;
`;

interface SessionRow {
  id: string;
  title: string;
  model: string;
  system: string;
  skills: string;
  use_vault: number;
  head_id: string | null;
  created_at: string;
  updated_at: string;
}

interface MessageRow {
  id: string;
  session_id: string;
  parent_id: string | null;
  role: MessageRole;
  content: string;
  model: string | null;
  status: MessageStatus;
  error_code: string | null;
  error_message: string | null;
  tokens_in: number | null;
  tokens_out: number | null;
  ttft_ms: number | null;
  duration_ms: number | null;
  created_at: string;
}

// Private-use characters FTS5 wraps hits in; split into parts so no markup ever reaches HTML.
const HIT_OPEN = '\u{E000}';
const HIT_CLOSE = '\u{E001}';

function toSession(r: SessionRow): Session {
  return {
    id: r.id,
    title: r.title,
    model: r.model,
    system: r.system,
    skills: JSON.parse(r.skills) as string[],
    useVault: r.use_vault === 1,
    headId: r.head_id,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function toMessage(r: MessageRow): Message {
  return {
    id: r.id,
    sessionId: r.session_id,
    parentId: r.parent_id,
    role: r.role,
    content: r.content,
    model: r.model,
    status: r.status,
    errorCode: r.error_code,
    errorMessage: r.error_message,
    tokensIn: r.tokens_in,
    tokensOut: r.tokens_out,
    ttftMs: r.ttft_ms,
    durationMs: r.duration_ms,
    createdAt: r.created_at,
  };
}

/** User text as an FTS5 query: every word a quoted prefix term, so no input is FTS syntax. */
export function ftsQuery(text: string): string | undefined {
  const words = text.normalize('NFKC').match(/[\p{L}\p{N}_]+/gu);
  if (!words?.length) return undefined;
  return words
    .slice(0, 16)
    .map((w) => `"${w}"*`)
    .join(' ');
}

export function snippetParts(s: string): SnippetPart[] {
  const parts: SnippetPart[] = [];
  let rest = s;
  while (rest.length) {
    const open = rest.indexOf(HIT_OPEN);
    if (open < 0) {
      parts.push({ text: rest, hit: false });
      break;
    }
    if (open > 0) parts.push({ text: rest.slice(0, open), hit: false });
    const close = rest.indexOf(HIT_CLOSE, open);
    const end = close < 0 ? rest.length : close;
    parts.push({ text: rest.slice(open + 1, end), hit: true });
    rest = close < 0 ? '' : rest.slice(close + 1);
  }
  return parts.filter((p) => p.text.length > 0);
}

export class ChatStore {
  readonly db: Db;
  private readonly ownsDb: boolean;
  private readonly now: () => Date;

  /** `target`: a data directory (chat.db inside it), a `.db` path, `:memory:`, or an open database. */
  constructor(target: string | Db, opts: { now?: () => Date } = {}) {
    this.ownsDb = typeof target === 'string';
    this.db =
      typeof target === 'string'
        ? openDatabase(target.endsWith('.db') || target === ':memory:' ? target : join(target, 'chat.db'))
        : target;
    this.db.exec(SCHEMA);
    this.now = opts.now ?? (() => new Date());
  }

  /** Messages a previous process left streaming: their generation died with it. */
  markInterrupted(): number {
    return this.db.prepare(`UPDATE messages SET status = 'interrupted' WHERE status = 'streaming'`).run().changes;
  }

  createSession(s: { title: string; model: string; system?: string; skills?: string[]; useVault?: boolean }): Session {
    const id = randomUUID();
    const t = this.now().toISOString();
    this.db
      .prepare(
        `INSERT INTO sessions (id, title, model, system, skills, use_vault, head_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)`,
      )
      .run(id, s.title, s.model, s.system ?? '', JSON.stringify(s.skills ?? []), s.useVault ? 1 : 0, t, t);
    return this.getSession(id)!;
  }

  getSession(id: string): Session | undefined {
    const r = this.db.prepare(`SELECT * FROM sessions WHERE id = ?`).get(id) as SessionRow | undefined;
    return r ? toSession(r) : undefined;
  }

  mustSession(id: string): Session {
    const s = this.getSession(id);
    if (!s) throw new RuntimeError('NOT_FOUND', `no session ${id}`, { hint: 'list sessions with GET /api/sessions' });
    return s;
  }

  /** Newest first; `before` is the cursor a previous page returned. */
  listSessions(limit: number, before?: { updatedAt: string; id: string }): Session[] {
    const rows = before
      ? this.db
          .prepare(`SELECT * FROM sessions WHERE (updated_at, id) < (?, ?) ORDER BY updated_at DESC, id DESC LIMIT ?`)
          .all(before.updatedAt, before.id, limit)
      : this.db.prepare(`SELECT * FROM sessions ORDER BY updated_at DESC, id DESC LIMIT ?`).all(limit);
    return (rows as SessionRow[]).map(toSession);
  }

  updateSession(id: string, patch: SessionPatch): Session {
    this.mustSession(id);
    const sets: string[] = [];
    const vals: unknown[] = [];
    const set = (col: string, v: unknown): void => {
      sets.push(`${col} = ?`);
      vals.push(v);
    };
    if (patch.title !== undefined) set('title', patch.title);
    if (patch.model !== undefined) set('model', patch.model);
    if (patch.system !== undefined) set('system', patch.system);
    if (patch.skills !== undefined) set('skills', JSON.stringify(patch.skills));
    if (patch.useVault !== undefined) set('use_vault', patch.useVault ? 1 : 0);
    sets.push('updated_at = ?');
    vals.push(this.now().toISOString());
    this.db.prepare(`UPDATE sessions SET ${sets.join(', ')} WHERE id = ?`).run(...vals, id);
    return this.mustSession(id);
  }

  deleteSession(id: string): boolean {
    return this.db.prepare(`DELETE FROM sessions WHERE id = ?`).run(id).changes > 0;
  }

  getMessage(id: string): Message | undefined {
    const r = this.db.prepare(`SELECT * FROM messages WHERE id = ?`).get(id) as MessageRow | undefined;
    return r ? toMessage(r) : undefined;
  }

  messages(sessionId: string): Message[] {
    return (this.db.prepare(`SELECT * FROM messages WHERE session_id = ? ORDER BY created_at, rowid`).all(sessionId) as MessageRow[]).map(
      toMessage,
    );
  }

  /** Adds a message under `parentId` and makes it the session's head. */
  addMessage(m: {
    sessionId: string;
    parentId: string | null;
    role: MessageRole;
    content: string;
    model?: string | null;
    status?: MessageStatus;
  }): Message {
    const id = randomUUID();
    const t = this.now().toISOString();
    const tx = this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO messages (id, session_id, parent_id, role, content, model, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(id, m.sessionId, m.parentId, m.role, m.content, m.model ?? null, m.status ?? 'complete', t);
      this.db.prepare(`UPDATE sessions SET head_id = ?, updated_at = ? WHERE id = ?`).run(id, t, m.sessionId);
    });
    tx();
    return this.getMessage(id)!;
  }

  /** Ends an assistant message: its final text, status and figures. */
  finishMessage(
    id: string,
    f: {
      content: string;
      status: MessageStatus;
      errorCode?: string;
      errorMessage?: string;
      tokensIn?: number;
      tokensOut?: number;
      ttftMs?: number;
      durationMs?: number;
    },
  ): void {
    this.db
      .prepare(
        `UPDATE messages SET content = ?, status = ?, error_code = ?, error_message = ?, tokens_in = ?, tokens_out = ?, ttft_ms = ?, duration_ms = ? WHERE id = ?`,
      )
      .run(
        f.content,
        f.status,
        f.errorCode ?? null,
        f.errorMessage ?? null,
        f.tokensIn ?? null,
        f.tokensOut ?? null,
        f.ttftMs ?? null,
        f.durationMs ?? null,
        id,
      );
  }

  /** Shows the branch through `messageId`: the head becomes its newest descendant leaf. */
  setHead(sessionId: string, messageId: string): Session {
    const all = this.messages(sessionId);
    if (!all.some((m) => m.id === messageId)) throw new RuntimeError('NOT_FOUND', `no message ${messageId} in session ${sessionId}`);
    const children = new Map<string, Message[]>();
    for (const m of all) if (m.parentId) children.set(m.parentId, [...(children.get(m.parentId) ?? []), m]);
    let head = messageId;
    for (let kids = children.get(head); kids?.length; kids = children.get(head)) head = kids[kids.length - 1]!.id;
    this.db.prepare(`UPDATE sessions SET head_id = ? WHERE id = ?`).run(head, sessionId);
    return this.mustSession(sessionId);
  }

  /** The shown branch, root first, each message with its siblings. */
  path(sessionId: string): PathMessage[] {
    const s = this.mustSession(sessionId);
    const all = this.messages(sessionId);
    const byId = new Map(all.map((m) => [m.id, m]));
    const siblings = new Map<string | null, string[]>();
    for (const m of all) siblings.set(m.parentId, [...(siblings.get(m.parentId) ?? []), m.id]);
    const out: PathMessage[] = [];
    const seen = new Set<string>();
    for (let m = s.headId ? byId.get(s.headId) : undefined; m && !seen.has(m.id); m = m.parentId ? byId.get(m.parentId) : undefined) {
      seen.add(m.id);
      out.push({ ...m, siblings: siblings.get(m.parentId) ?? [m.id] });
    }
    return out.reverse();
  }

  /** Full-text search over titles and message contents, best first. */
  search(text: string, limit: number): SearchHit[] {
    const q = ftsQuery(text);
    if (!q) return [];
    const titles = this.db
      .prepare(
        `SELECT s.id AS sessionId, s.title AS sessionTitle, highlight(sessions_fts, 0, ?, ?) AS snip, s.updated_at AS createdAt, bm25(sessions_fts) AS rank
         FROM sessions_fts JOIN sessions s ON s.rowid = sessions_fts.rowid WHERE sessions_fts MATCH ? ORDER BY rank LIMIT ?`,
      )
      .all(HIT_OPEN, HIT_CLOSE, q, limit) as { sessionId: string; sessionTitle: string; snip: string; createdAt: string; rank: number }[];
    const msgs = this.db
      .prepare(
        `SELECT m.id AS messageId, m.session_id AS sessionId, s.title AS sessionTitle, m.role AS role, m.created_at AS createdAt,
                snippet(messages_fts, 0, ?, ?, '…', 16) AS snip, bm25(messages_fts) AS rank
         FROM messages_fts JOIN messages m ON m.rowid = messages_fts.rowid JOIN sessions s ON s.id = m.session_id
         WHERE messages_fts MATCH ? ORDER BY rank LIMIT ?`,
      )
      .all(HIT_OPEN, HIT_CLOSE, q, limit) as {
      messageId: string;
      sessionId: string;
      sessionTitle: string;
      role: MessageRole;
      createdAt: string;
      snip: string;
      rank: number;
    }[];
    const hits = [
      ...titles.map((t) => ({
        rank: t.rank,
        hit: {
          kind: 'title' as const,
          sessionId: t.sessionId,
          sessionTitle: t.sessionTitle,
          messageId: null,
          role: null,
          snippet: snippetParts(t.snip),
          createdAt: t.createdAt,
        },
      })),
      ...msgs.map((m) => ({
        rank: m.rank,
        hit: {
          kind: 'message' as const,
          sessionId: m.sessionId,
          sessionTitle: m.sessionTitle,
          messageId: m.messageId,
          role: m.role,
          snippet: snippetParts(m.snip),
          createdAt: m.createdAt,
        },
      })),
    ];
    hits.sort((a, b) => a.rank - b.rank);
    return hits.slice(0, limit).map((h) => h.hit);
  }

  close(): void {
    if (this.ownsDb) this.db.close();
  }
}

/** A session as markdown: title, settings, then the shown branch. */
export function sessionMarkdown(s: Session, path: readonly Message[]): string {
  const lines = [`# ${s.title}`, '', `- model: ${s.model}`, `- created: ${s.createdAt}`];
  if (s.skills.length) lines.push(`- skills: ${s.skills.join(', ')}`);
  if (s.system) lines.push('', '## System', '', s.system);
  for (const m of path) {
    const head = m.role === 'user' ? '## You' : `## ${m.model ?? 'assistant'}${m.status !== 'complete' ? ` (${m.status})` : ''}`;
    lines.push('', head, '', m.content);
  }
  return `${lines.join('\n')}\n`;
}

export interface RecentChatMessage {
  sessionId: string;
  sessionTitle: string;
  role: MessageRole;
  content: string;
  createdAt: string;
}

/**
 * Finished messages created after `since` (ISO), oldest first, at most `limit`: what the memory
 * agent consolidates. Read-only, so it runs on a read-only handle to the web's chat.db.
 */
export function recentChatMessages(db: Db, since: string, limit: number): RecentChatMessage[] {
  return db
    .prepare(
      `SELECT m.session_id AS sessionId, s.title AS sessionTitle, m.role AS role, m.content AS content, m.created_at AS createdAt
       FROM messages m JOIN sessions s ON s.id = m.session_id
       WHERE m.created_at > ? AND m.status IN ('complete', 'stopped')
       ORDER BY m.created_at, m.rowid LIMIT ?`,
    )
    .all(since, limit) as RecentChatMessage[];
}
