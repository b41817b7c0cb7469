/*
 * Small text helpers shared by the keyword side of every store: one tokenizer (so the query and
 * the documents agree), BM25-style sparse vectors for Qdrant (term frequency saturated here, IDF
 * applied by Qdrant's `modifier: idf`), and trigram similarity for entity resolution.
 */

const STOP = new Set(
  'a an and are as at be but by for from has have he her his how i if in into is it its me my no not of on or our she so that the their them then there these they this to was we were what when where which who why will with you your does did do can'.split(
    ' ',
  ),
);

export function tokens(text: string, opts: { stem?: boolean } = {}): string[] {
  const doStem = opts.stem ?? true;
  const out: string[] = [];
  for (const m of text
    .toLowerCase()
    .normalize('NFKD')
    .matchAll(/[\p{L}\p{N}]+/gu)) {
    const t = m[0];
    if (t.length < 2 || t.length > 40 || STOP.has(t)) continue;
    out.push(doStem ? stem(t) : t);
  }
  return out;
}

/** A light suffix strip ("plays", "played", "playing" -> "play"), enough to match word forms. */
export function stem(t: string): string {
  if (t.length <= 4 || /\d/.test(t)) return t;
  return t.replace(/(ing|ed|es|s)$/, '');
}

/** FNV-1a, 32 bits: a stable sparse index for a term. */
export function termIndex(term: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < term.length; i++) {
    h ^= term.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * BM25 document side: tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avgLen)). IDF is Qdrant's
 * job (`modifier: idf`); a query vector is simply 1 per distinct term.
 */
export function sparseDoc(text: string, avgLen = 120, k1 = 1.2, b = 0.75): { indices: number[]; values: number[] } {
  const ts = tokens(text);
  const tf = new Map<number, number>();
  for (const t of ts) {
    const i = termIndex(t);
    tf.set(i, (tf.get(i) ?? 0) + 1);
  }
  const norm = k1 * (1 - b + (b * ts.length) / avgLen);
  const entries = [...tf.entries()].sort((x, y) => x[0] - y[0]);
  return { indices: entries.map((e) => e[0]), values: entries.map(([, f]) => (f * (k1 + 1)) / (f + norm)) };
}

export function sparseQuery(text: string): { indices: number[]; values: number[] } {
  const idx = [...new Set(tokens(text).map(termIndex))].sort((a, b) => a - b);
  return { indices: idx, values: idx.map(() => 1) };
}

/** An FTS5 MATCH expression that can never be a syntax error: quoted terms joined by OR. */
export function ftsQuery(text: string): string | undefined {
  // FTS5's porter tokenizer stems both sides itself.
  const ts = [...new Set(tokens(text, { stem: false }))].slice(0, 32);
  if (!ts.length) return undefined;
  return ts.map((t) => `"${t.replace(/"/g, '')}"`).join(' OR ');
}

/** Lower case, accents off, punctuation to spaces, generic suffix words dropped. */
export function normaliseName(name: string): string {
  return name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .replace(/\b(the|a|an)\b/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

// Entity resolution compares each new name with every known name sharing a word prefix: the
// known names' trigram sets are reused rather than rebuilt per comparison.
const trigramCache = new Map<string, Set<string>>();

function trigrams(s: string): Set<string> {
  const hit = trigramCache.get(s);
  if (hit) return hit;
  const p = `  ${s} `;
  const out = new Set<string>();
  for (let i = 0; i + 3 <= p.length; i++) out.add(p.slice(i, i + 3));
  if (trigramCache.size >= 100_000) trigramCache.clear();
  trigramCache.set(s, out);
  return out;
}

/** Jaccard similarity of character trigrams, 0..1. */
export function trigramSimilarity(a: string, b: string): number {
  if (a === b) return 1;
  const ta = trigrams(a);
  const tb = trigrams(b);
  let inter = 0;
  for (const t of ta) if (tb.has(t)) inter++;
  return inter / (ta.size + tb.size - inter || 1);
}
