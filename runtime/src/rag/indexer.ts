import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { RetrievalSettings } from '@platform/contract';
import { RuntimeError, describeError } from '../errors.js';
import { openDatabase, type Db } from '../store/db.js';
import { chunkMarkdown } from './chunker.js';
import { EntityResolver, extractEntities } from './entities.js';
import { LinkResolver, parseNote, readNote, walkVault, type ParsedNote } from './notes.js';
import { mismatch } from './stores/sqlite-vector.js';
import type { Chunk, Completer, Embedder, Entity, GraphStore, NoteGraph, Relation, VectorIndex } from './types.js';

/*
 * `runtime index`: brings both stores in line with the vault. Incremental by content hash: an
 * unchanged note costs a read and a hash, never a provider call. A note's state row is written
 * only after both stores hold it, so an interrupted run redoes exactly the notes it had not
 * finished. Deleted and renamed notes leave both stores. The index records its embedding model
 * and dimensions and refuses another unless the run is an explicit full re-index.
 */

export interface IndexerDeps {
  readonly vaultDir: string;
  /** Where the index state lives (the SQLite file `rag-state.sqlite`). */
  readonly dataDir: string;
  readonly settings: RetrievalSettings;
  /** Folder names of the vault layout (queue folders and outputs are skipped). */
  readonly folders: { queue: string; active: string; completed: string; failed: string; outputs: string };
  readonly vectors: VectorIndex;
  readonly graph: GraphStore;
  readonly embedder: Embedder;
  /** Entity extraction; undefined (or settings.entities.extract false) = wiki links only. */
  readonly llm?: Completer;
}

export type IndexProgress =
  | { phase: 'scan'; notes: number }
  | { phase: 'note'; done: number; total: number; path: string; chunks: number }
  | { phase: 'done'; stats: IndexStats };

export interface IndexStats {
  notes: number;
  unchanged: number;
  indexed: number;
  deleted: number;
  chunks: number;
  embedCalls: number;
  extractCalls: number;
  /** Chunks whose entity extraction was skipped, with the reason. */
  skippedChunks: { chunkId: string; reason: string }[];
  skippedFiles: { path: string; reason: string }[];
  /** Time spent waiting for the embedder and the model, ms. */
  providerMs: number;
  totalMs: number;
  interrupted: boolean;
}

export interface IndexRunOptions {
  /** Drop both stores and rebuild with the configured embedder (the only way to change it). */
  full?: boolean;
  onProgress?: (p: IndexProgress) => void;
  /** Stops between notes; what was finished stays finished. */
  signal?: AbortSignal;
}

interface StateRow {
  path: string;
  hash: string;
  title: string;
  aliases: string;
  links: string;
  resolved: string;
}

export class Indexer {
  private readonly state: Db;

  constructor(private readonly deps: IndexerDeps) {
    this.state = openDatabase(join(deps.dataDir, 'rag-state.sqlite'));
    this.state.exec(`
      CREATE TABLE IF NOT EXISTS notes (path TEXT PRIMARY KEY, hash TEXT NOT NULL, title TEXT NOT NULL, aliases TEXT NOT NULL,
        links TEXT NOT NULL, resolved TEXT NOT NULL, chunks INTEGER NOT NULL, indexed_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS skipped_chunks (chunk_id TEXT PRIMARY KEY, note_path TEXT NOT NULL, reason TEXT NOT NULL, at INTEGER NOT NULL);
    `);
  }

  close(): void {
    if (this.state.open) this.state.close();
  }

  /** Chunks whose extraction was skipped on earlier runs, and why. */
  skipped(): { chunkId: string; notePath: string; reason: string }[] {
    return this.state.prepare(`SELECT chunk_id AS chunkId, note_path AS notePath, reason FROM skipped_chunks ORDER BY chunk_id`).all() as {
      chunkId: string;
      notePath: string;
      reason: string;
    }[];
  }

