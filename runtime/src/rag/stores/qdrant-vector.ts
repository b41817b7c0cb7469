import { createHash } from 'node:crypto';
import { QdrantClient } from '@qdrant/js-client-rest';
import { RuntimeError, describeError } from '../../errors.js';
import { sparseDoc, sparseQuery } from '../text.js';
import type { Chunk, IndexMeta, ScoredChunk, SearchFilter, VectorIndex } from '../types.js';
import { mismatch } from './sqlite-vector.js';

/*
 * The Qdrant VectorIndex: one collection with a named dense vector (`dense`, cosine) and a sparse
 * BM25 vector (`bm25`, `modifier: idf`: term weights are computed here, IDF by Qdrant), payload
 * indexes on the filtered fields, point ids that are UUIDs derived from chunk ids, and hybrid
 * search as `prefetch` (dense + sparse) fused with RRF. The embedding model and its dimensions
 * live in the collection's metadata, so a different embedder is refused.
 * Client: @qdrant/js-client-rest 1.18 (1.19 declares Node >= 22).
 */

export interface QdrantVectorIndexProps {
  readonly url: string;
  readonly collection: string;
  readonly apiKey?: string;
  /** Points per upsert request. */
  readonly batch?: number;
}

const DENSE = 'dense';
const SPARSE = 'bm25';

