import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRagApp } from '../../runtime/src/rag/server.js';
import type { RetrieverName } from '../../runtime/src/rag/retriever.js';
import { startOllama, type OllamaDouble } from '../doubles/ollama.js';
import { evaluate, makeRig, scriptModel, type Rig } from './helpers.js';

/*
 * The whole retrieval path on the generated vault with the embedded stores and real MiniLM
 * embeddings: what is indexed and what is not, retrieval quality per retriever (recall@5 and MRR,
 * printed), graph hops, filters, and the HTTP service.
 */

let ollama: OllamaDouble;
let rig: Rig;

beforeAll(async () => {
  ollama = await startOllama();
  rig = makeRig(ollama);
  scriptModel(ollama, rig.vault);
  await rig.indexer.run();
}, 300_000);

afterAll(async () => {
  await rig?.close();
  await ollama?.close();
});

const notesOf = async (q: string, retrievers?: RetrieverName[]): Promise<string[]> => {
  const r = await rig.retriever.retrieve({ query: q, topK: 30, decompose: false, ...(retrievers ? { retrievers } : {}) });
  return r.results.map((c) => c.notePath);
};

describe('indexing the vault', () => {
  it('indexes every note and nothing else: no queue, outputs, skills, dot-folders, Syncthing files or symlinks', async () => {
    const chunks = await rig.vectors.getChunks(rig.vault.notes.flatMap((n) => [0, 1, 2, 3].map((i) => `${n}#${i}`)));
    expect(new Set(chunks.map((c) => c.notePath))).toEqual(new Set(rig.vault.notes));
    const junk = await rig.vectors.getChunks(rig.vault.ignored.map((p) => `${p}#0`));
    expect(junk).toEqual([]);
    const hits = await rig.vectors.searchKeyword('Moon conflict partial queued', 50);
    expect(hits.map((h) => h.chunk.notePath)).toEqual([]);
    expect(rig.vault.notes.length).toBeGreaterThanOrEqual(150);
  });

  it('keeps code blocks and tables whole and carries the heading path', async () => {
    const [topic] = await rig.vectors.getChunks(['topics/Rust.md#0']);
    expect(topic!.text).toContain('```sh\n# an example invocation kept whole in one chunk\nrust --version\n```');
    const store = (await rig.vectors.searchKeyword('replicas backup retention', 5)).find((h) =>
      h.chunk.text.includes('| setting | value |'),
    );
    expect(store!.chunk.text.split('\n').filter((l) => l.startsWith('|'))).toHaveLength(5);
    expect(store!.chunk.headings).toEqual([store!.chunk.title, 'Operations']);
  });

  it('costs no provider call when nothing changed', async () => {
    const embedsBefore = rig.embedder.calls;
    const chatsBefore = ollama.requests.filter((r) => r.path === '/api/chat').length;
    const stats = await rig.indexer.run();
    expect(stats).toMatchObject({ indexed: 0, deleted: 0, unchanged: rig.vault.notes.length, embedCalls: 0, extractCalls: 0 });
    expect(rig.embedder.calls).toBe(embedsBefore);
    expect(ollama.requests.filter((r) => r.path === '/api/chat').length).toBe(chatsBefore);
  });

  it('resolves "Neo4j" and "neo4j db" to one entity, and keeps "Neon sign" apart', async () => {
    const entities = await rig.graph.entities();
    // The first spelling seen names the entity (graph-db-ops.md sorts first); the other merges in.
    const neo = entities.filter((e) => e.key.startsWith('neo'));
    expect(neo.map((e) => e.key).sort()).toEqual(['neo4j db', 'neon sign']);
    const hits = await rig.graph.neighbourhood({ entityKeys: ['neo4j db'], notePaths: [] }, 1, 50);
    const zero = hits.filter((h) => h.hops === 0).map((h) => h.chunkId.split('#')[0]);
    expect(new Set(zero)).toEqual(new Set(['notes/graph-notes.md', 'notes/graph-db-ops.md', 'topics/Neo4j.md']));
  });

  it('turns wiki links into graph edges', async () => {
    const s = await rig.graph.stats();
    // Every project links to its language, owner and store; every journal day to a person and a project.
    expect(s.links).toBe(30 * 3 + 45 * 2);
  });
});

