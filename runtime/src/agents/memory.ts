import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { link, lstat, readdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { z } from 'zod';
import { RuntimeError, describeError } from '../errors.js';
import { slugify } from '../jobs/output.js';
import { isErrno, tempPathFor, writeFileAtomic } from '../queue/fs-util.js';
import { EntityResolver } from '../rag/entities.js';
import type { GraphStore, NoteGraph, Relation } from '../rag/types.js';
import { openDatabase } from '../store/db.js';
import { parseFrontmatter } from '../vault/frontmatter.js';
import { readRegularFile, truncateBytes, VaultFileError } from '../vault/files.js';
import { recentChatMessages } from '../web/chat-store.js';
import { ensureVaultFolder } from './folder.js';

/*
 * The memory agent: consolidates what happened since its last run (the web's chats, the jobs'
 * outputs) into durable notes in the folder the model names, and into facts in the retrieval
 * graph. One model call, whose answer is untrusted: it must be one JSON object of a bounded
 * shape (MemoryAnswerSchema), or the job fails with AGENT_OUTPUT_INVALID and writes nothing.
 *
 * It never deletes a note and never rewrites one it did not write: a note of its own carries
 * `memory_agent: true` and the hash of the body it wrote. A note at the same name without the
 * mark (the operator's), or whose body no longer matches the hash (the operator edited it), is
 * left as it is and the report says so. New notes are put in place with link(), which fails
 * rather than replace a file that appeared meanwhile.
 *
 * The facts go to the graph as one note per run (`memory:<job id>`), with names resolved against
 * the entities the index already knows, so a fact joins the graph the vault's notes built. A
 * full re-index (`runtime index --full`) resets the graph, these facts with it; the notes stay.
 */

export interface MemoryAgentDeps {
  /** The vault root, real path. */
  readonly vaultPath: string;
  /** Vault-relative outputs folder (job outputs are read from it). */
  readonly outputsFolder: string;
  /** The web's chat database (DATA_DIR/chat.db); absent or missing: no chats are read. */
  readonly chatDb?: string;
  /** Opens the retrieval graph store; without it memory jobs fail with RAG_UNAVAILABLE. */
  readonly openGraph?: () => Promise<GraphStore>;
  /**
   * Jobs completed since a time, with their outputs: what finds outputs written to a folder a
   * schedule names (briefings, research answers) besides the outputs folder.
   */
  readonly jobs?: { completedSince(since: number, limit: number): { output: string }[] };
  /** retrieval.entities.fuzzyThreshold. */
  readonly fuzzyThreshold: number;
  readonly now?: () => number;
}

export interface MemoryRun {
  readonly jobId: string;
  /** Epoch ms: chats and outputs after this are consolidated. */
  readonly since: number;
  /** Vault-relative folder of the agent's notes. */
  readonly folder: string;
  /** The job's body: the operator's extra instructions, if any. */
  readonly instructions: string;
  readonly signal?: AbortSignal;
}

export interface MemoryAsk {
  (system: string, user: string): Promise<{ answer: string; tokensIn: number; tokensOut: number }>;
}

export interface MemoryResult {
  /** The report the job's output file holds. */
  readonly answer: string;
  readonly tokensIn: number;
  readonly tokensOut: number;
  readonly created: readonly string[];
  readonly updated: readonly string[];
  readonly kept: readonly { path: string; reason: string }[];
  readonly facts: number;
  /** False when there was nothing new and no model was called. */
  readonly called: boolean;
}

const MAX_CHAT_MESSAGES = 200;
const MAX_MESSAGE_CHARS = 2_000;
const MAX_OUTPUT_FILES = 40;
const MAX_OUTPUT_BYTES = 8 * 1024;
const MAX_SOURCE_BYTES = 96 * 1024;
const MAX_OWN_NOTES = 50;
const MAX_OWN_NOTE_BYTES = 4 * 1024;
const MAX_NOTE_READ_BYTES = 256 * 1024;

const Name = z.string().trim().min(1).max(120);
export const MemoryAnswerSchema = z.strictObject({
  notes: z
    .array(
      z.strictObject({
        title: Name,
        body: z.string().trim().min(1).max(8_000),
        tags: z
          .array(
            z
              .string()
              .trim()
              .regex(/^[A-Za-z0-9_/-]{1,40}$/, 'a tag of letters, digits, "_", "-" or "/"'),
          )
          .max(10)
          .default([]),
      }),
    )
    .max(20),
  facts: z
    .array(
      z.strictObject({
        subject: Name,
        subject_type: z.string().trim().min(1).max(40).default('thing'),
        relation: z
          .string()
          .trim()
          .regex(/^[A-Z][A-Z0-9_]{0,59}$/, 'an UPPER_SNAKE verb such as "WORKS_ON"'),
        object: Name,
        object_type: z.string().trim().min(1).max(40).default('thing'),
      }),
    )
    .max(100)
    .default([]),
});
export type MemoryAnswer = z.infer<typeof MemoryAnswerSchema>;

export const MEMORY_SYSTEM = `You keep the operator's long-term memory: short, durable notes about what they work on,
decide and learn, and facts about the people, projects and tools involved.
You are given recent chats and job outputs, and the notes you wrote before.
Answer with one JSON object only, no prose, exactly this shape:
{"notes":[{"title":"...","body":"markdown","tags":["..."]}],
 "facts":[{"subject":"...","subject_type":"person|project|technology|place|organisation|concept|thing","relation":"UPPER_SNAKE_VERB","object":"...","object_type":"..."}]}
To update a note you wrote before, reuse its exact title and give its whole new body.
At most 20 notes and 100 facts. Only what is worth remembering beyond this week; nothing else.`;

/** The JSON object in a model answer, checked against the schema; throws AGENT_OUTPUT_INVALID. */
export function parseMemoryAnswer(text: string): MemoryAnswer {
  const fail = (why: string): RuntimeError =>
    new RuntimeError('AGENT_OUTPUT_INVALID', `the memory agent's answer was refused: ${why}; nothing was written`);
  const fenced = /```(?:json)?\s*([\s\S]*?)```/.exec(text)?.[1];
  const src = fenced ?? text;
  const start = src.indexOf('{');
  const end = src.lastIndexOf('}');
  if (start < 0 || end <= start) throw fail('it holds no JSON object');
  let raw: unknown;
  try {
    raw = JSON.parse(src.slice(start, end + 1));
  } catch (e) {
    throw fail(`not JSON (${describeError(e)})`);
  }
  const parsed = MemoryAnswerSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw fail(issues.join('; '));
  }
  const seen = new Set<string>();
  for (const n of parsed.data.notes) {
    const name = slugify(n.title);
    if (seen.has(name)) throw fail(`two notes have the file name "${name}.md" (titles "${n.title}" and another)`);
    seen.add(name);
  }
  return parsed.data;
}

