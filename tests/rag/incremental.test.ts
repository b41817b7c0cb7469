import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../runtime/src/errors.js';
import { EXTRACTION_SYSTEM, EntityResolver, extractEntities } from '../../runtime/src/rag/entities.js';
import { Indexer } from '../../runtime/src/rag/indexer.js';
import type { Embedder } from '../../runtime/src/rag/types.js';
import { startOllama, type OllamaDouble } from '../doubles/ollama.js';
import { tempDir } from '../helpers.js';
import { FOLDERS, completer, makeRig, scriptModel, settings, type Rig } from './helpers.js';

/*
 * Incremental indexing on the generated vault: edit, delete and rename one note each; an
 * interrupted run that resumes; a changed embedding model that is refused unless --full; and
 * entity extraction that retries once on invalid JSON and then skips with a reason.
 */

let ollama: OllamaDouble;
let rig: Rig;
const chats = (): number => ollama.requests.filter((r) => r.path === '/api/chat').length;

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

describe('incremental indexing', () => {
  it('re-embeds only an edited note; a deleted note and a renamed note leave both stores', async () => {
    const p = rig.vault.projects[5]!;
    const edited = readFileSync(join(rig.vaultDir, p.path), 'utf8').replace(`deployed in ${p.city}`, 'deployed in Ulaanbaatar');
    writeFileSync(join(rig.vaultDir, p.path), edited);
    rmSync(join(rig.vaultDir, 'topics/Zig.md'));
    renameSync(join(rig.vaultDir, 'stores/Lyra Vault.md'), join(rig.vaultDir, 'stores/Lyra Vault Archive.md'));

    const texts = rig.embedder.texts;
    const chatsBefore = chats();
    const stats = await rig.indexer.run();
    expect(stats).toMatchObject({ indexed: 2, deleted: 2, unchanged: rig.vault.notes.length - 3 });
    // Only the edited and the renamed note were embedded and extracted.
    const newChunks = (await rig.vectors.getChunks([0, 1, 2, 3].flatMap((i) => [`${p.path}#${i}`, `stores/Lyra Vault Archive.md#${i}`])))
      .length;
    expect(rig.embedder.texts - texts).toBe(newChunks);
    expect(chats() - chatsBefore).toBe(newChunks);

    const hits = await rig.retriever.retrieve({ query: `Which city is ${p.name} deployed in?`, topK: 3, decompose: false });
    expect(hits.results[0]!.text).toContain('Ulaanbaatar');
    expect(await rig.vectors.getChunks(['topics/Zig.md#0', 'stores/Lyra Vault.md#0'])).toEqual([]);
    expect((await rig.vectors.searchKeyword('comptime manual memory management', 10)).map((h) => h.chunk.notePath)).not.toContain(
      'topics/Zig.md',
    );
    const zig = await rig.graph.findEntities(['zig'], 5);
    // Zig is still named by the projects written in it, so the entity stays; its own note is gone.
    const zigHits = await rig.graph.neighbourhood({ entityKeys: zig.map((e) => e.key), notePaths: [] }, 1, 100);
    expect(zigHits.some((h) => h.chunkId.startsWith('topics/Zig.md'))).toBe(false);
    const renamed = await rig.vectors.getChunks(['stores/Lyra Vault Archive.md#0']);
    expect(renamed).toHaveLength(1);
  });

  it('re-links notes whose link target was renamed away, with no model call', async () => {
    // The projects that linked to [[Lyra Vault]] now point at nothing; their edge is gone.
    const user = rig.vault.projects.find((x) => x.store === 'Lyra Vault')!;
    const hits = await rig.graph.neighbourhood({ entityKeys: [], notePaths: [user.path] }, 1, 100);
    expect(hits.some((h) => h.chunkId.startsWith('stores/Lyra Vault'))).toBe(false);
    const chatsBefore = chats();
    writeFileSync(
      join(rig.vaultDir, 'stores/Lyra Vault Archive.md'),
      `---\naliases: [Lyra Vault]\n---\n# Lyra Vault Archive\n\nLyra Vault was renamed.\n`,
    );
    const stats = await rig.indexer.run();
    expect(stats.indexed).toBe(1);
    const after = await rig.graph.neighbourhood({ entityKeys: [], notePaths: [user.path] }, 1, 100);
    expect(after.some((h) => h.chunkId.startsWith('stores/Lyra Vault Archive.md'))).toBe(true);
    expect(chats() - chatsBefore).toBe(1);
  });

  it('resumes an interrupted run where it stopped', async () => {
    for (const x of rig.vault.projects.slice(10, 16)) {
      const f = join(rig.vaultDir, x.path);
      writeFileSync(f, `${readFileSync(f, 'utf8')}\nRevised.\n`);
    }
    const ac = new AbortController();
    const first = await rig.indexer.run({ signal: ac.signal, onProgress: (e) => e.phase === 'note' && e.done === 2 && ac.abort() });
    expect(first).toMatchObject({ indexed: 2, interrupted: true });
    const texts = rig.embedder.texts;
    const second = await rig.indexer.run();
    expect(second).toMatchObject({ indexed: 4, interrupted: false });
    expect(rig.embedder.texts - texts).toBeGreaterThanOrEqual(4);
    expect((await rig.indexer.run()).indexed).toBe(0);
  });

  it('refuses an index built with another embedding model, until --full', async () => {
    const other: Embedder = {
      model: 'ollama:nomic-embed-text',
      dimensions: 768,
      embed: async (t) => t.map(() => Array.from({ length: 768 }, (_, i) => (i === 0 ? 1 : 0))),
    };
    const ix = new Indexer({
      vaultDir: rig.vaultDir,
      dataDir: rig.dataDir,
      settings: settings({ entities: { extract: false } }),
      folders: FOLDERS,
      vectors: rig.vectors,
      graph: rig.graph,
      embedder: other,
    });
    try {
      const err = await ix.run().catch((e: unknown) => e);
      expect(isRuntimeError(err, 'RAG_INDEX_MISMATCH')).toBe(true);
      expect((err as Error).message).toContain('onnx:all-MiniLM-L6-v2-int8 vectors (384 dimensions)');
      expect(await rig.vectors.meta()).toEqual({ embeddingModel: 'onnx:all-MiniLM-L6-v2-int8', dimensions: 384 });
      const full = await ix.run({ full: true });
      expect(full.indexed).toBe(rig.vault.notes.length - 1);
      expect(await rig.vectors.meta()).toEqual({ embeddingModel: 'ollama:nomic-embed-text', dimensions: 768 });
    } finally {
      ix.close();
    }
  });
});

