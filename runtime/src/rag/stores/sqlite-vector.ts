import { join } from 'node:path';
import * as sqliteVec from 'sqlite-vec';
import { RuntimeError, describeError } from '../../errors.js';
import { openDatabase, type Db } from '../../store/db.js';
import { ftsQuery } from '../text.js';
import type { Chunk, IndexMeta, ScoredChunk, SearchFilter, VectorIndex } from '../types.js';
import { isEmptyFilter } from './filter.js';

/*
 * The embedded VectorIndex: one SQLite file with the chunks, a sqlite-vec `vec0` table (cosine)
 * for dense search and an FTS5 table for keywords, all keyed by the same integer rowid.
 * Unfiltered vector search uses vec0's KNN; a filtered one computes exact distances over the
 * rows the filter keeps, so a narrow filter never starves the result.
 */

interface ChunkRow {
  rowid: number | bigint;
  id: string;
  note_path: string;
  ordinal: number;
  title: string;
  headings: string;
  text: string;
  folder: string;
  tags: string;
  date: number;
}

const toChunk = (r: ChunkRow): Chunk => ({
  id: r.id,
  notePath: r.note_path,
  ordinal: r.ordinal,
  title: r.title,
  headings: JSON.parse(r.headings) as string[],
  text: r.text,
  folder: r.folder,
  tags: JSON.parse(r.tags) as string[],
  date: r.date,
});

export class SqliteVectorIndex implements VectorIndex {
  readonly kind = 'embedded';
  private readonly db: Db;
  private dims: number | undefined;