export class MemoryAgent {
  private readonly now: () => number;

  constructor(private readonly deps: MemoryAgentDeps) {
    this.now = deps.now ?? Date.now;
  }

  async run(job: MemoryRun, ask: MemoryAsk): Promise<MemoryResult> {
    // Fail before a model call when the graph cannot take the facts.
    if (!this.deps.openGraph) {
      throw new RuntimeError('RAG_UNAVAILABLE', 'retrieval is not available to this worker; the memory agent writes graph facts', {
        hint: 'run the worker with retrieval configured (retrieval: in platform.yaml), or disable the memory schedule',
      });
    }
    const graph = await this.deps.openGraph();
    try {
      await graph.init();
      const folderAbs = await ensureVaultFolder(this.deps.vaultPath, job.folder);
      const own = await this.ownNotes(folderAbs, job.folder);
      const sources = await this.gather(job.since);
      const sinceIso = new Date(job.since).toISOString();
      if (sources.chats === 0 && sources.outputs === 0) {
        return {
          answer: `Nothing new since ${sinceIso}: no chats and no job outputs; no model was called.\n`,
          tokensIn: 0,
          tokensOut: 0,
          created: [],
          updated: [],
          kept: [],
          facts: 0,
          called: false,
        };
      }
      const user = [
        `Since ${sinceIso}: ${sources.chats} chat messages and ${sources.outputs} job outputs.`,
        job.instructions ? `\nThe operator's instructions:\n${job.instructions}` : '',
        `\n## Notes you wrote before\n\n${own.length ? own.map((n) => `### ${n.title}\n\n${n.body}`).join('\n\n') : '(none)'}`,
        `\n## Recent material\n\n${sources.text}`,
      ].join('\n');
      const r = await ask(MEMORY_SYSTEM, user);
      const parsed = parseMemoryAnswer(r.answer);
      const written = await this.writeNotes(folderAbs, job, parsed);
      const facts = await this.writeFacts(graph, job, parsed);
      return {
        ...written,
        facts,
        tokensIn: r.tokensIn,
        tokensOut: r.tokensOut,
        answer: report(sinceIso, sources, written, facts),
        called: true,
      };
    } finally {
      await graph.close().catch(() => undefined);
    }
  }