describe('entity extraction and resolution', () => {
  it('retries once with the validation error, then skips the chunk and says why', async () => {
    const llm = completer(ollama);
    ollama.chat.enqueue(
      { chunks: ['{"entities": [{"name": ""}]}'] },
      { chunks: ['{"entities": [{"name": "Kafka", "type": "technology"}], "relations": []}'] },
    );
    const ok = await extractEntities(llm, 'We moved the queue to Kafka.', 'Note');
    expect(ok).toEqual({ ok: true, attempts: 2, extraction: { entities: [{ name: 'Kafka', type: 'technology' }], relations: [] } });
    const retry = ollama.requests.filter((r) => r.path === '/api/chat').at(-1)!.body as { messages: { content: string }[] };
    expect(retry.messages.at(-1)!.content).toContain('Your previous answer was rejected: entities.0.name');

    ollama.chat.enqueue({ chunks: ['Sure! Here are the entities: Kafka.'] }, { chunks: ['```json\n{"entities": "Kafka"}\n```'] });
    const bad = await extractEntities(llm, 'We moved the queue to Kafka.', 'Note');
    expect(bad).toMatchObject({ ok: false, attempts: 2, reason: expect.stringContaining('invalid JSON twice: entities') });
    expect(EXTRACTION_SYSTEM).toContain('JSON only');
  });

  it('records skipped chunks in the index state', async () => {
    const dir = tempDir('rag-small-');
    mkdirSync(join(dir, 'notes'));
    writeFileSync(join(dir, 'notes/graph-notes.md'), '# Graph notes\n\nWe keep the knowledge graph in Neo4j and query it with Cypher.\n');
    writeFileSync(join(dir, 'notes/other.md'), '# Other\n\nKafka moves the events.\n');
    const r2 = makeRig(ollama, { vaultDir: dir, vault: rig.vault });
    try {
      // Every extraction answer for one note is garbage: its chunks are skipped, the rest indexed.
      const inner = ollama.respond!;
      ollama.respond = (req) =>
        req.messages.some((m) => m.content.includes('Note: Graph notes')) ? { chunks: ['no json here'] } : inner(req);
      const stats = await r2.indexer.run();
      ollama.respond = inner;
      expect(stats.skippedChunks).toEqual([{ chunkId: 'notes/graph-notes.md#0', reason: expect.stringContaining('not JSON') }]);
      expect(r2.indexer.skipped()).toEqual([
        { chunkId: 'notes/graph-notes.md#0', notePath: 'notes/graph-notes.md', reason: expect.any(String) },
      ]);
      // The note is still searchable; it only lacks graph entities.
      expect((await r2.vectors.searchKeyword('Cypher knowledge graph', 3))[0]!.chunk.notePath).toBe('notes/graph-notes.md');
    } finally {
      await r2.close();
    }
  });

  it('merges spellings above the threshold and keeps different things apart', () => {
    const r = new EntityResolver(0.5);
    const neo = r.resolve('Neo4j', 'technology')!;
    expect(r.resolve('neo4j db', 'technology')).toBe(neo);
    expect(r.resolve('NEO4J', 'technology')).toBe(neo);
    expect(r.resolve('Neon sign', 'thing')).not.toBe(neo);
    const pg = r.resolve('Postgres', 'technology')!;
    expect(r.resolve('PostgreSQL', 'technology')).toBe(pg);
    const kestrel = r.resolve('Project Kestrel', 'project')!;
    expect(r.resolve('Project Petrel', 'project')).not.toBe(kestrel);
    // A stricter threshold keeps even close spellings apart.
    const strict = new EntityResolver(0.9);
    expect(strict.resolve('neo4j db', 'x')).not.toBe(strict.resolve('Neo4j', 'x'));
  });
});
