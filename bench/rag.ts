/*
 * Retrieval benchmark: `npx tsx bench/rag.ts [--notes 5000]`. Prints figures, asserts nothing.
 *
 * A generated vault (projects, people, stores, journal days with wiki links), the embedded stores
 * (SQLite + sqlite-vec + FTS5, SQLite graph), and in-process doubles for the providers: a hashing
 * embedder (384 dimensions) and a scripted extraction model, so the figures are the platform's
 * own work. Provider time is measured and subtracted.
 *   1. index throughput: chunks/s excluding provider time (target >= 500);
 *   2. re-index of the unchanged vault (target <= 2 s);
 *   3. retrieval latency p50/p99 over 300 questions, hybrid, no decomposition (target p50 <= 30 ms);
 *   4. RSS after each phase.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RetrievalSchema } from '@platform/contract';
import { Indexer } from '../runtime/src/rag/indexer.js';
import { Retriever } from '../runtime/src/rag/retriever.js';
import { SqliteGraphStore } from '../runtime/src/rag/stores/sqlite-graph.js';
import { SqliteVectorIndex } from '../runtime/src/rag/stores/sqlite-vector.js';
import type { Completer, Embedder } from '../runtime/src/rag/types.js';

const argv = process.argv.slice(2);
const NOTES = Number(argv[argv.indexOf('--notes') + 1] || 5000) || 5000;
const DIMS = 384;

/** Deterministic unit vectors from word hashes: a stand-in for the embedding provider. */
class HashEmbedder implements Embedder {
  readonly model = 'bench:hash';
  readonly dimensions = DIMS;
  async embed(texts: readonly string[]): Promise<number[][]> {
    return texts.map((t) => {
      const v = new Array<number>(DIMS).fill(0);
      for (const w of t.toLowerCase().split(/\W+/).filter(Boolean)) {
        const h = createHash('md5').update(w).digest();
        v[h.readUInt16LE(0) % DIMS]! += 1;
        v[h.readUInt16LE(2) % DIMS]! -= 0.5;
      }
      const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
      return v.map((x) => x / n);
    });
  }
}

/** The extraction model: capitalised word pairs become entities, the first relates to the rest. */
const scriptedModel: Completer = {
  async complete({ user }) {
    const names = [...new Set(user.slice(user.indexOf('Excerpt:')).match(/\b[A-Z][a-z]+ [A-Z][a-z]+\b/g) ?? [])].slice(0, 8);
    const entities = names.map((name) => ({ name, type: 'thing' }));
    const relations = names.slice(1).map((to) => ({ from: names[0]!, to, type: 'RELATES_TO' }));
    return JSON.stringify({ entities, relations });
  },
};

const WORDS =
  'alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu'.split(
    ' ',
  );
const FIRST = ['Ada', 'Bruno', 'Chiara', 'Dmitri', 'Elena', 'Farid', 'Greta', 'Hugo', 'Ines', 'Jonas'];
const LAST = ['Brennan', 'Castell', 'Dunmore', 'Eskola', 'Fairweather', 'Galloway', 'Hollis', 'Ilves', 'Jarrow', 'Kettering'];

function writeBenchVault(dir: string, n: number): void {
  for (const f of ['projects', 'people', 'journal']) mkdirSync(join(dir, f), { recursive: true });
  const projects = Math.ceil(n * 0.3);
  const people = Math.ceil(n * 0.1);
  const journal = n - projects - people;
  const person = (i: number): string => `${FIRST[i % 10]} ${LAST[Math.floor(i / 10) % 10]}${i >= 100 ? ` ${i}` : ''}`;
  const w = (i: number, k: number): string => Array.from({ length: k }, (_, j) => WORDS[(i * 7 + j * 3) % WORDS.length]).join(' ');
  for (let i = 0; i < projects; i++) {
    writeFileSync(
      join(dir, `projects/Project ${i}.md`),
      `---\ntags: [project, t${i % 20}]\ndate: 2025-01-${String((i % 28) + 1).padStart(2, '0')}\n---\n# Project ${i}\n\nProject ${i} is owned by [[${person(i % people)}]] and covers ${w(i, 30)}.\n\n## Design\n\n${w(i + 1, 80)}.\n\n## Operations\n\n| key | value |\n|---|---|\n| port | ${7000 + i} |\n| region | ${w(i, 1)} |\n\n${w(i + 2, 60)}.\n`,
    );
  }
  for (let i = 0; i < people; i++)
    writeFileSync(join(dir, `people/${person(i)}.md`), `# ${person(i)}\n\n${person(i)} works on ${w(i, 20)} and plays ${w(i + 5, 1)}.\n`);
  for (let i = 0; i < journal; i++) {
    writeFileSync(
      join(dir, `journal/day-${i}.md`),
      `---\ntags: [journal]\n---\n# Day ${i}\n\nMet [[${person(i % people)}]] about [[Project ${i % projects}]]: ${w(i, 40)}.\n`,
    );
  }
}

const mb = (): string => `${Math.round(process.memoryUsage().rss / 1048576)} MB`;
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'bench-rag-'));
  const vault = join(root, 'vault');
  const data = join(root, 'data');
  try {
    writeBenchVault(vault, NOTES);
    const settings = RetrievalSchema.parse({});
    const vectors = SqliteVectorIndex.inDataDir(data);
    const graph = SqliteGraphStore.inDataDir(data);
    const embedder = new HashEmbedder();
    const folders = { queue: '_queue', active: '_active', completed: '_completed', failed: '_failed', outputs: 'runner-outputs' };
    const indexer = new Indexer({ vaultDir: vault, dataDir: data, settings, folders, vectors, graph, embedder, llm: scriptedModel });
    console.log(`rag bench: ${NOTES} notes, embedded stores, in-process provider doubles; rss at start ${mb()}`);

    const first = await indexer.run();
    const own = first.totalMs - first.providerMs;
    console.log(
      `index:      ${first.indexed} notes, ${first.chunks} chunks in ${(first.totalMs / 1000).toFixed(1)} s (${(first.providerMs / 1000).toFixed(1)} s in provider doubles) -> ${Math.round(first.chunks / (own / 1000))} chunks/s excluding providers (target >= 500); rss ${mb()}`,
    );
    const again = await indexer.run();
    console.log(
      `re-index:   unchanged vault in ${(again.totalMs / 1000).toFixed(2)} s, ${again.embedCalls + again.extractCalls} provider calls (target <= 2 s); rss ${mb()}`,
    );

    const retriever = new Retriever({ vectors, graph, embedder, settings });
    const qs = Array.from(
      { length: 300 },
      (_, i) => `What does Project ${(i * 13) % Math.ceil(NOTES * 0.3)} cover about ${WORDS[i % WORDS.length]}, and who owns it?`,
    );
    for (const q of qs.slice(0, 10)) await retriever.retrieve({ query: q, decompose: false });
    const lat: number[] = [];
    const stage: Record<string, number[]> = {};
    for (const q of qs) {
      const t = performance.now();
      const r = await retriever.retrieve({ query: q, decompose: false });
      lat.push(performance.now() - t);
      for (const [k, v] of Object.entries(r.timings)) (stage[k] ??= []).push(v);
    }
    console.log(
      `retrieve:   ${qs.length} hybrid queries: p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms (target p50 <= 30 ms); rss ${mb()}`,
    );
    console.log(
      `  stages p50: ${Object.entries(stage)
        .map(([k, v]) => `${k} ${pct(v, 50).toFixed(1)} ms`)
        .join(', ')}`,
    );
    indexer.close();
    await vectors.close();
    await graph.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
