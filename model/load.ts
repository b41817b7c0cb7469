import { readFileSync } from 'node:fs';
import { knownSecretKind, secretKind } from '@platform/contract';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { ModelInvalidError, PlatformError, type Problem } from './errors.js';
import { PlatformSchema, type Platform } from './schema.js';
import { allowedKeys } from './shape.js';
import { describe, oneOf } from './suggest.js';
import { crossCheck, type RawProblem } from './checks/index.js';

export type Path = ReadonlyArray<string | number>;

/** Maps model paths back to places in the YAML source. */
export class SourceMap {
  private readonly lines = new LineCounter();
  readonly doc: Document;

  constructor(
    readonly file: string,
    text: string,
  ) {
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
  }

  /** Line and column of the node at `path`; `key` points at the mapping key instead of its value.
   *  A path that runs past the document points at the deepest node that exists. */
  locate(path: Path, key = false): { line: number; col: number } {
    let node: unknown = this.doc.contents;
    let keyNode: unknown;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) break;
        keyNode = pair.key;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number' && node.items[seg] !== undefined) {
        keyNode = undefined;
        node = node.items[seg];
      } else {
        break;
      }
    }
    const target = (key && keyNode ? keyNode : (node ?? keyNode)) as Node | undefined;
    const offset = target?.range?.[0] ?? 0;
    return this.lines.linePos(offset);
  }

  position(offset: number): { line: number; col: number } {
    return this.lines.linePos(offset);
  }

  problem(raw: RawProblem): Problem {
    const { line, col } = this.locate(raw.path, raw.atKey ?? false);
    return { file: this.file, line, col, path: raw.path.join('.'), message: raw.message, fix: raw.fix };
  }
}

function get(root: unknown, path: Path): unknown {
  let cur = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

const isSecretNamePath = (path: Path): boolean => {
  const last = path[path.length - 1];
  const parent = path[path.length - 2];
  return (typeof last === 'string' && last.endsWith('Secret')) || parent === 'secrets';
};

/** Secret values pasted into the model: where a name is expected, in env values, or anywhere as a known token. */
function scanSecrets(root: unknown): RawProblem[] {
  const out: RawProblem[] = [];
  const walk = (v: unknown, path: (string | number)[]): void => {
    if (typeof v === 'string') {
      const inEnv = path[path.length - 2] === 'env';
      const kind = isSecretNamePath(path) || inEnv ? secretKind(v) : knownSecretKind(v);
      if (!kind) return;
      out.push({
        path,
        message: `this looks like a secret value (${kind}), and secret values never go into the model`,
        fix: isSecretNamePath(path)
          ? 'store the value in Infisical and write its name here instead, e.g. "ANTHROPIC_API_KEY"'
          : 'store the value in Infisical, remove it from here and list its name under the service\'s "secrets"',
      });
      return;
    }
    if (Array.isArray(v)) v.forEach((item, i) => walk(item, [...path, i]));
    else if (v && typeof v === 'object') for (const [k, item] of Object.entries(v)) walk(item, [...path, k]);
  };
  walk(root, []);
  return out;
}

function zodProblem(issue: z.core.$ZodIssue, root: unknown): RawProblem[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const found = get(root, path);
  if (found === undefined && issue.code !== 'unrecognized_keys' && issue.code !== 'custom' && path.length > 0) {
    const key = String(path[path.length - 1]);
    return [
      {
        path: path.slice(0, -1),
        atKey: true,
        message: `missing required key "${key}"`,
        fix: `add "${key}:" here (see generated/platform.schema.json)`,
      },
    ];
  }
  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = allowedKeys(PlatformSchema, path, root);
      return issue.keys.map((k) => ({
        path: [...path, k],
        atKey: true,
        message: `unknown key "${k}"`,
        fix: allowed ? oneOf(k, allowed) : 'remove it',
      }));
    }
    case 'invalid_type':
      return [{ path, message: `expected ${issue.expected}, found ${describe(found)}`, fix: `write ${article(issue.expected)} here` }];
    case 'invalid_value': {
      const values = issue.values.map(String);
      return [
        {
          path,
          message: `found ${describe(found)}, which is not allowed here`,
          fix: oneOf(typeof found === 'string' ? found : undefined, values),
        },
      ];
    }
    case 'invalid_union': {
      // A discriminated union whose tag is wrong: zod points at the tag and lists the allowed ones.
      if ((issue as { note?: string }).note === 'No matching discriminator') {
        const options = ((issue as { options?: unknown[] }).options ?? []).map(String);
        return [
          {
            path,
            message: `found ${describe(found)}, which is not a known ${String(path[path.length - 1])}`,
            fix: oneOf(typeof found === 'string' ? found : undefined, options),
          },
        ];
      }
      return [
        {
          path,
          message: `found ${describe(found)}, which matches none of the allowed forms`,
          fix: 'see generated/platform.schema.json for the allowed forms',
        },
      ];
    }
    case 'too_small':
    case 'too_big': {
      const what = issue.code === 'too_small' ? 'at least' : 'at most';
      const limit = String(issue.code === 'too_small' ? issue.minimum : issue.maximum);
      const unit = issue.origin === 'array' ? ' items' : issue.origin === 'string' ? ' characters' : '';
      return [{ path, message: `found ${describe(found)}; it must have ${what} ${limit}${unit}`, fix: `use ${what} ${limit}${unit}` }];
    }
    default:
      return [{ path, message: `found ${describe(found)}; expected ${issue.message}`, fix: `write ${issue.message}` }];
  }
}

function article(expected: string): string {
  if (expected === 'object') return 'a mapping';
  if (expected === 'array') return 'a list';
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

/** Parse and validate platform text. Throws ModelInvalidError with every problem at once. */
export function parsePlatform(text: string, file = 'platform.yaml'): Platform {
  const src = new SourceMap(file, text);
  const problems: Problem[] = src.doc.errors.map((e) => {
    const start = src.position(e.pos[0]);
    const dup = e.code === 'DUPLICATE_KEY';
    return {
      file,
      line: start.line,
      col: start.col,
      path: '',
      message: dup ? 'the same name is defined twice in one mapping' : `YAML syntax error: ${e.message.split('\n')[0]}`,
      fix: dup ? 'rename or remove one of the two entries' : 'fix the YAML syntax at this position (indentation, quotes, colons)',
    };
  });
  if (problems.length) throw new ModelInvalidError(problems);

  const raw: unknown = src.doc.toJS({ maxAliasCount: 100 });
  const secretProblems = scanSecrets(raw);
  const secretPaths = new Set(secretProblems.map((p) => p.path.join('.')));
  problems.push(...secretProblems.map((p) => src.problem(p)));

  const parsed = PlatformSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      for (const p of zodProblem(issue, raw)) {
        if (!secretPaths.has(p.path.join('.'))) problems.push(src.problem(p));
      }
    }
  } else {
    problems.push(...crossCheck(parsed.data).map((p) => src.problem(p)));
  }
  if (problems.length) {
    problems.sort((a, b) => a.line - b.line || a.col - b.col);
    throw new ModelInvalidError(problems);
  }
  return deepFreeze(parsed.data!);
}

export function loadPlatform(file: string, display = file): Platform {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw PlatformError.create('MODEL_NOT_FOUND', { file, reason: (e as Error).message }, { cause: e });
  }
  return parsePlatform(text, display);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
