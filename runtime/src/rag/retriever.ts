import { trace, type Span } from '@opentelemetry/api';
import { z } from 'zod';
import type { RetrievalSettings } from '@platform/contract';
import { RuntimeError, describeError } from '../errors.js';
import { matchesFilter } from './stores/filter.js';
import { normaliseName, tokens } from './text.js';
import type { Chunk, Completer, Embedder, GraphStore, SearchFilter, VectorIndex } from './types.js';

/*
 * Retrieval: optional decomposition into sub-questions (a model call, skipped for short
 * questions), then vector, keyword and graph retrieval in parallel for each sub-question,
 * reciprocal-rank fusion of every list, and a rerank by how much of the question a chunk covers.
 * Each stage is timed and traced; `debug` returns every list and each result's score parts.
 */

export const RETRIEVERS = ['vector', 'keyword', 'graph'] as const;
export type RetrieverName = (typeof RETRIEVERS)[number];

export interface RetrieveRequest {
  query: string;
  topK?: number;
  filter?: SearchFilter;
  retrievers?: readonly RetrieverName[];
  /** Ask for sub-questions even for a short question (true) or never (false). */
  decompose?: boolean;
  debug?: boolean;
  signal?: AbortSignal;
}

export interface RetrievedChunk {
  id: string;
  notePath: string;
  title: string;
  headings: string[];
  text: string;
  folder: string;
  tags: string[];
  date: string;
  /** `[[note#heading]]` for citing this chunk. */
  citation: string;
  score: number;
}

export interface DebugInfo {
  subQuestions: string[];
  lists: { retriever: RetrieverName; subQuestion: string; results: { id: string; rank: number; score: number; via?: string }[] }[];
  fused: { id: string; rrf: number; coverage: number; final: number; from: string[] }[];
  graphSeeds: string[];
}

export interface RetrieveResult {
  query: string;
  results: RetrievedChunk[];
  timings: Record<string, number>;
  debug?: DebugInfo;
}

export interface RetrieverDeps {
  readonly vectors: VectorIndex;
  readonly graph: GraphStore;
  readonly embedder: Embedder;
  readonly settings: RetrievalSettings;
  /** Decomposition and answers; retrieval works without it (no decomposition). */
  readonly llm?: Completer;
}

const SubQuestionsSchema = z.strictObject({ questions: z.array(z.string().trim().min(3).max(300)).min(1).max(8) });

export const DECOMPOSE_SYSTEM = `Split the user's question into the smallest set of standalone sub-questions that together answer it.
Answer with JSON only: {"questions":["...","..."]}. A simple question is one sub-question: itself.`;

export const ANSWER_SYSTEM = `Answer the question using only the numbered context passages.
Cite every fact with the passage's citation exactly as given, like [[folder/note#Heading]].
If the context does not hold the answer, say so.`;

export function citationOf(c: Pick<Chunk, 'notePath' | 'headings' | 'title'>): string {
  const note = c.notePath.replace(/\.md$/i, '');
  const h = c.headings[c.headings.length - 1];
  // Text under the note's own title heading is the note itself.
  return h && !(c.headings.length === 1 && h === c.title) ? `[[${note}#${h}]]` : `[[${note}]]`;
}

/** Word n-grams (1..3) of a question, normalised as entity keys are. */
export function entityTerms(q: string): string[] {
  const words = normaliseName(q).split(' ').filter(Boolean);
  const out = new Set<string>();
  for (let n = 1; n <= 3; n++) for (let i = 0; i + n <= words.length; i++) out.add(words.slice(i, i + n).join(' '));
  return [...out].filter((t) => t.length >= 2);
}

export class Retriever {
  private readonly tracer = trace.getTracer('platform-runtime');

  constructor(private readonly deps: RetrieverDeps) {}

  private async timed<T>(name: string, timings: Record<string, number>, fn: (span: Span) => Promise<T>): Promise<T> {
    const t = performance.now();
    return this.tracer.startActiveSpan(`rag.${name}`, async (span) => {
      try {
        return await fn(span);
      } finally {
        const ms = performance.now() - t;
        timings[name] = Math.round(((timings[name] ?? 0) + ms) * 100) / 100;
        span.end();
      }
    });
  }

