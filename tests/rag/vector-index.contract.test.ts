import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../runtime/src/errors.js';
import { QdrantVectorIndex, pointId } from '../../runtime/src/rag/stores/qdrant-vector.js';
import { SqliteVectorIndex } from '../../runtime/src/rag/stores/sqlite-vector.js';
import type { Chunk, VectorIndex } from '../../runtime/src/rag/types.js';
import { startQdrant, type QdrantDouble } from '../doubles/qdrant.js';
import { tempDir } from '../helpers.js';

/*
 * One VectorIndex contract, run against every implementation: the embedded SQLite + sqlite-vec +
 * FTS5 store, and Qdrant through its protocol double (every request checked against Qdrant's
 * OpenAPI spec).
 */

const META = { embeddingModel: 'test:unit', dimensions: 4 };
const D = Date.UTC(2025, 0, 10);

function chunk(id: string, folder: string, text: string, tags: string[] = [], date = D): Chunk {
  const notePath = `${folder ? `${folder}/` : ''}${id.split('#')[0]}`;
  return {
    id: `${notePath}#${id.split('#')[1] ?? '0'}`,
    notePath,
    ordinal: Number(id.split('#')[1] ?? 0),
    title: id.split('#')[0]!.replace('.md', ''),
    headings: ['Top'],
    text,
    folder,
    tags,
    date,
  };
}

const A = chunk('alpha.md#0', 'work/projects', 'The falcon project ships on Thursdays.', ['project']);
const B = chunk('beta.md#0', 'work', 'Cello lessons every Monday evening.', ['music'], Date.UTC(2025, 5, 1));
const C = chunk('gamma.md#0', 'home', 'Backups of the photo archive run nightly.', ['project', 'home'], Date.UTC(2024, 11, 1));
const C2 = chunk('gamma.md#1', 'home', 'The archive lives on the NAS.', ['project', 'home'], Date.UTC(2024, 11, 1));
const vec = { A: [1, 0, 0, 0], B: [0, 1, 0, 0], C: [0, 0, 1, 0], C2: [0, 0.2, 0.9, 0] };

function contract(name: string, make: () => Promise<VectorIndex>, after?: () => void): void {
  describe(`VectorIndex contract: ${name}`, () => {
    let ix: VectorIndex;
    beforeAll(async () => {
      ix = await make();
    });
    afterAll(async () => {
      await ix?.close();
      after?.();
    });

    it('records the embedding model and refuses another', async () => {
      expect(await ix.meta()).toBeUndefined();
      await ix.init(META);
      await ix.init(META);
      expect(await ix.meta()).toEqual(META);
      const err = await ix.init({ embeddingModel: 'test:other', dimensions: 4 }).catch((e: unknown) => e);
      expect(isRuntimeError(err, 'RAG_INDEX_MISMATCH')).toBe(true);
    });

    it('upserts, counts and returns chunks by id', async () => {
      await ix.upsert([
        { chunk: A, vector: vec.A },
        { chunk: B, vector: vec.B },
        { chunk: C, vector: vec.C },
        { chunk: C2, vector: vec.C2 },
      ]);
      expect(await ix.count()).toBe(4);
      const got = await ix.getChunks([A.id, C2.id, 'missing.md#0']);
      expect(got.sort((x, y) => (x.id < y.id ? -1 : 1))).toEqual([C2, A].sort((x, y) => (x.id < y.id ? -1 : 1)));
    });

    it('finds nearest vectors, filtered by folder prefix, tag and date', async () => {
      expect((await ix.searchVector([0.1, 0, 1, 0], 2)).map((h) => h.chunk.id)).toEqual([C.id, C2.id]);
      expect((await ix.searchVector([0, 0, 1, 0], 4, { folders: ['work'] })).map((h) => h.chunk.id).sort()).toEqual([A.id, B.id].sort());
      expect((await ix.searchVector([0, 0, 1, 0], 4, { folders: ['work/projects'] })).map((h) => h.chunk.id)).toEqual([A.id]);
      expect((await ix.searchVector([0, 0, 1, 0], 4, { folders: ['wor'] })).map((h) => h.chunk.id)).toEqual([]);
      expect((await ix.searchVector([0, 1, 0, 0], 4, { tags: ['project', 'home'] })).map((h) => h.chunk.id)).toEqual([C2.id, C.id]);
      expect(
        (await ix.searchVector([1, 0, 0, 0], 4, { dateFrom: Date.UTC(2025, 0, 1), dateTo: Date.UTC(2025, 2, 1) })).map((h) => h.chunk.id),
      ).toEqual([A.id]);
      const top = await ix.searchVector(vec.B, 1);
      expect(top[0]!.chunk).toEqual(B);
      expect(top[0]!.score).toBeCloseTo(1, 3);
    });

    it('finds keywords, filtered the same way', async () => {
      expect((await ix.searchKeyword('cello', 5)).map((h) => h.chunk.id)).toEqual([B.id]);
      expect((await ix.searchKeyword('archive nightly', 5)).map((h) => h.chunk.id)[0]).toBe(C.id);
      expect((await ix.searchKeyword('archive', 5, { dateFrom: Date.UTC(2025, 0, 1) })).map((h) => h.chunk.id)).toEqual([]);
      expect(await ix.searchKeyword('the of and', 5)).toEqual([]);
      expect(await ix.searchKeyword('"; DROP TABLE x; -- NEAR(', 5)).toEqual([]);
    });

    it('fuses vector and keyword results when it can do so itself', async () => {
      if (!ix.searchHybrid) return;
      const hits = await ix.searchHybrid(vec.A, 'cello', 2);
      expect(hits.map((h) => h.chunk.id).sort()).toEqual([A.id, B.id].sort());
    });

    it('replaces a chunk with the same id, deletes notes, and resets', async () => {
      const A2 = { ...A, text: 'The falcon project now ships on Fridays.' };
      await ix.upsert([{ chunk: A2, vector: vec.A }]);
      expect(await ix.count()).toBe(4);
      expect((await ix.getChunks([A.id]))[0]!.text).toBe(A2.text);
      expect((await ix.searchKeyword('Fridays', 5)).map((h) => h.chunk.id)).toEqual([A.id]);
      expect(await ix.searchKeyword('Thursdays', 5)).toEqual([]);
      await ix.deleteNotes([C.notePath]);
      expect(await ix.count()).toBe(2);
      expect(await ix.getChunks([C.id, C2.id])).toEqual([]);
      expect((await ix.searchVector(vec.C, 4)).map((h) => h.chunk.id)).not.toContain(C.id);
      await ix.reset();
      expect(await ix.meta()).toBeUndefined();
      expect(await ix.count()).toBe(0);
      await ix.init({ embeddingModel: 'test:other', dimensions: 3 });
      await ix.upsert([{ chunk: A, vector: [1, 0, 0] }]);
      expect((await ix.searchVector([1, 0, 0], 1))[0]!.chunk.id).toBe(A.id);
    });
  });
}