/** A stable UUID (v5 layout over SHA-1) for a chunk id: Qdrant ids must be integers or UUIDs. */
export function pointId(chunkId: string): string {
  const h = createHash('sha1').update(`llm-platform/chunk/${chunkId}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/** Every ancestor folder of a note, so a folder filter is one keyword match. */
export function ancestors(folder: string): string[] {
  if (!folder) return [];
  const parts = folder.split('/');
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'));
}

interface Payload {
  chunk_id: string;
  note_path: string;
  ordinal: number;
  title: string;
  headings: string[];
  text: string;
  folder: string;
  folders: string[];
  tags: string[];
  date: number;
}

const toChunk = (p: Payload): Chunk => ({
  id: p.chunk_id,
  notePath: p.note_path,
  ordinal: p.ordinal,
  title: p.title,
  headings: p.headings,
  text: p.text,
  folder: p.folder,
  tags: p.tags,
  date: p.date,
});

type Filter = { must: Record<string, unknown>[] };

export function qdrantFilter(f: SearchFilter | undefined): Filter | undefined {
  if (!f) return undefined;
  const must: Record<string, unknown>[] = [];
  const folders = (f.folders ?? []).map((p) => p.replace(/^\/+|\/+$/g, ''));
  if (folders.length && !folders.includes('')) must.push({ key: 'folders', match: { any: folders } });
  for (const t of f.tags ?? []) must.push({ key: 'tags', match: { value: t.toLowerCase().replace(/^#/, '') } });
  if (f.dateFrom !== undefined || f.dateTo !== undefined) {
    must.push({
      key: 'date',
      range: { ...(f.dateFrom !== undefined ? { gte: f.dateFrom } : {}), ...(f.dateTo !== undefined ? { lte: f.dateTo } : {}) },
    });
  }
  return must.length ? { must } : undefined;
}

export class QdrantVectorIndex implements VectorIndex {
  readonly kind = 'qdrant';
  private readonly client: QdrantClient;
  private readonly name: string;
  private readonly batch: number;

  constructor(props: QdrantVectorIndexProps) {
    this.client = new QdrantClient({ url: props.url, ...(props.apiKey ? { apiKey: props.apiKey } : {}), checkCompatibility: false });
    this.name = props.collection;
    this.batch = props.batch ?? 128;
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof RuntimeError) throw e;
      const data = (e as { data?: { status?: { error?: string } } }).data;
      throw new RuntimeError('RAG_STORE_ERROR', `Qdrant ${what}: ${data?.status?.error ?? describeError(e)}`, {
        cause: e,
        hint: 'check services.qdrant and its API key',
      });
    }
  }

  private async exists(): Promise<boolean> {
    return this.call('collection exists', async () => (await this.client.collectionExists(this.name)).exists);
  }

  async meta(): Promise<IndexMeta | undefined> {
    if (!(await this.exists())) return undefined;
    const info = await this.call('get collection', () => this.client.getCollection(this.name));
    const md = (info.config as { metadata?: Record<string, unknown> | null }).metadata ?? {};
    if (typeof md.embedding_model !== 'string' || typeof md.dimensions !== 'number') return undefined;
    return { embeddingModel: md.embedding_model, dimensions: md.dimensions };
  }

  async init(meta: IndexMeta): Promise<void> {
    const have = await this.meta();
    if (have) {
      if (have.embeddingModel !== meta.embeddingModel || have.dimensions !== meta.dimensions) throw mismatch(have, meta);
      return;
    }
    if (await this.exists()) await this.call('delete collection', () => this.client.deleteCollection(this.name));
    await this.call('create collection', () =>
      this.client.createCollection(this.name, {
        vectors: { [DENSE]: { size: meta.dimensions, distance: 'Cosine' } },
        sparse_vectors: { [SPARSE]: { modifier: 'idf' } },
      }),
    );
    await this.call('set metadata', () =>
      this.client.updateCollection(this.name, { metadata: { embedding_model: meta.embeddingModel, dimensions: meta.dimensions } }),
    );
    for (const [field, schema] of [
      ['note_path', 'keyword'],
      ['folders', 'keyword'],
      ['tags', 'keyword'],
      ['date', 'integer'],
    ] as const) {
      await this.call(`index ${field}`, () =>
        this.client.createPayloadIndex(this.name, { field_name: field, field_schema: schema, wait: true }),
      );
    }
  }

  async upsert(items: readonly { chunk: Chunk; vector: readonly number[] }[]): Promise<void> {
    for (let i = 0; i < items.length; i += this.batch) {
      const points = items.slice(i, i + this.batch).map(({ chunk: c, vector }) => {
        const payload: Payload = {
          chunk_id: c.id,
          note_path: c.notePath,
          ordinal: c.ordinal,
          title: c.title,
          headings: [...c.headings],
          text: c.text,
          folder: c.folder,
          folders: ancestors(c.folder),
          tags: [...c.tags],
          date: Math.round(c.date),
        };
        return {
          id: pointId(c.id),
          vector: { [DENSE]: [...vector], [SPARSE]: sparseDoc([c.title, ...c.headings, c.text].join(' ')) },
          payload: payload as unknown as Record<string, unknown>,
        };
      });
      await this.call('upsert', () => this.client.upsert(this.name, { wait: true, points }));
    }
  }

  async deleteNotes(notePaths: readonly string[]): Promise<void> {
    if (!notePaths.length || !(await this.exists())) return;
    await this.call('delete points', () =>
      this.client.delete(this.name, { wait: true, filter: { must: [{ key: 'note_path', match: { any: [...notePaths] } }] } }),
    );
  }

  async reset(): Promise<void> {
    if (await this.exists()) await this.call('delete collection', () => this.client.deleteCollection(this.name));
  }

  private static hits(res: { points: { score: number; payload?: Record<string, unknown> | null }[] }): ScoredChunk[] {
    return res.points.filter((p) => p.payload).map((p) => ({ chunk: toChunk(p.payload as unknown as Payload), score: p.score }));
  }

  async searchVector(vector: readonly number[], k: number, filter?: SearchFilter): Promise<ScoredChunk[]> {
    const f = qdrantFilter(filter);
    return QdrantVectorIndex.hits(
      await this.call('query', () =>
        this.client.query(this.name, { query: [...vector], using: DENSE, limit: k, with_payload: true, ...(f ? { filter: f } : {}) }),
      ),
    );
  }

  async searchKeyword(query: string, k: number, filter?: SearchFilter): Promise<ScoredChunk[]> {
    const q = sparseQuery(query);
    if (!q.indices.length) return [];
    const f = qdrantFilter(filter);
    return QdrantVectorIndex.hits(
      await this.call('query', () =>
        this.client.query(this.name, { query: q, using: SPARSE, limit: k, with_payload: true, ...(f ? { filter: f } : {}) }),
      ),
    );
  }

  async searchHybrid(vector: readonly number[], query: string, k: number, filter?: SearchFilter): Promise<ScoredChunk[]> {
    const f = qdrantFilter(filter);
    const q = sparseQuery(query);
    const prefetch = [
      { query: [...vector], using: DENSE, limit: k * 2, ...(f ? { filter: f } : {}) },
      ...(q.indices.length ? [{ query: q, using: SPARSE, limit: k * 2, ...(f ? { filter: f } : {}) }] : []),
    ];
    return QdrantVectorIndex.hits(
      await this.call('hybrid query', () =>
        this.client.query(this.name, { prefetch, query: { fusion: 'rrf' }, limit: k, with_payload: true }),
      ),
    );
  }

  async getChunks(ids: readonly string[]): Promise<Chunk[]> {
    if (!ids.length || !(await this.exists())) return [];
    const out: Chunk[] = [];
    for (let i = 0; i < ids.length; i += 256) {
      const pts = await this.call('retrieve', () =>
        this.client.retrieve(this.name, { ids: ids.slice(i, i + 256).map(pointId), with_payload: true }),
      );
      for (const p of pts) if (p.payload) out.push(toChunk(p.payload as unknown as Payload));
    }
    return out;
  }

  async count(): Promise<number> {
    if (!(await this.exists())) return 0;
    return (await this.call('count', () => this.client.count(this.name, { exact: true }))).count;
  }

  async close(): Promise<void> {
    // The REST client holds no connection state worth closing.
  }
}
