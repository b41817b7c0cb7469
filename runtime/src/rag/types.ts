/*
 * The retrieval layer's seams. Every store and model sits behind one of these interfaces, each
 * with a production adapter (Qdrant, Neo4j, Ollama) and an embedded default (SQLite, ONNX), and
 * each interface has one contract suite that every implementation passes.
 */

/** One piece of a note, the unit that is embedded, searched and cited. */
export interface Chunk {
  /** Stable: `<note path>#<ordinal>`; survives re-indexing of an unchanged note. */
  readonly id: string;
  /** Vault-relative path with forward slashes. */
  readonly notePath: string;
  readonly ordinal: number;
  /** The note's title (frontmatter title, first H1, or file name). */
  readonly title: string;
  /** Heading path, outermost first ("Projects > Neo4j"). */
  readonly headings: readonly string[];
  readonly text: string;
  /** Filterable fields, copied from the note. */
  readonly folder: string;
  readonly tags: readonly string[];
  /** Note date (frontmatter `date`, else file mtime), ms since the epoch. */
  readonly date: number;
}

export interface SearchFilter {
  /** Vault-relative folder prefixes; a chunk matches when its folder is one of them or below. */
  readonly folders?: readonly string[];
  /** A chunk matches when it has every one of these tags. */
  readonly tags?: readonly string[];
  /** Inclusive bounds, ms since the epoch. */
  readonly dateFrom?: number;
  readonly dateTo?: number;
}

export interface ScoredChunk {
  readonly chunk: Chunk;
  readonly score: number;
}

export interface IndexMeta {
  readonly embeddingModel: string;
  readonly dimensions: number;
}

/** Dense vectors plus keyword search over chunks. */
export interface VectorIndex {
  readonly kind: string;
  /** Creates the collection/tables for these dimensions, or checks that what exists matches. */
  init(meta: IndexMeta): Promise<void>;
  /** What the index was built with, or undefined when it is empty/new. */
  meta(): Promise<IndexMeta | undefined>;
  upsert(items: readonly { chunk: Chunk; vector: readonly number[] }[]): Promise<void>;
  deleteNotes(notePaths: readonly string[]): Promise<void>;
  /** Drops everything, including the recorded model (for an explicit full re-index). */
  reset(): Promise<void>;
  searchVector(vector: readonly number[], k: number, filter?: SearchFilter): Promise<ScoredChunk[]>;
  searchKeyword(query: string, k: number, filter?: SearchFilter): Promise<ScoredChunk[]>;
  /** Both at once where the store can fuse server-side (Qdrant prefetch + RRF). */
  searchHybrid?(vector: readonly number[], query: string, k: number, filter?: SearchFilter): Promise<ScoredChunk[]>;
  /** The chunks of these ids that exist, in no particular order. */
  getChunks(ids: readonly string[]): Promise<Chunk[]>;
  count(): Promise<number>;
  close(): Promise<void>;
}

export interface Entity {
  /** Normalised key; one per resolved entity. */
  readonly key: string;
  readonly name: string;
  readonly type: string;
}

export interface Relation {
  readonly from: string;
  readonly to: string;
  /** Upper-snake verb ("DEPENDS_ON"). */
  readonly type: string;
  /** The chunk the relation was read from. */
  readonly chunkId: string;
}

/** What the graph knows about one note, written in one call so a note is replaced whole. */
export interface NoteGraph {
  readonly notePath: string;
  readonly title: string;
  readonly chunkIds: readonly string[];
  /** Wiki links: target note paths (resolved) this note links to. */
  readonly links: readonly string[];
  readonly entities: readonly Entity[];
  /** chunk id -> entity keys mentioned in it. */
  readonly mentions: readonly { chunkId: string; entityKey: string }[];
  readonly relations: readonly Relation[];
}

export interface GraphHit {
  readonly chunkId: string;
  /** 0 = mentions a matched entity / is the matched note, 1 = one hop away, 2 = two hops. */
  readonly hops: number;
  /** How it was reached, for the debug view ("entity:neo4j -> RELATES_TO -> entity:bolt"). */
  readonly via: string;
}

export interface GraphStore {
  readonly kind: string;
  init(): Promise<void>;
  replaceNote(graph: NoteGraph): Promise<void>;
  /** Replaces one note's outgoing wiki links only (a link target appeared, vanished or moved). */
  setLinks(notePath: string, links: readonly string[]): Promise<void>;
  deleteNotes(notePaths: readonly string[]): Promise<void>;
  reset(): Promise<void>;
  /** Every entity, for resolution of new names against what is already known. */
  entities(): Promise<Entity[]>;
  /** Entities whose names match any of these terms (full-text / LIKE). */
  findEntities(terms: readonly string[], limit: number): Promise<Entity[]>;
  /**
   * Chunks around the seeds: chunks that mention a seed entity (0 hops), chunks that mention an
   * entity related to a seed (1 hop), chunks of notes linked to/from a seed note (1 hop), and one
   * more step of either (2 hops). Bounded by `limit`.
   */
  neighbourhood(seeds: { entityKeys: readonly string[]; notePaths: readonly string[] }, maxHops: 1 | 2, limit: number): Promise<GraphHit[]>;
  stats(): Promise<{ notes: number; entities: number; relations: number; links: number }>;
  close(): Promise<void>;
}

export interface Embedder {
  /** The name recorded in the index ("onnx:all-MiniLM-L6-v2-int8", "ollama:nomic-embed-text"). */
  readonly model: string;
  readonly dimensions: number;
  embed(texts: readonly string[]): Promise<number[][]>;
}

/** A text-in, text-out model call (entity extraction, decomposition, answers). */
export interface Completer {
  complete(req: { system: string; user: string; signal?: AbortSignal }): Promise<string>;
}
