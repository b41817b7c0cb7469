import { join } from 'node:path';
import { openDatabase, type Db } from '../../store/db.js';
import type { Entity, GraphHit, GraphStore, NoteGraph } from '../types.js';

/*
 * The embedded GraphStore: notes, chunks, entities, mentions, relations and wiki links as SQLite
 * tables. Neighbourhoods are walked breadth-first in SQL, one bounded step at a time.
 */

export class SqliteGraphStore implements GraphStore {
  readonly kind = 'embedded';
  private readonly db: Db;

  constructor(path: string) {
    this.db = openDatabase(path);
  }

  static inDataDir(dataDir: string): SqliteGraphStore {
    return new SqliteGraphStore(join(dataDir, 'rag-graph.sqlite'));
  }

  async init(): Promise<void> {
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS g_notes (path TEXT PRIMARY KEY, title TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS g_chunks (id TEXT PRIMARY KEY, note_path TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS g_chunks_note ON g_chunks(note_path);
      CREATE TABLE IF NOT EXISTS g_entities (key TEXT PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS g_mentions (chunk_id TEXT NOT NULL, entity_key TEXT NOT NULL, note_path TEXT NOT NULL, PRIMARY KEY (chunk_id, entity_key));
      CREATE INDEX IF NOT EXISTS g_mentions_entity ON g_mentions(entity_key);
      CREATE INDEX IF NOT EXISTS g_mentions_note ON g_mentions(note_path);
      CREATE TABLE IF NOT EXISTS g_relations (from_key TEXT NOT NULL, to_key TEXT NOT NULL, type TEXT NOT NULL, chunk_id TEXT NOT NULL, note_path TEXT NOT NULL,
        PRIMARY KEY (from_key, to_key, type, chunk_id));
      CREATE INDEX IF NOT EXISTS g_relations_to ON g_relations(to_key);
      CREATE INDEX IF NOT EXISTS g_relations_note ON g_relations(note_path);
      CREATE TABLE IF NOT EXISTS g_links (from_path TEXT NOT NULL, to_path TEXT NOT NULL, PRIMARY KEY (from_path, to_path));
      CREATE INDEX IF NOT EXISTS g_links_to ON g_links(to_path);
    `);
  }

  /** Deletes one note's rows; returns the entity keys it touched (orphan candidates). */
  private deleteNoteRows(path: string): string[] {
    const touched = [
      ...(this.db.prepare(`SELECT entity_key FROM g_mentions WHERE note_path = ?`).pluck().all(path) as string[]),
      ...(this.db
        .prepare(`SELECT from_key FROM g_relations WHERE note_path = ? UNION SELECT to_key FROM g_relations WHERE note_path = ?`)
        .pluck()
        .all(path, path) as string[]),
    ];
    for (const t of ['g_mentions', 'g_relations']) this.db.prepare(`DELETE FROM ${t} WHERE note_path = ?`).run(path);
    this.db.prepare(`DELETE FROM g_chunks WHERE note_path = ?`).run(path);
    this.db.prepare(`DELETE FROM g_links WHERE from_path = ?`).run(path);
    this.db.prepare(`DELETE FROM g_notes WHERE path = ?`).run(path);
    return touched;
  }

  /** Entities among `keys` that nothing mentions or relates any more; checked by key, not by scan. */
  private dropOrphans(keys: Iterable<string>): void {
    const del = this.db.prepare(`DELETE FROM g_entities WHERE key = @k AND NOT EXISTS (SELECT 1 FROM g_mentions WHERE entity_key = @k)
      AND NOT EXISTS (SELECT 1 FROM g_relations WHERE from_key = @k) AND NOT EXISTS (SELECT 1 FROM g_relations WHERE to_key = @k)`);
    for (const k of new Set(keys)) del.run({ k });
  }

  async replaceNote(g: NoteGraph): Promise<void> {
    const insEntity = this.db.prepare(`INSERT OR IGNORE INTO g_entities (key, name, type) VALUES (?, ?, ?)`);
    const insChunk = this.db.prepare(`INSERT OR REPLACE INTO g_chunks (id, note_path) VALUES (?, ?)`);
    const insMention = this.db.prepare(`INSERT OR IGNORE INTO g_mentions (chunk_id, entity_key, note_path) VALUES (?, ?, ?)`);
    const insRel = this.db.prepare(
      `INSERT OR IGNORE INTO g_relations (from_key, to_key, type, chunk_id, note_path) VALUES (?, ?, ?, ?, ?)`,
    );
    const insLink = this.db.prepare(`INSERT OR IGNORE INTO g_links (from_path, to_path) VALUES (?, ?)`);
    this.db.transaction(() => {
      const touched = this.deleteNoteRows(g.notePath);
      this.db.prepare(`INSERT INTO g_notes (path, title) VALUES (?, ?)`).run(g.notePath, g.title);
      for (const id of g.chunkIds) insChunk.run(id, g.notePath);
      for (const e of g.entities) insEntity.run(e.key, e.name, e.type);
      for (const m of g.mentions) insMention.run(m.chunkId, m.entityKey, g.notePath);
      for (const r of g.relations) insRel.run(r.from, r.to, r.type, r.chunkId, g.notePath);
      for (const l of g.links) if (l !== g.notePath) insLink.run(g.notePath, l);
      this.dropOrphans(touched);
    })();
  }

  async setLinks(notePath: string, links: readonly string[]): Promise<void> {
    const ins = this.db.prepare(`INSERT OR IGNORE INTO g_links (from_path, to_path) VALUES (?, ?)`);
    this.db.transaction(() => {
      this.db.prepare(`DELETE FROM g_links WHERE from_path = ?`).run(notePath);
      for (const l of links) if (l !== notePath) ins.run(notePath, l);
    })();
  }

  async deleteNotes(notePaths: readonly string[]): Promise<void> {
    this.db.transaction(() => {
      const touched: string[] = [];
      for (const p of notePaths) touched.push(...this.deleteNoteRows(p));
      this.dropOrphans(touched);
    })();
  }

  async reset(): Promise<void> {
    this.db.exec(
      `DELETE FROM g_notes; DELETE FROM g_chunks; DELETE FROM g_entities; DELETE FROM g_mentions; DELETE FROM g_relations; DELETE FROM g_links;`,
    );
  }

  async entities(): Promise<Entity[]> {
    return this.db.prepare(`SELECT key, name, type FROM g_entities ORDER BY key`).all() as Entity[];
  }

  async findEntities(terms: readonly string[], limit: number): Promise<Entity[]> {
    const ts = [...new Set(terms.filter(Boolean))].slice(0, 64);
    if (!ts.length) return [];
    const exact = ts.map(() => '?').join(',');
    return this.db
      .prepare(`SELECT key, name, type FROM g_entities WHERE key IN (${exact}) ORDER BY length(key) DESC, key LIMIT ?`)
      .all(...ts, limit) as Entity[];
  }

  async neighbourhood(
    seeds: { entityKeys: readonly string[]; notePaths: readonly string[] },
    maxHops: 1 | 2,
    limit: number,
  ): Promise<GraphHit[]> {
    const hits = new Map<string, GraphHit>();
    const add = (chunkId: string, hops: number, via: string): void => {
      if (!hits.has(chunkId) && hits.size < limit) hits.set(chunkId, { chunkId, hops, via });
    };
    const chunksMentioning = this.db.prepare(`SELECT chunk_id, note_path FROM g_mentions WHERE entity_key = ? ORDER BY chunk_id LIMIT ?`);
    const chunksOfNote = this.db.prepare(`SELECT id FROM g_chunks WHERE note_path = ? ORDER BY id LIMIT ?`).pluck();
    const related = this.db.prepare(
      `SELECT to_key AS k, type FROM g_relations WHERE from_key = ? UNION SELECT from_key AS k, type FROM g_relations WHERE to_key = ? LIMIT ?`,
    );
    const linked = this.db
      .prepare(`SELECT to_path AS p FROM g_links WHERE from_path = ? UNION SELECT from_path AS p FROM g_links WHERE to_path = ? LIMIT ?`)
      .pluck();

    let entityFrontier = new Map<string, string>(seeds.entityKeys.map((k) => [k, `entity:${k}`]));
    let noteFrontier = new Map<string, string>(seeds.notePaths.map((p) => [p, `note:${p}`]));
    const seenEntities = new Set(entityFrontier.keys());
    const seenNotes = new Set(noteFrontier.keys());
    for (let hop = 0; hop <= maxHops && hits.size < limit; hop++) {
      const nextEntities = new Map<string, string>();
      const nextNotes = new Map<string, string>();
      const mentionNotes = new Map<string, string>();
      for (const [k, via] of entityFrontier) {
        for (const r of chunksMentioning.all(k, limit) as { chunk_id: string; note_path: string }[]) {
          add(r.chunk_id, hop, via);
          if (!mentionNotes.has(r.note_path)) mentionNotes.set(r.note_path, `${via} -in- note:${r.note_path}`);
        }
        for (const r of related.all(k, k, limit) as { k: string; type: string }[]) {
          if (!seenEntities.has(r.k)) nextEntities.set(r.k, `${via} -${r.type}- entity:${r.k}`);
        }
      }
      for (const [p, via] of noteFrontier) for (const id of chunksOfNote.all(p, limit) as string[]) add(id, hop, via);
      // The rest of a note that mentions a seed, and the notes it links to or from, are one hop out.
      for (const [p, via] of [...noteFrontier, ...mentionNotes]) {
        if (!seenNotes.has(p) && !nextNotes.has(p)) nextNotes.set(p, via);
        for (const q of linked.all(p, p, limit) as string[]) {
          if (!seenNotes.has(q) && !nextNotes.has(q)) nextNotes.set(q, `${via} -link- note:${q}`);
        }
      }
      for (const k of nextEntities.keys()) seenEntities.add(k);
      for (const p of nextNotes.keys()) seenNotes.add(p);
      entityFrontier = nextEntities;
      noteFrontier = nextNotes;
    }
    return [...hits.values()];
  }

  async stats(): Promise<{ notes: number; entities: number; relations: number; links: number }> {
    const n = (t: string): number => (this.db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
    return { notes: n('g_notes'), entities: n('g_entities'), relations: n('g_relations'), links: n('g_links') };
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