contract('embedded (SQLite + sqlite-vec + FTS5)', async () => new SqliteVectorIndex(join(tempDir('rag-vec-'), 'v.sqlite')));

let qdrant: QdrantDouble;
contract(
  'Qdrant (protocol double, OpenAPI 1.19)',
  async () => {
    qdrant = await startQdrant();
    return new QdrantVectorIndex({ url: qdrant.url, collection: 'vault', batch: 2 });
  },
  () => {
    // Every request the store sent was valid against Qdrant's spec.
    expect(qdrant.invalid).toEqual([]);
    expect(qdrant.requests.length).toBeGreaterThan(20);
    void qdrant.close();
  },
);

describe('Qdrant specifics', () => {
  it('derives stable UUID point ids from chunk ids, and the double rejects what the spec rejects', async () => {
    expect(pointId('a.md#0')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(pointId('a.md#0')).toBe(pointId('a.md#0'));
    expect(pointId('a.md#0')).not.toBe(pointId('a.md#1'));
    const q = await startQdrant();
    try {
      const res = await fetch(`${q.url}/collections/x/points/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ limit: 'ten' }),
      });
      expect(res.status).toBe(400);
      expect(q.invalid).toHaveLength(1);
      const ix = new QdrantVectorIndex({ url: q.url, collection: 'vault' });
      await ix.init(META);
      const coll = q.collections.get('vault')!;
      expect(coll.config).toMatchObject({
        vectors: { dense: { size: 4, distance: 'Cosine' } },
        sparse_vectors: { bm25: { modifier: 'idf' } },
      });
      expect(coll.indexes).toEqual({ note_path: 'keyword', folders: 'keyword', tags: 'keyword', date: 'integer' });
      await ix.upsert([{ chunk: A, vector: vec.A }]);
      const point = [...coll.points.values()][0]!;
      expect(point.id).toBe(pointId(A.id));
      expect(point.payload).toMatchObject({ chunk_id: A.id, folders: ['work', 'work/projects'] });
      const sparse = point.vector.bm25 as { indices: number[]; values: number[] };
      expect(sparse.indices.length).toBe(sparse.values.length);
      expect(q.invalid).toHaveLength(1);
    } finally {
      await q.close();
    }
  });
});
