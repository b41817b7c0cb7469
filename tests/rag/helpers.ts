/*
 * Shared set-up for the retrieval tests: the generated vault, the real ONNX embedder (one per
 * process: loading it takes a second or two), the Ollama double scripted as the extraction,
 * decomposition and answer model, and the embedded stores in a temp data folder.
 */
import { join } from 'node:path';
import { RetrievalSchema, type RetrievalSettings } from '@platform/contract';
import { OnnxEmbedder, defaultModelsDir } from '../../runtime/src/rag/embedder.js';
import { EXTRACTION_SYSTEM } from '../../runtime/src/rag/entities.js';
import { Indexer } from '../../runtime/src/rag/indexer.js';
import { providerCompleter } from '../../runtime/src/rag/llm.js';
import { DECOMPOSE_SYSTEM, Retriever } from '../../runtime/src/rag/retriever.js';
import { SqliteGraphStore } from '../../runtime/src/rag/stores/sqlite-graph.js';
import { SqliteVectorIndex } from '../../runtime/src/rag/stores/sqlite-vector.js';
import type { Completer, Embedder, GraphStore, VectorIndex } from '../../runtime/src/rag/types.js';
import { OllamaProvider } from '../../runtime/src/providers/ollama.js';
import type { OllamaDouble } from '../doubles/ollama.js';
import { tempDir } from '../helpers.js';
import { scriptedExtraction, writeVault, type GeneratedVault } from './fixtures/vault.js';

export const FOLDERS = { queue: '_queue', active: '_active', completed: '_completed', failed: '_failed', outputs: 'runner-outputs' };

export function settings(over: Partial<Record<string, unknown>> = {}): RetrievalSettings {
  return RetrievalSchema.parse(over);
}

let sharedEmbedder: OnnxEmbedder | undefined;
/** The real all-MiniLM-L6-v2 (int8 ONNX), from the model cache. */
export function onnxEmbedder(): OnnxEmbedder {
  sharedEmbedder ??= new OnnxEmbedder(defaultModelsDir(process.env));
  return sharedEmbedder;
}

/** Counts calls and texts, so tests can prove an unchanged vault costs no provider call. */
export class CountingEmbedder implements Embedder {
  calls = 0;
  texts = 0;
  constructor(private readonly inner: Embedder) {}
  get model(): string {
    return this.inner.model;
  }
  get dimensions(): number {
    return this.inner.dimensions;
  }
  async embed(texts: readonly string[]): Promise<number[][]> {
    this.calls++;
    this.texts += texts.length;
    return this.inner.embed(texts);
  }
}

/** Scripts the double as the model: extraction from the fact table, decomposition, answers. */
export function scriptModel(ollama: OllamaDouble, vault: GeneratedVault): void {
  ollama.respond = (req) => {
    const system = req.messages.find((m) => m.role === 'system')?.content ?? '';
    const user = req.messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
    if (system === EXTRACTION_SYSTEM) {
      const excerpt = user.slice(user.indexOf('Excerpt:\n') + 9).split('\n\nYour previous answer')[0]!;
      return { chunks: [scriptedExtraction(excerpt, vault.entities)] };
    }
    if (system === DECOMPOSE_SYSTEM) {
      const parts = user.split(/\s+and\s+/i).map((s) => s.trim().replace(/\?*$/, '?'));
      return { chunks: [JSON.stringify({ questions: parts })] };
    }
    // Answers cite the first passage given, as a model told to cite would.
    const cite = /\(1\) (\[\[[^\]]+\]\])/.exec(user)?.[1];
    return { chunks: [cite ? `From the notes: see ${cite}.` : 'The notes do not say.'] };
  };
}

export function completer(ollama: OllamaDouble): Completer {
  return providerCompleter(new OllamaProvider({ host: 'test', baseUrl: ollama.url }), 'qwen2.5:14b', 30_000);
}

export interface Rig {
  vaultDir: string;
  dataDir: string;
  vault: GeneratedVault;
  vectors: VectorIndex;
  graph: GraphStore;
  embedder: CountingEmbedder;
  indexer: Indexer;
  retriever: Retriever;
  close(): Promise<void>;
}

export function makeRig(ollama: OllamaDouble, opts: { settings?: RetrievalSettings; vaultDir?: string; vault?: GeneratedVault } = {}): Rig {
  const vaultDir = opts.vaultDir ?? tempDir('rag-vault-');
  const vault = opts.vault ?? writeVault(vaultDir);
  const dataDir = tempDir('rag-data-');
  const s = opts.settings ?? settings();
  const vectors = new SqliteVectorIndex(join(dataDir, 'rag-vectors.sqlite'));
  const graph = new SqliteGraphStore(join(dataDir, 'rag-graph.sqlite'));
  const embedder = new CountingEmbedder(onnxEmbedder());
  const llm = completer(ollama);
  const indexer = new Indexer({ vaultDir, dataDir, settings: s, folders: FOLDERS, vectors, graph, embedder, llm });
  const retriever = new Retriever({ vectors, graph, embedder, settings: s, llm });
  return {
    vaultDir,
    dataDir,
    vault,
    vectors,
    graph,
    embedder,
    indexer,
    retriever,
    close: async () => {
      indexer.close();
      await vectors.close();
      await graph.close();
    },
  };
}

/** recall@k and MRR of a ranking function over questions with one known answer note each. */
export async function evaluate(
  questions: readonly { q: string; answer: string }[],
  rank: (q: string) => Promise<string[]>,
  k = 5,
): Promise<{ recall: number; mrr: number; n: number }> {
  let hits = 0;
  let rr = 0;
  for (const { q, answer } of questions) {
    const notes = [...new Set(await rank(q))];
    const at = notes.indexOf(answer);
    if (at >= 0 && at < k) hits++;
    if (at >= 0) rr += 1 / (at + 1);
  }
  return { recall: hits / questions.length, mrr: rr / questions.length, n: questions.length };
}