describe('retrieval quality', () => {
  const table: Record<string, { recall: number; mrr: number }> = {};

  it('measures recall@5 and MRR per retriever and fused', async () => {
    const all = rig.vault.questions;
    const hop = all.filter((q) => q.kind === 'hop');
    for (const [name, rs] of [
      ['vector', ['vector']],
      ['keyword', ['keyword']],
      ['graph', ['graph']],
      ['hybrid', undefined],
    ] as const) {
      const ranked = new Map<string, string[]>();
      for (const { q } of all) ranked.set(q, await notesOf(q, rs ? [...rs] : undefined));
      const a = await evaluate(all, async (q) => ranked.get(q)!);
      const h = await evaluate(hop, async (q) => ranked.get(q)!);
      table[name] = { recall: a.recall, mrr: a.mrr };
      table[`${name} (hop only)`] = { recall: h.recall, mrr: h.mrr };
    }
    const lines = Object.entries(table).map(([k, v]) => `${k.padEnd(20)} recall@5 ${v.recall.toFixed(3)}  MRR ${v.mrr.toFixed(3)}`);
    process.stdout.write(`\nretrieval over ${all.length} questions (${hop.length} need a graph hop):\n${lines.join('\n')}\n`);
    expect(table.hybrid!.recall).toBeGreaterThanOrEqual(0.8);
    expect(table.hybrid!.recall).toBeGreaterThanOrEqual(Math.max(table.vector!.recall, table.keyword!.recall));
    expect(table['hybrid (hop only)']!.recall).toBeGreaterThan(table['vector (hop only)']!.recall);
    expect(table['hybrid (hop only)']!.recall).toBeGreaterThan(table['keyword (hop only)']!.recall);
  }, 300_000);

  it('answers a question through a linked note, and debug says how it got there', async () => {
    const p = rig.vault.projects[0]!;
    const r = await rig.retriever.retrieve({
      query: `Which port does the data store of ${p.name} listen on?`,
      topK: 5,
      decompose: false,
      debug: true,
    });
    const found = r.results.find((c) => c.text.includes(`port ${p.port}`));
    expect(found?.notePath).toBe(`stores/${p.store}.md`);
    const graph = r.debug!.lists.find((l) => l.retriever === 'graph')!;
    const via = graph.results.find((x) => x.id === found!.id)!.via!;
    expect(via).toContain(`entity:project ${p.name.split(' ')[1]!.toLowerCase()}`);
    expect(r.debug!.fused.find((f) => f.id === found!.id)!.from).toContain('graph');
    expect(Object.keys(r.timings)).toEqual(expect.arrayContaining(['vector', 'keyword', 'graph', 'fuse', 'rerank', 'total']));
  });
});

describe('filters', () => {
  it('by folder, tag and date', async () => {
    const byFolder = await rig.retriever.retrieve({ query: 'plays an instrument in a band', topK: 10, filter: { folders: ['people'] } });
    expect(byFolder.results.length).toBe(10);
    expect(byFolder.results.every((c) => c.folder === 'people')).toBe(true);

    const byTag = await rig.retriever.retrieve({ query: 'we decided to', topK: 20, filter: { tags: ['decision'] } });
    expect(byTag.results.length).toBeGreaterThan(0);
    expect(byTag.results.every((c) => c.tags.includes('decision'))).toBe(true);

    const from = Date.UTC(2025, 1, 1);
    const to = Date.UTC(2025, 1, 28, 23, 59, 59);
    const byDate = await rig.retriever.retrieve({
      query: 'met about the project',
      topK: 30,
      filter: { folders: ['journal'], dateFrom: from, dateTo: to },
    });
    expect(byDate.results.length).toBeGreaterThan(0);
    expect(byDate.results.every((c) => c.notePath.startsWith('journal/2025-02-'))).toBe(true);
  });
});

describe('POST /retrieve and /answer', () => {
  it('serves context, answers with citations to the notes, and rejects bad requests with {code, message}', async () => {
    const app = buildRagApp({ retriever: rig.retriever });
    try {
      const p = rig.vault.projects[3]!;
      const r = await app.inject({ method: 'POST', url: '/retrieve', payload: { query: `Which city is ${p.name} deployed in?`, topK: 3 } });
      expect(r.statusCode).toBe(200);
      const body = r.json() as { results: { notePath: string; citation: string }[] };
      expect(body.results[0]!.notePath).toBe(p.path);
      expect(body.results[0]!.citation).toBe(`[[${p.path.replace(/\.md$/, '')}#Deployment]]`);

      const a = await app.inject({ method: 'POST', url: '/answer', payload: { query: `Which city is ${p.name} deployed in?`, topK: 3 } });
      expect(a.statusCode).toBe(200);
      const ans = a.json() as { answer: string; citations: string[] };
      expect(ans.citations).toEqual([`[[${p.path.replace(/\.md$/, '')}#Deployment]]`]);
      expect(ans.answer).toContain(ans.citations[0]);

      const long = await app.inject({
        method: 'POST',
        url: '/retrieve',
        payload: {
          query: `Which city is ${p.name} deployed in and what instrument does ${p.owner} play in the weekend band?`,
          debug: true,
          topK: 8,
        },
      });
      const dbg = long.json() as { debug: { subQuestions: string[] }; results: { notePath: string }[] };
      expect(dbg.debug.subQuestions.length).toBe(3);
      expect(dbg.results.map((x) => x.notePath)).toEqual(expect.arrayContaining([p.path, `people/${p.owner}.md`]));

      for (const payload of [
        {},
        { query: '' },
        { query: 'x', topK: 0 },
        { query: 'x', filter: { from: 'yesterday' } },
        { query: 'x', extra: 1 },
      ]) {
        const bad = await app.inject({ method: 'POST', url: '/retrieve', payload });
        expect(bad.statusCode).toBe(400);
        expect(bad.json()).toMatchObject({ code: 'RAG_BAD_REQUEST', message: expect.any(String) });
      }
      const notJson = await app.inject({
        method: 'POST',
        url: '/retrieve',
        headers: { 'content-type': 'application/json' },
        payload: '{nope',
      });
      expect(notJson.statusCode).toBe(400);
      expect(notJson.json()).toMatchObject({ code: 'RAG_BAD_REQUEST' });
    } finally {
      await app.close();
    }
  });
});
