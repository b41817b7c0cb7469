import matter from 'gray-matter';
import { RuntimeError } from '../errors.js';
import { JobFrontmatterSchema, type JobFrontmatter } from './schema.js';

/*
 * Reading and amending job files as text. The worker only ever adds to a job file (an id line in
 * the frontmatter, sections at the end), so nothing the author wrote is lost or reformatted.
 */

/** Sections the runtime appends start with this line; the prompt is the body before the first. */
export const APPENDED_MARKER = '<!-- runtime:appended -->';

export interface JobDocument {
  readonly frontmatter: JobFrontmatter;
  /** The body the author wrote, without sections the runtime appended. */
  readonly prompt: string;
}

/** Parses and validates a job file; throws JOB_INVALID saying what is wrong. */
export function parseJobDocument(raw: string): JobDocument {
  let parsed: { data: unknown; content: string };
  try {
    // Passing options turns off gray-matter's unbounded parse cache (one entry per distinct file).
    parsed = matter(raw, {});
  } catch (e) {
    const reason = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new RuntimeError('JOB_INVALID', `the frontmatter is not valid YAML: ${reason}`, {
      hint: 'fix the YAML between the `---` lines at the top of the file and drop the file into the queue again',
    });
  }
  const result = JobFrontmatterSchema.safeParse(parsed.data ?? {});
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(frontmatter)'}: ${i.message}`);
    throw new RuntimeError('JOB_INVALID', `the frontmatter is invalid: ${lines.join('; ')}`, {
      hint: 'allowed keys: type (text|chain|research), model, skills (list), system, steps (chain: list of {prompt, model?}), notify (true|false), id',
    });
  }
  const prompt = stripAppended(parsed.content).trim();
  if (result.data.type === 'text' && prompt === '') {
    throw new RuntimeError('JOB_INVALID', 'a text job needs a prompt: the file body is empty', { hint: 'write the prompt below the frontmatter' });
  }
  return { frontmatter: result.data, prompt };
}

export function stripAppended(body: string): string {
  const at = body.indexOf(APPENDED_MARKER);
  return at === -1 ? body : body.slice(0, at);
}

/** Reads `id` from raw frontmatter without validating the rest (for files that fail later). */
export function peekId(raw: string): string | undefined {
  try {
    const id = (matter(raw, {}).data as Record<string, unknown>).id;
    return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
  } catch {
    return undefined;
  }
}

/** The file with `id: <id>` as the first frontmatter line (a frontmatter block is added if none). */
export function insertId(raw: string, id: string): string {
  const bom = raw.startsWith('\uFEFF') ? '\uFEFF' : '';
  const text = raw.slice(bom.length);
  const open = /^---[ \t]*(\r?\n)/.exec(text);
  if (open) return `${bom}${open[0]}id: ${id}${open[1]}${text.slice(open[0].length)}`;
  return `${bom}---\nid: ${id}\n---\n${text}`;
}

/** The file with a runtime section appended. */
export function appendSection(raw: string, heading: string, body: string): string {
  const sep = raw.endsWith('\n') ? '\n' : '\n\n';
  return `${raw}${sep}${APPENDED_MARKER}\n## ${heading}\n\n${body.trimEnd()}\n`;
}