  constructor(path: string) {
    this.db = openDatabase(path);
    try {
      sqliteVec.load(this.db);
    } catch (e) {
      throw new RuntimeError('RAG_STORE_ERROR', `cannot load sqlite-vec: ${describeError(e)}`, {
        hint: 'reinstall the runtime dependencies (npm install)',
      });
    }
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS rag_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS rag_chunks (
        rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, note_path TEXT NOT NULL, ordinal INTEGER NOT NULL, title TEXT NOT NULL,
        headings TEXT NOT NULL, text TEXT NOT NULL, folder TEXT NOT NULL, tags TEXT NOT NULL, date INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS rag_chunks_note ON rag_chunks(note_path);
      CREATE VIRTUAL TABLE IF NOT EXISTS rag_fts USING fts5(text, headings, tokenize = 'porter unicode61 remove_diacritics 2');
    `);
    const d = this.db.prepare(`SELECT value FROM rag_meta WHERE key = 'dimensions'`).get() as { value: string } | undefined;
    if (d) this.dims = Number(d.value);
  }

  static inDataDir(dataDir: string): SqliteVectorIndex {
    return new SqliteVectorIndex(join(dataDir, 'rag-vectors.sqlite'));
  }

  async meta(): Promise<IndexMeta | undefined> {
    const rows = this.db.prepare(`SELECT key, value FROM rag_meta`).all() as { key: string; value: string }[];
    const m = Object.fromEntries(rows.map((r) => [r.key, r.value]));
    if (!m.model || !m.dimensions) return undefined;
    return { embeddingModel: m.model, dimensions: Number(m.dimensions) };
  }

  async init(meta: IndexMeta): Promise<void> {
    const have = await this.meta();
    if (have && (have.embeddingModel !== meta.embeddingModel || have.dimensions !== meta.dimensions)) {
      throw mismatch(have, meta);
    }
    if (!have) {
      this.db.exec(`DROP TABLE IF EXISTS rag_vec`);
      this.db.exec(`CREATE VIRTUAL TABLE rag_vec USING vec0(embedding float[${meta.dimensions}] distance_metric=cosine)`);
      const put = this.db.prepare(`INSERT OR REPLACE INTO rag_meta (key, value) VALUES (?, ?)`);
      put.run('model', meta.embeddingModel);
      put.run('dimensions', String(meta.dimensions));
      this.dims = meta.dimensions;
    }
  }

  async upsert(items: readonly { chunk: Chunk; vector: readonly number[] }[]): Promise<void> {
    if (!items.length) return;
    if (this.dims === undefined)
      throw new RuntimeError('RAG_STORE_ERROR', 'the vector index is not initialised', { hint: 'call init() first' });
    const findRow = this.db.prepare(`SELECT rowid FROM rag_chunks WHERE id = ?`).pluck();
    const insChunk = this.db.prepare(
      `INSERT INTO rag_chunks (id, note_path, ordinal, title, headings, text, folder, tags, date) VALUES (@id, @note_path, @ordinal, @title, @headings, @text, @folder, @tags, @date)`,
    );
    const updChunk = this.db.prepare(
      `UPDATE rag_chunks SET note_path=@note_path, ordinal=@ordinal, title=@title, headings=@headings, text=@text, folder=@folder, tags=@tags, date=@date WHERE rowid=@rowid`,
    );
    const delFts = this.db.prepare(`DELETE FROM rag_fts WHERE rowid = ?`);
    const insFts = this.db.prepare(`INSERT INTO rag_fts (rowid, text, headings) VALUES (?, ?, ?)`);
    const delVec = this.db.prepare(`DELETE FROM rag_vec WHERE rowid = ?`);
    const insVec = this.db.prepare(`INSERT INTO rag_vec (rowid, embedding) VALUES (?, ?)`);
    const dims = this.dims;
    const tx = this.db.transaction(() => {
      for (const { chunk: c, vector } of items) {
        if (vector.length !== dims)
          throw new RuntimeError('RAG_INDEX_MISMATCH', `a ${vector.length}-dimension vector for a ${dims}-dimension index`);
        const row = {
          id: c.id,
          note_path: c.notePath,
          ordinal: c.ordinal,
          title: c.title,
          headings: JSON.stringify(c.headings),
          text: c.text,
          folder: c.folder,
          tags: JSON.stringify(c.tags),
          date: Math.round(c.date),
        };
        const existing = findRow.get(c.id) as number | bigint | undefined;
        let rowid: bigint;
        if (existing !== undefined) {
          rowid = BigInt(existing);
          updChunk.run({ ...row, rowid });
          delFts.run(rowid);
          delVec.run(rowid);
        } else {
          rowid = BigInt(insChunk.run(row).lastInsertRowid);
        }
        insFts.run(rowid, c.text, [c.title, ...c.headings].join(' '));
        insVec.run(rowid, new Float32Array(vector));
      }
    });
    tx();
  }

  async deleteNotes(notePaths: readonly string[]): Promise<void> {
    if (!notePaths.length) return;
    const rows = this.db.prepare(`SELECT rowid FROM rag_chunks WHERE note_path = ?`).pluck();
    const delChunk = this.db.prepare(`DELETE FROM rag_chunks WHERE rowid = ?`);
    const delFts = this.db.prepare(`DELETE FROM rag_fts WHERE rowid = ?`);
    const delVec = this.dims === undefined ? undefined : this.db.prepare(`DELETE FROM rag_vec WHERE rowid = ?`);
    this.db.transaction(() => {
      for (const p of notePaths) {
        for (const r of rows.all(p) as (number | bigint)[]) {
          const id = BigInt(r);
          delChunk.run(id);
          delFts.run(id);
          delVec?.run(id);
        }
      }
    })();
  }

  async reset(): Promise<void> {
    this.db.exec(`DELETE FROM rag_chunks; DELETE FROM rag_fts; DELETE FROM rag_meta; DROP TABLE IF EXISTS rag_vec;`);
    this.dims = undefined;
  }

  private filterSql(f: SearchFilter | undefined, params: unknown[]): string {
    if (isEmptyFilter(f)) return '1';
    const parts: string[] = [];
    if (f!.folders?.length) {
      const ors: string[] = [];
      for (const raw of f!.folders) {
        const p = raw.replace(/^\/+|\/+$/g, '');
        if (p === '') {
          ors.push('1');
          continue;
        }
        ors.push(`(c.folder = ? OR substr(c.folder, 1, ?) = ?)`);
        params.push(p, p.length + 1, `${p}/`);
      }
      parts.push(`(${ors.join(' OR ')})`);
    }
    for (const t of f!.tags ?? []) {
      parts.push(`EXISTS (SELECT 1 FROM json_each(c.tags) WHERE value = ?)`);
      params.push(t.toLowerCase().replace(/^#/, ''));
    }
    if (f!.dateFrom !== undefined) {
      parts.push('c.date >= ?');
      params.push(Math.round(f!.dateFrom));
    }
    if (f!.dateTo !== undefined) {
      parts.push('c.date <= ?');
      params.push(Math.round(f!.dateTo));
    }
    return parts.join(' AND ');
  }

  async searchVector(vector: readonly number[], k: number, filter?: SearchFilter): Promise<ScoredChunk[]> {
    if (this.dims === undefined) return [];
    if (vector.length !== this.dims)
      throw new RuntimeError('RAG_INDEX_MISMATCH', `a ${vector.length}-dimension query for a ${this.dims}-dimension index`);
    const q = new Float32Array(vector);
    let rows: (ChunkRow & { distance: number })[];
    if (isEmptyFilter(filter)) {
      rows = this.db
        .prepare(
          `SELECT c.*, v.distance AS distance FROM (SELECT rowid, distance FROM rag_vec WHERE embedding MATCH ? AND k = ?) v
           JOIN rag_chunks c ON c.rowid = v.rowid ORDER BY v.distance`,
        )
        .all(q, k) as (ChunkRow & { distance: number })[];
    } else {
      const params: unknown[] = [q];
      const where = this.filterSql(filter, params);
      params.push(k);
      rows = this.db
        .prepare(
          `SELECT c.*, vec_distance_cosine(v.embedding, ?) AS distance FROM rag_chunks c JOIN rag_vec v ON v.rowid = c.rowid
           WHERE ${where} ORDER BY distance LIMIT ?`,
        )
        .all(...params) as (ChunkRow & { distance: number })[];
    }
    return rows.map((r) => ({ chunk: toChunk(r), score: 1 - r.distance }));
  }

  async searchKeyword(query: string, k: number, filter?: SearchFilter): Promise<ScoredChunk[]> {
    const match = ftsQuery(query);
    if (!match) return [];
    const params: unknown[] = [match];
    const where = this.filterSql(filter, params);
    params.push(k);
    const rows = this.db
      .prepare(
        `SELECT c.*, bm25(rag_fts, 1.0, 0.5) AS rank FROM rag_fts JOIN rag_chunks c ON c.rowid = rag_fts.rowid
         WHERE rag_fts MATCH ? AND ${where} ORDER BY rank LIMIT ?`,
      )
      .all(...params) as (ChunkRow & { rank: number })[];
    // FTS5's bm25() is lower-is-better and negative; flip it so higher is better everywhere.
    return rows.map((r) => ({ chunk: toChunk(r), score: -r.rank }));
  }

  async getChunks(ids: readonly string[]): Promise<Chunk[]> {
    if (!ids.length) return [];
    const out: Chunk[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      const part = ids.slice(i, i + 500);
      const rows = this.db.prepare(`SELECT * FROM rag_chunks WHERE id IN (${part.map(() => '?').join(',')})`).all(...part) as ChunkRow[];
      out.push(...rows.map(toChunk));
    }
    return out;
  }

  async count(): Promise<number> {
    return (this.db.prepare(`SELECT count(*) AS n FROM rag_chunks`).get() as { n: number }).n;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

export function mismatch(have: IndexMeta, want: IndexMeta): RuntimeError {
  return new RuntimeError(
    'RAG_INDEX_MISMATCH',
    `the index holds ${have.embeddingModel} vectors (${have.dimensions} dimensions); the configured embedder is ${want.embeddingModel} (${want.dimensions})`,
    { hint: 'run `runtime index --full` to rebuild the index with the configured embedder, or set the embedder back' },
  );
}
