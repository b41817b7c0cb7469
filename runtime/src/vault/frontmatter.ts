import { parseDocument } from 'yaml';
import { RuntimeError } from '../errors.js';

/*
 * Frontmatter for every reader of the vault (jobs, skills, retrieval, MCP): YAML between a
 * `---` line at the very top and the next `---` (or `...`) line, and nothing else.
 *
 * gray-matter, which this replaces, picks a parser from the opening line: `---js` and
 * `---javascript` go to `eval`, `---coffee` to CoffeeScript. Vault files come from every device
 * Syncthing serves, so the language tag is refused outright rather than mapped to an engine,
 * and the YAML parser runs with the core schema: no custom tags (`!!js/function` stays an
 * inert string), bounded aliases (no billion laughs), duplicate keys rejected.
 */

export interface Frontmatter {
  /** The YAML mapping; `{}` when the file has no frontmatter block or an empty one. */
  readonly data: Record<string, unknown>;
  /** Everything after the closing line (the whole text when there is no block). */
  readonly body: string;
  /** True when the text opens a frontmatter block (`---` first line). */
  readonly hasBlock: boolean;
}

/** Largest frontmatter block read, in characters; a job's YAML is a few lines. */
export const MAX_FRONTMATTER_CHARS = 64 * 1024;
const MAX_ALIASES = 50;

const OPEN = /^---([^\r\n]*)(\r?\n|$)/;
const CLOSE = /^(?:---|\.\.\.)[ \t]*(?:\r?\n|$)/gm;

function invalid(message: string, hint?: string): RuntimeError {
  return new RuntimeError('FRONTMATTER_INVALID', message, hint === undefined ? {} : { hint });
}

/** Where the block opens and closes, or why it is not a YAML block. Text without a leading BOM. */
function locate(text: string): { yaml: string; bodyStart: number } | undefined {
  const open = OPEN.exec(text);
  // `----` and longer is a Markdown rule, not a frontmatter fence.
  if (!open || open[1]!.startsWith('-')) return undefined;
  const tag = open[1]!.trim();
  if (tag !== '' && tag !== 'yaml' && tag !== 'yml') {
    throw invalid(`the frontmatter language "${tag.slice(0, 40)}" is refused: only YAML frontmatter is read (a plain \`---\` line)`);
  }
  const from = open[0].length;
  CLOSE.lastIndex = from;
  const close = open[2] === '' ? null : CLOSE.exec(text);
  if (!close) {
    throw invalid(
      'the frontmatter block is not closed: no `---` line after the opening one',
      'close the YAML block with a `---` line; if the file is still being written it is read again once complete',
    );
  }
  return { yaml: text.slice(from, close.index), bodyStart: close.index + close[0].length };
}

/** Parses the frontmatter of a vault file; throws FRONTMATTER_INVALID saying what is wrong. */
export function parseFrontmatter(input: string | Buffer): Frontmatter {
  let text = typeof input === 'string' ? input : input.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const at = locate(text);
  if (!at) return { data: {}, body: text, hasBlock: false };
  if (at.yaml.length > MAX_FRONTMATTER_CHARS) {
    throw invalid(`the frontmatter block is ${at.yaml.length} characters; at most ${MAX_FRONTMATTER_CHARS} are read`);
  }
  const doc = parseDocument(at.yaml, {
    schema: 'core',
    uniqueKeys: true,
    prettyErrors: false,
    merge: false,
    strict: true,
    stringKeys: true,
  });
  const problem = doc.errors[0];
  if (problem) throw invalid(`the frontmatter is not valid YAML: ${problem.message.split('\n')[0]}`);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (e) {
    throw invalid(`the frontmatter is not valid YAML: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
  if (data === null || data === undefined) data = {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw invalid('the frontmatter is not a mapping of keys to values', 'write `key: value` lines between the `---` lines');
  }
  return { data: data as Record<string, unknown>, body: text.slice(at.bodyStart), hasBlock: true };
}

/**
 * False when the text opens a frontmatter block that has no closing line yet: a writer still
 * at work (or one that stopped half-way). The queue waits for such a file before it claims it.
 */
export function frontmatterComplete(input: string | Buffer): boolean {
  let text = typeof input === 'string' ? input : input.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const open = OPEN.exec(text);
  if (!open || open[1]!.startsWith('-')) return text !== '-' && text !== '--'; // a file that may yet become `---`
  if (open[2] === '') return false;
  CLOSE.lastIndex = open[0].length;
  return CLOSE.exec(text) !== null;
}