  /** The chats and outputs after `since`, as one bounded text. */
  private async gather(since: number): Promise<{ text: string; chats: number; outputs: number }> {
    const parts: string[] = [];
    let chats = 0;
    const dbPath = this.deps.chatDb;
    if (dbPath && existsSync(dbPath)) {
      const db = openDatabase(dbPath, { readonly: true });
      try {
        const rows = recentChatMessages(db, new Date(since).toISOString(), MAX_CHAT_MESSAGES);
        chats = rows.length;
        let session = '';
        for (const m of rows) {
          if (m.sessionId !== session) {
            session = m.sessionId;
            parts.push(`### Chat: ${m.sessionTitle.slice(0, 200)}`);
          }
          parts.push(`${m.role === 'user' ? 'Operator' : 'Assistant'} (${m.createdAt}): ${m.content.slice(0, MAX_MESSAGE_CHARS)}`);
        }
      } finally {
        db.close();
      }
    }
    let outputs = 0;
    const found = new Map<string, number>();
    const dir = join(this.deps.vaultPath, this.deps.outputsFolder);
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const n of names.slice(0, 20_000)) {
      if (n.startsWith('.') || !n.toLowerCase().endsWith('.md')) continue;
      const st = await lstat(join(dir, n)).catch(() => undefined);
      if (st?.isFile() && st.mtimeMs > since) found.set(`${this.deps.outputsFolder}/${n}`, st.mtimeMs);
    }
    // Outputs a job wrote elsewhere (a folder its schedule names), as the job ledger recorded them.
    for (const j of this.deps.jobs?.completedSince(since, MAX_OUTPUT_FILES * 4) ?? []) {
      if (found.has(j.output) || !/^(?!\/)(?!.*(^|\/)\.\.?(\/|$))[^\0\\]+\.md$/.test(j.output)) continue;
      const st = await lstat(join(this.deps.vaultPath, j.output)).catch(() => undefined);
      if (st?.isFile()) found.set(j.output, st.mtimeMs);
    }
    const recent = [...found.entries()].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1)).slice(-MAX_OUTPUT_FILES);
    for (const [rel] of recent) {
      let text: string;
      try {
        text = (await readRegularFile(join(this.deps.vaultPath, rel), { maxBytes: MAX_NOTE_READ_BYTES })).toString('utf8');
      } catch (e) {
        if (e instanceof VaultFileError) continue;
        throw e;
      }
      let fm;
      try {
        fm = parseFrontmatter(text);
      } catch {
        continue;
      }
      // The agents' own reports are not material to remember.
      if (fm.data.type === 'memory' || fm.data.type === 'reindex') continue;
      outputs++;
      parts.push(`### Job output: ${rel}\n\n${truncateBytes(fm.body.trim(), MAX_OUTPUT_BYTES)}`);
    }
    return { text: truncateBytes(parts.join('\n\n'), MAX_SOURCE_BYTES), chats, outputs };
  }

  /** Notes in the folder this agent wrote and the operator has not edited since. */
  private async ownNotes(folderAbs: string, folder: string): Promise<{ title: string; body: string }[]> {
    const out: { title: string; body: string }[] = [];
    const names = (await readdir(folderAbs)).filter((n) => n.endsWith('.md') && !n.startsWith('.')).sort();
    for (const n of names) {
      if (out.length >= MAX_OWN_NOTES) break;
      const own = await this.inspect(join(folderAbs, n), `${folder}/${n}`);
      if (own.state === 'own') out.push({ title: own.title, body: truncateBytes(own.body, MAX_OWN_NOTE_BYTES) });
    }
    return out;
  }

  /** Whether the file at `abs` is absent, this agent's untouched note, or someone else's. */
  private async inspect(
    abs: string,
    rel: string,
  ): Promise<{ state: 'absent' } | { state: 'own'; title: string; body: string } | { state: 'foreign'; reason: string }> {
    let buf: Buffer;
    try {
      buf = await readRegularFile(abs, { maxBytes: MAX_NOTE_READ_BYTES });
    } catch (e) {
      if (isErrno(e, 'ENOENT') || isErrno((e as { cause?: unknown }).cause, 'ENOENT')) return { state: 'absent' };
      if (e instanceof VaultFileError) return { state: 'foreign', reason: `${rel} is not a plain note (${e.problem})` };
      try {
        await lstat(abs);
      } catch (le) {
        if (isErrno(le, 'ENOENT')) return { state: 'absent' };
      }
      throw e;
    }
    let fm;
    try {
      fm = parseFrontmatter(buf);
    } catch {
      return { state: 'foreign', reason: 'its frontmatter is not ours' };
    }
    if (fm.data.memory_agent !== true) return { state: 'foreign', reason: 'a note the memory agent did not write' };
    if (fm.data.memory_hash !== hashBody(fm.body)) return { state: 'foreign', reason: 'edited since the memory agent wrote it' };
    const title = typeof fm.data.title === 'string' ? fm.data.title : rel;
    return { state: 'own', title, body: stripHeading(fm.body) };
  }

  private async writeNotes(
    folderAbs: string,
    job: MemoryRun,
    answer: MemoryAnswer,
  ): Promise<{ created: string[]; updated: string[]; kept: { path: string; reason: string }[] }> {
    const created: string[] = [];
    const updated: string[] = [];
    const kept: { path: string; reason: string }[] = [];
    const at = new Date(this.now()).toISOString();
    for (const n of answer.notes) {
      const name = `${slugify(n.title)}.md`;
      const rel = `${job.folder}/${name}`;
      const abs = join(folderAbs, name);
      const body = `# ${n.title}\n\n${n.body.trim()}\n`;
      const data = { title: n.title, tags: n.tags, memory_agent: true, memory_hash: hashBody(body), updated: at, job_id: job.jobId };
      const content = `---\n${stringify(data, { version: '1.1', singleQuote: true, lineWidth: 0 })}---\n${body}`;
      const state = await this.inspect(abs, rel);
      if (state.state === 'foreign') {
        kept.push({ path: rel, reason: state.reason });
        continue;
      }
      if (state.state === 'absent') {
        if (await placeNew(abs, content)) created.push(rel);
        else kept.push({ path: rel, reason: 'a note appeared there while the agent ran' });
        continue;
      }
      if (state.body.trim() === stripHeading(body).trim()) continue;
      await writeFileAtomic(abs, content);
      updated.push(rel);
    }
    return { created, updated, kept };
  }

  private async writeFacts(graph: GraphStore, job: MemoryRun, answer: MemoryAnswer): Promise<number> {
    if (answer.facts.length === 0) return 0;
    const resolver = new EntityResolver(this.deps.fuzzyThreshold, await graph.entities());
    const notePath = `memory:${job.jobId}`;
    const chunkId = `${notePath}#facts`;
    const entities = new Map<string, { key: string; name: string; type: string }>();
    const relations: Relation[] = [];
    for (const f of answer.facts) {
      const from = resolver.resolve(f.subject, f.subject_type);
      const to = resolver.resolve(f.object, f.object_type);
      if (!from || !to || from.key === to.key) continue;
      entities.set(from.key, from);
      entities.set(to.key, to);
      relations.push({ from: from.key, to: to.key, type: f.relation, chunkId });
    }
    const g: NoteGraph = {
      notePath,
      title: `Memory ${job.jobId}`,
      chunkIds: [chunkId],
      links: [],
      entities: [...entities.values()],
      mentions: [...entities.keys()].map((entityKey) => ({ chunkId, entityKey })),
      relations,
    };
    await graph.replaceNote(g);
    return relations.length;
  }
}