  async decompose(query: string, force: boolean | undefined, timings: Record<string, number>): Promise<string[]> {
    const { settings, llm } = this.deps;
    const words = query.trim().split(/\s+/).length;
    if (!llm || force === false || (force !== true && words < settings.retrieve.decomposeMinWords)) return [query];
    return this.timed('decompose', timings, async (span) => {
      try {
        const text = await llm.complete({ system: DECOMPOSE_SYSTEM, user: query });
        const start = text.indexOf('{');
        const end = text.lastIndexOf('}');
        const parsed = SubQuestionsSchema.safeParse(start >= 0 && end > start ? JSON.parse(text.slice(start, end + 1)) : undefined);
        if (!parsed.success) return [query];
        const qs = [...new Set(parsed.data.questions)].slice(0, settings.retrieve.maxSubQuestions);
        // The original question stays in: sub-questions add recall, never replace it.
        return qs.includes(query) ? qs : [query, ...qs];
      } catch (e) {
        span.setAttribute('rag.decompose.error', describeError(e));
        return [query];
      }
    });
  }

  async retrieve(req: RetrieveRequest): Promise<RetrieveResult> {
    const t0 = performance.now();
    const { settings, vectors, graph, embedder } = this.deps;
    const timings: Record<string, number> = {};
    const k = req.topK ?? settings.retrieve.topK;
    const cand = Math.max(settings.retrieve.candidates, k);
    const use = new Set<RetrieverName>(req.retrievers?.length ? req.retrievers : RETRIEVERS);
    const subs = await this.decompose(req.query, req.decompose, timings);

    const lists: DebugInfo['lists'] = [];
    const seeds = new Set<string>();
    const chunkCache = new Map<string, Chunk>();
    await Promise.all(
      subs.map(async (q) => {
        const jobs: Promise<void>[] = [];
        if (use.has('vector')) {
          jobs.push(
            this.timed('vector', timings, async () => {
              const [v] = await embedder.embed([q]);
              const hits = await vectors.searchVector(v!, cand, req.filter);
              hits.forEach((h) => chunkCache.set(h.chunk.id, h.chunk));
              lists.push({
                retriever: 'vector',
                subQuestion: q,
                results: hits.map((h, i) => ({ id: h.chunk.id, rank: i + 1, score: round(h.score) })),
              });
            }),
          );
        }
        if (use.has('keyword')) {
          jobs.push(
            this.timed('keyword', timings, async () => {
              const hits = await vectors.searchKeyword(q, cand, req.filter);
              hits.forEach((h) => chunkCache.set(h.chunk.id, h.chunk));
              lists.push({
                retriever: 'keyword',
                subQuestion: q,
                results: hits.map((h, i) => ({ id: h.chunk.id, rank: i + 1, score: round(h.score) })),
              });
            }),
          );
        }
        if (use.has('graph')) {
          jobs.push(
            this.timed('graph', timings, async () => {
              const ents = await graph.findEntities(entityTerms(q), 16);
              ents.forEach((e) => seeds.add(e.key));
              if (!ents.length) return;
              const hits = await graph.neighbourhood({ entityKeys: ents.map((e) => e.key), notePaths: [] }, 2, cand * 4);
              const missing = hits.map((h) => h.chunkId).filter((id) => !chunkCache.has(id));
              for (const c of await vectors.getChunks(missing)) chunkCache.set(c.id, c);
              const kept = hits.filter((h) => {
                const c = chunkCache.get(h.chunkId);
                return c !== undefined && matchesFilter(c, req.filter);
              });
              // Closer first; then narrower paths; then chunks sharing more of the question's words.
              const qt = new Set(tokens(q));
              const overlaps = new Map<string, number>();
              for (const h of kept) {
                const c = chunkCache.get(h.chunkId)!;
                overlaps.set(h.chunkId, tokens(`${c.title} ${c.headings.join(' ')} ${c.text}`).filter((t) => qt.has(t)).length);
              }
              const overlap = (id: string): number => overlaps.get(id) ?? 0;
              // A path that fans out to many chunks (a hub entity every note mentions) says little
              // about any one of them: within a hop, narrower paths rank first.
              const fan = new Map<string, number>();
              for (const h of kept) fan.set(pathKey(h.via), (fan.get(pathKey(h.via)) ?? 0) + 1);
              const spec = (h: { via: string }): number => fan.get(pathKey(h.via)) ?? 1;
              kept.sort((a, b) => a.hops - b.hops || spec(a) - spec(b) || overlap(b.chunkId) - overlap(a.chunkId));
              lists.push({
                retriever: 'graph',
                subQuestion: q,
                results: kept.slice(0, cand).map((h, i) => ({ id: h.chunkId, rank: i + 1, score: h.hops, via: h.via })),
              });
            }),
          );
        }
        await Promise.all(jobs);
      }),
    );

    const fused = await this.timed('fuse', timings, async () => {
      const acc = new Map<string, { rrf: number; from: Set<string> }>();
      for (const l of lists) {
        for (const r of l.results) {
          const e = acc.get(r.id) ?? { rrf: 0, from: new Set<string>() };
          e.rrf += 1 / (settings.retrieve.rrfK + r.rank);
          e.from.add(l.retriever);
          acc.set(r.id, e);
        }
      }
      return acc;
    });

    const ranked = await this.timed('rerank', timings, async () => {
      const qt = new Set(subs.flatMap((q) => tokens(q)));
      const out: DebugInfo['fused'] = [];
      for (const [id, e] of fused) {
        const c = chunkCache.get(id);
        if (!c) continue;
        const ct = new Set(tokens(`${c.title} ${c.headings.join(' ')} ${c.text}`));
        let hit = 0;
        for (const t of qt) if (ct.has(t)) hit++;
        const coverage = qt.size ? hit / qt.size : 0;
        // Fusion decides; coverage of the question's words breaks near-ties and lifts passages
        // that answer more of it.
        out.push({
          id,
          rrf: round(e.rrf, 5),
          coverage: round(coverage, 3),
          final: round(e.rrf * (1 + 0.5 * coverage), 5),
          from: [...e.from].sort(),
        });
      }
      out.sort((a, b) => b.final - a.final || (a.id < b.id ? -1 : 1));
      return out;
    });

    const results: RetrievedChunk[] = ranked.slice(0, k).map((r) => {
      const c = chunkCache.get(r.id)!;
      return {
        id: c.id,
        notePath: c.notePath,
        title: c.title,
        headings: [...c.headings],
        text: c.text,
        folder: c.folder,
        tags: [...c.tags],
        date: new Date(c.date).toISOString(),
        citation: citationOf(c),
        score: r.final,
      };
    });
    timings.total = round(performance.now() - t0);
    return {
      query: req.query,
      results,
      timings,
      ...(req.debug
        ? { debug: { subQuestions: subs, lists, fused: ranked.slice(0, Math.max(k * 3, 20)), graphSeeds: [...seeds].sort() } }
        : {}),
    };
  }

