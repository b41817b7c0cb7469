import { z } from 'zod';
import { describeError } from '../errors.js';
import { normaliseName, trigramSimilarity } from './text.js';
import type { Completer, Entity } from './types.js';

/*
 * Entities and relations from one chunk: one model call that must answer JSON matching
 * `ExtractionSchema`; on a mismatch the model is asked once more with the validation error, and a
 * second failure skips the chunk with the reason recorded. Names are resolved before anything is
 * written: normalise, exact match, then trigram/Jaccard similarity at or above the threshold.
 */

export const ExtractionSchema = z.strictObject({
  entities: z
    .array(z.strictObject({ name: z.string().trim().min(1).max(120), type: z.string().trim().min(1).max(40).default('thing') }))
    .max(40),
  relations: z
    .array(
      z.strictObject({
        from: z.string().trim().min(1).max(120),
        to: z.string().trim().min(1).max(120),
        type: z.string().trim().min(1).max(60),
      }),
    )
    .max(60)
    .default([]),
});

export type Extraction = z.infer<typeof ExtractionSchema>;

export const EXTRACTION_SYSTEM = `You extract a knowledge graph from a note excerpt.
Answer with JSON only, no prose, exactly this shape:
{"entities":[{"name":"...","type":"person|project|technology|place|organisation|concept|thing"}],
 "relations":[{"from":"<entity name>","to":"<entity name>","type":"UPPER_SNAKE_VERB"}]}
Only entities named in the excerpt; relations only between listed entities.`;

export type ExtractResult = { ok: true; extraction: Extraction; attempts: number } | { ok: false; reason: string; attempts: number };

/** The JSON object in a model answer (models wrap JSON in prose or code fences). */
function jsonIn(text: string): unknown {
  const fenced = /```(?:json)?\s*([\s\S]*?)```/.exec(text)?.[1];
  const src = fenced ?? text;
  const start = src.indexOf('{');
  const end = src.lastIndexOf('}');
  if (start < 0 || end <= start) throw new Error('the answer holds no JSON object');
  return JSON.parse(src.slice(start, end + 1));
}

function check(text: string): { ok: true; value: Extraction } | { ok: false; error: string } {
  let raw: unknown;
  try {
    raw = jsonIn(text);
  } catch (e) {
    return { ok: false, error: `not JSON: ${(e as Error).message}` };
  }
  const parsed = ExtractionSchema.safeParse(raw);
  if (!parsed.success)
    return { ok: false, error: parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') };
  return { ok: true, value: parsed.data };
}

export async function extractEntities(llm: Completer, chunkText: string, context: string): Promise<ExtractResult> {
  const user = `Note: ${context}\n\nExcerpt:\n${chunkText.slice(0, 6000)}`;
  let first: string;
  try {
    first = await llm.complete({ system: EXTRACTION_SYSTEM, user });
  } catch (e) {
    return { ok: false, reason: `model call failed: ${describeError(e)}`, attempts: 1 };
  }
  const a = check(first);
  if (a.ok) return { ok: true, extraction: a.value, attempts: 1 };
  let second: string;
  try {
    second = await llm.complete({
      system: EXTRACTION_SYSTEM,
      user: `${user}\n\nYour previous answer was rejected: ${a.error.slice(0, 500)}\nAnswer again with JSON of the required shape only.`,
    });
  } catch (e) {
    return { ok: false, reason: `model call failed on retry: ${describeError(e)}`, attempts: 2 };
  }
  const b = check(second);
  if (b.ok) return { ok: true, extraction: b.value, attempts: 2 };
  return { ok: false, reason: `invalid JSON twice: ${b.error.slice(0, 300)}`, attempts: 2 };
}

/**
 * How alike two normalised names are: trigram Jaccard of the whole names, but no more than the
 * Jaccard of the words they do not share. "neo4j" / "neo4j db" (one is the other plus a word)
 * stay close; "project kestrel" / "project petrel" share a long generic word and are still
 * different things, which a whole-string score alone would merge.
 */
export function nameSimilarity(a: string, b: string): number {
  const whole = trigramSimilarity(a, b);
  const wa = a.split(' ');
  const wb = b.split(' ');
  const ra = wa.filter((w) => !wb.includes(w)).join(' ');
  const rb = wb.filter((w) => !wa.includes(w)).join(' ');
  if (!ra || !rb) return whole;
  return Math.min(whole, trigramSimilarity(ra, rb));
}

/** Maps names to resolved entities, growing as new ones are seen. */
export class EntityResolver {
  private readonly byKey = new Map<string, Entity>();
  /** Blocking by first trigram keeps the fuzzy pass far from quadratic. */
  private readonly buckets = new Map<string, Entity[]>();

  constructor(
    private readonly threshold: number,
    known: readonly Entity[] = [],
  ) {
    for (const e of known) this.add(e);
  }

  private add(e: Entity): void {
    this.byKey.set(e.key, e);
    for (const b of this.blocks(e.key)) {
      const list = this.buckets.get(b);
      if (list) list.push(e);
      else this.buckets.set(b, [e]);
    }
  }

  private blocks(key: string): string[] {
    // Candidates share at least one word prefix; names with nothing in common never merge.
    return [
      ...new Set(
        key
          .split(' ')
          .filter(Boolean)
          .map((w) => w.slice(0, 3)),
      ),
    ];
  }

  /** The entity this name is, creating it when nothing known is close enough. */
  resolve(name: string, type: string): Entity | undefined {
    const key = normaliseName(name);
    if (!key) return undefined;
    const exact = this.byKey.get(key);
    if (exact) return exact;
    let best: Entity | undefined;
    let bestScore = 0;
    for (const b of this.blocks(key)) {
      for (const cand of this.buckets.get(b) ?? []) {
        const s = nameSimilarity(key, cand.key);
        if (s > bestScore) {
          best = cand;
          bestScore = s;
        }
      }
    }
    if (best && bestScore >= this.threshold) return best;
    const e: Entity = { key, name: name.trim(), type: normaliseName(type) || 'thing' };
    this.add(e);
    return e;
  }

  get(key: string): Entity | undefined {
    return this.byKey.get(key);
  }

  all(): Entity[] {
    return [...this.byKey.values()];
  }
}
