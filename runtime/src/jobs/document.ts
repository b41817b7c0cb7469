import { RuntimeError, describeError, isRuntimeError } from '../errors.js';
import { parseFrontmatter, type Frontmatter } from '../vault/frontmatter.js';
import { JobFrontmatterSchema, type JobFrontmatter } from './schema.js';

/*
 * Reading and amending job files as text. The worker only ever adds to a job file (an id line in
 * the frontmatter, sections at the end), so nothing the author wrote is lost or reformatted.
 */

/** Sections the runtime appends start with this line; the prompt is the body before the first. */
export const APPENDED_MARKER = '<!-- runtime:appended -->';

export interface JobLimits {
  /** A chain with more steps is invalid. */
  readonly maxChainSteps?: number;
}

export interface JobDocument {
  readonly frontmatter: JobFrontmatter;
  /** The body the author wrote, without sections the runtime appended. */
  readonly prompt: string;
}

/** Parses and validates a job file; throws JOB_INVALID saying what is wrong (and nothing else). */
export function parseJobDocument(raw: string | Buffer, limits: JobLimits = {}): JobDocument {
  let parsed: Frontmatter;
  try {
    parsed = parseFrontmatter(raw);
  } catch (e) {
    const reason = isRuntimeError(e) ? e.message : describeError(e).split('\n')[0];
    throw new RuntimeError('JOB_INVALID', reason ?? 'the frontmatter cannot be read', {
      hint: 'fix the YAML between the `---` lines at the top of the file (YAML only) and drop the file into the queue again',
    });
  }
  const result = JobFrontmatterSchema.safeParse(parsed.data);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(frontmatter)'}: ${i.message}`);
    throw new RuntimeError('JOB_INVALID', `the frontmatter is invalid: ${lines.join('; ')}`, {
      hint: 'allowed keys: type (text|chain|research|memory|reindex), model, skills (list), system, steps (chain: list of {prompt, model?}), notify (true|false), output (a vault folder), id',
    });
  }
  const steps = result.data.steps?.length ?? 0;
  if (limits.maxChainSteps !== undefined && steps > limits.maxChainSteps) {
    throw new RuntimeError('JOB_INVALID', `the chain has ${steps} steps; a job runs at most ${limits.maxChainSteps} steps`, {
      hint: 'split the chain into several jobs, or raise vault.worker.maxChainSteps in platform.yaml',
    });
  }
  const prompt = stripAppended(parsed.body).trim();
  if (result.data.type === 'text' && prompt === '') {
    throw new RuntimeError('JOB_INVALID', 'a text job needs a prompt: the file body is empty', {
      hint: 'write the prompt below the frontmatter',
    });
  }
  return { frontmatter: result.data, prompt };
}

export function stripAppended(body: string): string {
  const at = body.indexOf(APPENDED_MARKER);
  return at === -1 ? body : body.slice(0, at);
}

/** Reads `id` from raw frontmatter without validating the rest (for files that fail later). */
export function peekId(raw: string | Buffer): string | undefined {
  try {
    const id = parseFrontmatter(raw).data.id;
    return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
  } catch {
    return undefined;
  }
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const OPEN_LINE = /^---[ \t]*(\r?\n)/;

/**
 * The file with `id: <id>` as the first frontmatter line (a frontmatter block is added if none).
 * Bytes in, bytes out: every original byte is kept, in order, whatever its encoding.
 */
export function insertId(raw: Buffer, id: string): Buffer;
export function insertId(raw: string, id: string): string;
export function insertId(raw: string | Buffer, id: string): string | Buffer {
  if (typeof raw === 'string') return insertId(Buffer.from(raw, 'utf8'), id).toString('utf8');
  const bom = raw.subarray(0, 3).equals(BOM) ? 3 : 0;
  // The opening line is ASCII; latin1 maps each byte to one character, so offsets are byte offsets.
  const open = OPEN_LINE.exec(raw.subarray(bom, bom + 64).toString('latin1'));
  if (open) {
    const at = bom + open[0].length;
    return Buffer.concat([raw.subarray(0, at), Buffer.from(`id: ${id}${open[1]}`, 'utf8'), raw.subarray(at)]);
  }
  return Buffer.concat([raw.subarray(0, bom), Buffer.from(`---\nid: ${id}\n---\n`, 'utf8'), raw.subarray(bom)]);
}

/** The file with a runtime section appended; the original bytes are untouched. */
export function appendSection(raw: Buffer, heading: string, body: string): Buffer;
export function appendSection(raw: string, heading: string, body: string): string;
export function appendSection(raw: string | Buffer, heading: string, body: string): string | Buffer {
  if (typeof raw === 'string') return appendSection(Buffer.from(raw, 'utf8'), heading, body).toString('utf8');
  return Buffer.concat([raw, sectionBytes(raw, heading, body)]);
}

/** Only the bytes appendSection adds (for appending in place to a file too large to rewrite). */
export function sectionBytes(raw: Buffer | undefined, heading: string, body: string): Buffer {
  const sep = raw !== undefined && raw.length > 0 && raw[raw.length - 1] === 0x0a ? '\n' : '\n\n';
  return Buffer.from(`${sep}${APPENDED_MARKER}\n## ${heading}\n\n${body.trimEnd()}\n`, 'utf8');
}

/** Whether the file already holds this text (bytes compared, no decoding). */
export function containsText(raw: Buffer, text: string): boolean {
  return raw.includes(Buffer.from(text, 'utf8'));
}