  async answer(req: RetrieveRequest): Promise<RetrieveResult & { answer: string; citations: string[] }> {
    const { llm } = this.deps;
    const r = await this.retrieve(req);
    if (!llm) throw new RuntimeError('RAG_UNAVAILABLE', 'no model is configured for answers', { hint: 'use /retrieve (context only)' });
    const context = r.results.map((c, i) => `(${i + 1}) ${c.citation}\n${c.text}`).join('\n\n');
    const t = performance.now();
    const text = await this.tracer.startActiveSpan('rag.answer', async (span) => {
      try {
        return await llm.complete({
          system: ANSWER_SYSTEM,
          user: `Context:\n${context || '(nothing found)'}\n\nQuestion: ${req.query}`,
          ...(req.signal ? { signal: req.signal } : {}),
        });
      } finally {
        span.end();
      }
    });
    r.timings.answer = round(performance.now() - t);
    const allowed = new Set(r.results.map((c) => c.citation));
    const citations = [...new Set([...text.matchAll(/\[\[[^\]\n]{1,300}\]\]/g)].map((m) => m[0]))].filter((c) => allowed.has(c));
    return { ...r, answer: text, citations };
  }
}

/** The entity/relation path a hit came by, without the final note step. */
function pathKey(via: string): string {
  return via.replace(/ -(in|link)- note:.*$/, '');
}

function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