function hashBody(body: string): string {
  return createHash('sha256').update(body.replace(/\r\n/g, '\n').trim()).digest('hex');
}

function stripHeading(body: string): string {
  return body.replace(/^\s*# [^\n]*\n+/, '');
}

/** Creates `abs` with `content`; false when a file is already there (never replaced). */
async function placeNew(abs: string, content: string): Promise<boolean> {
  const tmp = tempPathFor(abs);
  await writeFile(tmp, content, { encoding: 'utf8', flag: 'wx' });
  try {
    await link(tmp, abs);
    return true;
  } catch (e) {
    if (isErrno(e, 'EEXIST')) return false;
    throw e;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

function report(
  since: string,
  sources: { chats: number; outputs: number },
  w: { created: readonly string[]; updated: readonly string[]; kept: readonly { path: string; reason: string }[] },
  facts: number,
): string {
  const link = (p: string): string => `[[${p.replace(/\.md$/, '')}]]`;
  const lines = [`Consolidated ${sources.chats} chat messages and ${sources.outputs} job outputs since ${since}.`, ''];
  lines.push(`## Notes created (${w.created.length})`, '', ...(w.created.length ? w.created.map((p) => `- ${link(p)}`) : ['(none)']), '');
  lines.push(`## Notes updated (${w.updated.length})`, '', ...(w.updated.length ? w.updated.map((p) => `- ${link(p)}`) : ['(none)']), '');
  if (w.kept.length) lines.push(`## Left as they are (${w.kept.length})`, '', ...w.kept.map((k) => `- ${k.path}: ${k.reason}`), '');
  lines.push(`## Graph`, '', `${facts} fact${facts === 1 ? '' : 's'} written to the retrieval graph.`);
  return `${lines.join('\n')}\n`;
}