  async run(opts: IndexRunOptions = {}): Promise<IndexStats> {
    const t0 = performance.now();
    const { settings, vectors, graph, embedder } = this.deps;
    const stats: IndexStats = {
      notes: 0,
      unchanged: 0,
      indexed: 0,
      deleted: 0,
      chunks: 0,
      embedCalls: 0,
      extractCalls: 0,
      skippedChunks: [],
      skippedFiles: [],
      providerMs: 0,
      totalMs: 0,
      interrupted: false,
    };
    const want = { embeddingModel: embedder.model, dimensions: embedder.dimensions };
    await graph.init();
    if (opts.full) {
      await vectors.reset();
      await graph.reset();
      this.state.exec(`DELETE FROM notes; DELETE FROM skipped_chunks;`);
    } else {
      const have = await vectors.meta();
      if (have && (have.embeddingModel !== want.embeddingModel || have.dimensions !== want.dimensions)) throw mismatch(have, want);
    }
    await vectors.init(want);

    const f = this.deps.folders;
    const skipFolders = [
      f.queue,
      f.active,
      f.completed,
      f.failed,
      ...settings.skipFolders,
      ...(settings.includeRunnerOutputs ? [] : [f.outputs]),
    ];
    const walked = await walkVault(this.deps.vaultDir, { skipFolders, maxNoteBytes: settings.maxNoteBytes });
    stats.skippedFiles.push(...walked.skipped);
    stats.notes = walked.notes.length;
    opts.onProgress?.({ phase: 'scan', notes: walked.notes.length });

    const prev = new Map(
      (this.state.prepare(`SELECT path, hash, title, aliases, links, resolved FROM notes`).all() as StateRow[]).map((r) => [r.path, r]),
    );
    const present = new Set(walked.notes.map((n) => n.path));

    // Gone (deleted, or renamed away): out of both stores first.
    const gone = [...prev.keys()].filter((p) => !present.has(p));
    if (gone.length) {
      await vectors.deleteNotes(gone);
      await graph.deleteNotes(gone);
      const del = this.state.prepare(`DELETE FROM notes WHERE path = ?`);
      const delSkipped = this.state.prepare(`DELETE FROM skipped_chunks WHERE note_path = ?`);
      this.state.transaction(() => gone.forEach((p) => (del.run(p), delSkipped.run(p))))();
      stats.deleted = gone.length;
    }

    // Hash everything; parse only what changed.
    const changed: ParsedNote[] = [];
    // Reads overlap (32 at a time): each is several filesystem round trips, and an unchanged
    // vault is nothing but reads and hashes.
    for (let i = 0; i < walked.notes.length; i += 32) {
      const batch = walked.notes.slice(i, i + 32);
      const texts = await Promise.all(
        batch.map((n) =>
          readNote(this.deps.vaultDir, n.path, settings.maxNoteBytes, walked.realRoot).catch(
            (e: unknown) => new ReadFailure(describeError(e)),
          ),
        ),
      );
      batch.forEach((n, j) => {
        const text = texts[j]!;
        if (text instanceof ReadFailure) {
          stats.skippedFiles.push({ path: n.path, reason: text.reason });
          return;
        }
        // Hash first: an unchanged note is never parsed.
        if (prev.get(n.path)?.hash === createHash('sha256').update(text).digest('hex')) stats.unchanged++;
        else changed.push(parseNote(n.path, text, n.mtimeMs));
      });
    }

    const changedByPath = new Map(changed.map((c) => [c.path, c]));
    const linkSource = walked.notes.map((n) => {
      const c = changedByPath.get(n.path);
      const p = prev.get(n.path);
      return { path: n.path, aliases: c ? c.aliases : p ? (JSON.parse(p.aliases) as string[]) : [] };
    });
    const links = new LinkResolver(linkSource);
    const resolveAll = (targets: readonly string[]): string[] =>
      [...new Set(targets.map((t) => links.resolve(t)).filter((x): x is string => x !== undefined))].sort();

    // Unchanged notes whose links now resolve elsewhere (a target appeared, vanished, moved).
    if (gone.length || changed.length) {
      const upd = this.state.prepare(`UPDATE notes SET resolved = ? WHERE path = ?`);
      for (const [path, row] of prev) {
        if (!present.has(path) || changedByPath.has(path)) continue;
        const now = resolveAll(JSON.parse(row.links) as string[]);
        if (JSON.stringify(now) !== row.resolved) {
          await graph.setLinks(path, now);
          upd.run(JSON.stringify(now), path);
        }
      }
    }

    const extract = settings.entities.extract && this.deps.llm !== undefined;
    const resolver = new EntityResolver(settings.entities.fuzzyThreshold, extract ? await graph.entities() : []);
    const putState = this.state.prepare(
      `INSERT OR REPLACE INTO notes (path, hash, title, aliases, links, resolved, chunks, indexed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const putSkipped = this.state.prepare(`INSERT OR REPLACE INTO skipped_chunks (chunk_id, note_path, reason, at) VALUES (?, ?, ?, ?)`);
    const clearSkipped = this.state.prepare(`DELETE FROM skipped_chunks WHERE note_path = ?`);

    let done = 0;
    for (const note of changed) {
      if (opts.signal?.aborted) {
        stats.interrupted = true;
        break;
      }
      const raw = chunkMarkdown(note.body, settings.chunk);
      const chunks: Chunk[] = raw.map((r, i) => ({
        id: `${note.path}#${i}`,
        notePath: note.path,
        ordinal: i,
        title: note.title,
        headings: r.headings,
        text: r.text,
        folder: note.folder,
        tags: note.tags,
        date: note.date,
      }));
      let vectorsOut: number[][] = [];
      if (chunks.length) {
        const te = performance.now();
        try {
          vectorsOut = await embedder.embed(chunks.map(embedText));
        } finally {
          stats.providerMs += performance.now() - te;
        }
        stats.embedCalls++;
      }

      const entities = new Map<string, Entity>();
      const mentions: { chunkId: string; entityKey: string }[] = [];
      const relations: Relation[] = [];
      const skippedHere: { chunkId: string; reason: string }[] = [];
      if (extract) {
        for (const c of chunks) {
          const tx = performance.now();
          const r = await extractEntities(this.deps.llm!, c.text, [note.title, ...c.headings].join(' > '));
          stats.providerMs += performance.now() - tx;
          stats.extractCalls += r.attempts;
          if (!r.ok) {
            skippedHere.push({ chunkId: c.id, reason: r.reason });
            continue;
          }
          const local = new Map<string, string>();
          for (const e of r.extraction.entities) {
            const ent = resolver.resolve(e.name, e.type);
            if (!ent) continue;
            entities.set(ent.key, ent);
            local.set(e.name.trim().toLowerCase(), ent.key);
            mentions.push({ chunkId: c.id, entityKey: ent.key });
          }
          for (const rel of r.extraction.relations) {
            const from = local.get(rel.from.trim().toLowerCase()) ?? resolver.resolve(rel.from, 'thing')?.key;
            const to = local.get(rel.to.trim().toLowerCase()) ?? resolver.resolve(rel.to, 'thing')?.key;
            const type =
              rel.type
                .toUpperCase()
                .replace(/[^A-Z0-9]+/g, '_')
                .replace(/^_+|_+$/g, '')
                .slice(0, 60) || 'RELATED_TO';
            if (!from || !to || from === to) continue;
            for (const k of [from, to]) {
              const known = resolver.get(k);
              if (known && !entities.has(k)) entities.set(k, known);
            }
            relations.push({ from, to, type, chunkId: c.id });
          }
        }
      }
      const uniqueMentions = [...new Map(mentions.map((m) => [`${m.chunkId}\u0000${m.entityKey}`, m])).values()];
      const resolved = resolveAll(note.links);
      const g: NoteGraph = {
        notePath: note.path,
        title: note.title,
        chunkIds: chunks.map((c) => c.id),
        links: resolved,
        entities: [...entities.values()],
        mentions: uniqueMentions,
        relations,
      };
      try {
        await vectors.deleteNotes([note.path]);
        await vectors.upsert(chunks.map((c, i) => ({ chunk: c, vector: vectorsOut[i]! })));
        await graph.replaceNote(g);
      } catch (e) {
        throw new RuntimeError('RAG_STORE_ERROR', `writing ${note.path} failed: ${describeError(e)}`, {
          cause: e,
          hint: 'run `runtime index` again: finished notes are kept',
        });
      }
      this.state.transaction(() => {
        clearSkipped.run(note.path);
        for (const s of skippedHere) putSkipped.run(s.chunkId, note.path, s.reason, Date.now());
        putState.run(
          note.path,
          note.hash,
          note.title,
          JSON.stringify(note.aliases),
          JSON.stringify(note.links),
          JSON.stringify(resolved),
          chunks.length,
          Date.now(),
        );
      })();
      stats.skippedChunks.push(...skippedHere);
      stats.indexed++;
      stats.chunks += chunks.length;
      done++;
      opts.onProgress?.({ phase: 'note', done, total: changed.length, path: note.path, chunks: chunks.length });
    }
    stats.totalMs = performance.now() - t0;
    opts.onProgress?.({ phase: 'done', stats });
    return stats;
  }
}

class ReadFailure {
  constructor(readonly reason: string) {}
}

/** What is embedded: the note title and heading path give a short chunk its context. */
export function embedText(c: Chunk): string {
  return `${[c.title, ...c.headings].join(' > ')}\n${c.text}`;
}
