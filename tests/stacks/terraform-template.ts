import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { TfJson } from './helpers.js';

/*
 * How Terraform reads the strings of its JSON syntax: every string is a template, where `${...}`
 * is an interpolation, `%{...}` a directive, and `$${` / `%%{` the escapes for a literal `${` /
 * `%{` (HCL's template scanner). The policy test uses this to find, in every synthesized stack,
 * template sequences that are not references Terraform can resolve.
 */

export type TemplatePart =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'interpolation' | 'directive'; readonly source: string; readonly expr: string };

export class TemplateSyntaxError extends Error {
  override readonly name = 'TemplateSyntaxError';
}

/** Index just past the `}` closing a sequence whose body starts at `from`; quoted strings and nested braces inside are skipped. */
function closeOf(s: string, from: number): number {
  let depth = 0;
  let i = from;
  while (i < s.length) {
    const c = s[i]!;
    if (c === '"') {
      i = stringEnd(s, i + 1);
      continue;
    }
    if (c === '{') depth++;
    else if (c === '}') {
      if (depth === 0) return i + 1;
      depth--;
    }
    i++;
  }
  throw new TemplateSyntaxError(`unterminated template sequence starting "${s.slice(from - 2, from + 30)}"`);
}

/** Index just past the closing quote of a quoted string whose content starts at `from`. */
function stringEnd(s: string, from: number): number {
  let i = from;
  while (i < s.length) {
    const c = s[i]!;
    if (c === '\\') i += 2;
    else if ((c === '$' || c === '%') && s[i + 1] === c && s[i + 2] === '{') i += 3;
    else if ((c === '$' || c === '%') && s[i + 1] === '{') i = closeOf(s, i + 2);
    else if (c === '"') return i + 1;
    else i++;
  }
  throw new TemplateSyntaxError('unterminated quoted string in a template expression');
}

/** Splits a string the way Terraform's template scanner does. */
export function scanTemplate(s: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let lit = '';
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if ((c === '$' || c === '%') && s[i + 1] === c && s[i + 2] === '{') {
      lit += `${c}{`;
      i += 3;
    } else if ((c === '$' || c === '%') && s[i + 1] === '{') {
      if (lit) parts.push({ kind: 'literal', text: lit });
      lit = '';
      const end = closeOf(s, i + 2);
      const expr = s
        .slice(i + 2, end - 1)
        .replace(/^~/, '')
        .replace(/~$/, '')
        .trim();
      parts.push({ kind: c === '$' ? 'interpolation' : 'directive', source: s.slice(i, end), expr });
      i = end;
    } else {
      lit += c;
      i++;
    }
  }
  if (lit) parts.push({ kind: 'literal', text: lit });
  return parts;
}

/** The value Terraform makes of a string that must be a pure literal; throws on any template sequence. */
export function decodeLiteral(s: string): string {
  const parts = scanTemplate(s);
  const seq = parts.find((p) => p.kind !== 'literal');
  if (seq)
    throw new TemplateSyntaxError(
      `not a literal: Terraform reads ${seq.source.slice(0, 60)} as ${seq.kind === 'interpolation' ? 'an interpolation' : 'a directive'}`,
    );
  return parts.map((p) => (p.kind === 'literal' ? p.text : '')).join('');
}

/** The built-in functions CDKTF can emit (its `Fn` class), read from the functions it generates. */
export function cdktfFunctions(): Set<string> {
  const require = createRequire(import.meta.url);
  const file = join(dirname(require.resolve('cdktf')), 'functions', 'terraform-functions.generated.js');
  const names = [...readFileSync(file, 'utf8').matchAll(/terraformFunction\)\("([a-z0-9_]+)"/g)].map((m) => m[1]!);
  if (names.length < 50) throw new Error(`read only ${names.length} function names from ${file}`);
  return new Set(names);
}

/** What an expression may refer to: the stack's own declarations. */
export interface RefScope {
  readonly resources: ReadonlySet<string>;
  readonly data: ReadonlySet<string>;
  readonly variables: ReadonlySet<string>;
  readonly locals: ReadonlySet<string>;
  readonly modules: ReadonlySet<string>;
  readonly providers: ReadonlySet<string>;
  readonly functions: ReadonlySet<string>;
  /** Whether `count.index` / `each.key|value` exist where the expression sits. */
  readonly count: boolean;
  readonly each: boolean;
}

type Tok = { t: 'id' | 'num' | 'str' | 'op'; v: string };

function tokenize(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const rest = src.slice(i);
    const ws = /^\s+/.exec(rest);
    if (ws) {
      i += ws[0].length;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(rest);
    if (id) {
      toks.push({ t: 'id', v: id[0] });
      i += id[0].length;
      continue;
    }
    const num = /^\d+(\.\d+)?([eE][+-]?\d+)?/.exec(rest);
    if (num) {
      toks.push({ t: 'num', v: num[0] });
      i += num[0].length;
      continue;
    }
    if (rest[0] === '"') {
      const end = stringEnd(src, i + 1);
      toks.push({ t: 'str', v: src.slice(i + 1, end - 1) });
      i = end;
      continue;
    }
    const op = /^(::|==|!=|<=|>=|&&|\|\||=>|\.\.\.|[.[\](){},:?!+\-*/%<>=])/.exec(rest);
    if (!op) throw new TemplateSyntaxError(`unexpected "${rest[0]}"`);
    toks.push({ t: 'op', v: op[0] });
    i += op[0].length;
  }
  return toks;
}

const KEYWORDS = new Set(['true', 'false', 'null']);

/**
 * Checks one expression: every reference must name something the stack declares (in the form
 * Terraform accepts) and every call a function Terraform has. Returns the problems found.
 */
export function expressionProblems(expr: string, scope: RefScope): string[] {
  const problems: string[] = [];
  let toks: Tok[];
  try {
    toks = tokenize(expr);
  } catch (e) {
    return [(e as Error).message];
  }
  let k = 0;
  const peek = (v?: string): Tok | undefined => (v === undefined || toks[k]?.v === v ? toks[k] : undefined);
  const eat = (v: string): void => {
    if (toks[k]?.v !== v) throw new TemplateSyntaxError(`expected "${v}" but found "${toks[k]?.v ?? 'the end'}"`);
    k++;
  };

  const reference = (root: string): void => {
    const attrs: string[] = [];
    while (peek('.') && toks[k + 1]?.t === 'id') {
      attrs.push(toks[k + 1]!.v);
      k += 2;
    }
    const need = (n: number, what: string): boolean => {
      if (attrs.length >= n) return true;
      problems.push(`"${[root, ...attrs].join('.')}" is not a reference: ${what}`);
      return false;
    };
    const known = (set: ReadonlySet<string>, name: string, what: string): void => {
      if (!set.has(name)) problems.push(`${what} "${name}" is not declared in this stack`);
    };
    switch (root) {
      case 'var':
        if (need(1, 'var. must name a variable')) known(scope.variables, attrs[0]!, 'variable');
        break;
      case 'local':
        if (need(1, 'local. must name a local value')) known(scope.locals, attrs[0]!, 'local value');
        break;
      case 'module':
        if (need(1, 'module. must name a module')) known(scope.modules, attrs[0]!, 'module');
        break;
      case 'data':
        if (need(2, 'data. must be followed by a data source type and name')) known(scope.data, `${attrs[0]}.${attrs[1]}`, 'data source');
        break;
      case 'count':
        if (!scope.count || attrs[0] !== 'index')
          problems.push(`"count.${attrs.join('.')}" is only count.index, inside a resource with count`);
        break;
      case 'each':
        if (!scope.each || (attrs[0] !== 'key' && attrs[0] !== 'value'))
          problems.push(`"each.${attrs.join('.')}" is only each.key/each.value, inside a resource with for_each`);
        break;
      case 'path':
        if (!['module', 'root', 'cwd'].includes(attrs[0] ?? ''))
          problems.push(`"path.${attrs.join('.')}" is not path.module, path.root or path.cwd`);
        break;
      case 'terraform':
        if (attrs[0] !== 'workspace') problems.push(`"terraform.${attrs.join('.')}" is not terraform.workspace`);
        break;
      case 'self':
        problems.push('"self" only exists in provisioners and connection blocks');
        break;
      default:
        // Terraform reads any other name as a resource type, which needs a resource name after it:
        // "A reference to a resource type must be followed by at least one attribute access".
        if (need(1, 'Terraform reads a bare name as a resource type, which must be followed by a resource name'))
          known(scope.resources, `${root}.${attrs[0]}`, 'resource');
    }
  };

  const call = (name: string): void => {
    eat('(');
    args(')');
    const provider = /^provider::([^:]+)::/.exec(name);
    if (provider) {
      if (!scope.providers.has(provider[1]!))
        problems.push(`provider function ${name}() names provider "${provider[1]}", not required by this stack`);
    } else if (!scope.functions.has(name)) problems.push(`${name}() is not a Terraform function`);
  };

  const args = (close: string): void => {
    while (!peek(close)) {
      expression();
      if (peek('...')) k++;
      if (!peek(close)) eat(',');
    }
    eat(close);
  };

  const string = (content: string): void => {
    for (const part of scanTemplate(content)) {
      if (part.kind === 'interpolation') problems.push(...expressionProblems(part.expr, scope));
      else if (part.kind === 'directive') problems.push(`directive ${part.source} inside a string is not something this check accepts`);
    }
  };

  const primary = (): void => {
    const tok = toks[k];
    if (!tok) throw new TemplateSyntaxError('empty expression');
    k++;
    if (tok.t === 'num') return;
    if (tok.t === 'str') return string(tok.v);
    if (tok.t === 'id') {
      if (KEYWORDS.has(tok.v)) return;
      if (tok.v === 'provider' && peek('::')) {
        let name = tok.v;
        while (peek('::')) {
          k++;
          name += `::${toks[k]?.v ?? ''}`;
          k++;
        }
        return call(name);
      }
      if (peek('(')) return call(tok.v);
      if (tok.v === 'for') throw new TemplateSyntaxError('for expressions are not something this check accepts');
      return reference(tok.v);
    }
    if (tok.v === '(') {
      expression();
      return eat(')');
    }
    if (tok.v === '[') return args(']');
    if (tok.v === '{') {
      while (!peek('}')) {
        expression();
        if (!peek('=') && !peek(':')) throw new TemplateSyntaxError('expected "=" or ":" in an object');
        k++;
        expression();
        if (peek(',')) k++;
      }
      return eat('}');
    }
    throw new TemplateSyntaxError(`unexpected "${tok.v}"`);
  };

  const postfix = (): void => {
    primary();
    for (;;) {
      if (peek('.') && (toks[k + 1]?.t === 'id' || toks[k + 1]?.t === 'num' || toks[k + 1]?.v === '*')) k += 2;
      else if (peek('[')) {
        k++;
        if (peek('*')) k++;
        else expression();
        eat(']');
      } else return;
    }
  };

  const unary = (): void => {
    while (peek('!') || peek('-')) k++;
    postfix();
  };

  const BINARY = new Set(['||', '&&', '==', '!=', '<', '>', '<=', '>=', '+', '-', '*', '/', '%']);
  function expression(): void {
    unary();
    while (toks[k]?.t === 'op' && BINARY.has(toks[k]!.v)) {
      k++;
      unary();
    }
    if (peek('?')) {
      k++;
      expression();
      eat(':');
      expression();
    }
  }

  try {
    expression();
    if (k < toks.length) throw new TemplateSyntaxError(`unexpected "${toks[k]!.v}" after the expression`);
  } catch (e) {
    if (!(e instanceof TemplateSyntaxError)) throw e;
    problems.push(`cannot parse "${expr}": ${e.message}`);
  }
  return problems;
}

/** Problems of one string value: every sequence that is not a resolvable reference. */
export function templateProblems(value: string, scope: RefScope): string[] {
  let parts: TemplatePart[];
  try {
    parts = scanTemplate(value);
  } catch (e) {
    return [(e as Error).message];
  }
  return parts.flatMap((p) => {
    if (p.kind === 'literal') return [];
    if (p.kind === 'directive') return [`${p.source.slice(0, 60)}: Terraform reads this as a template directive`];
    const problems = expressionProblems(p.expr, scope);
    return problems.map((why) => `${p.source.slice(0, 60)}: ${why}`);
  });
}

/** Resource and data source keys that are Terraform meta-arguments, not templates (or checked as such). */
const META_NOT_TEMPLATES = new Set(['//', 'depends_on', 'provider', 'lifecycle', 'provisioner', 'connection']);

function walk(v: unknown, path: string[], visit: (path: string, value: string) => void): void {
  if (typeof v === 'string') visit(path.join('.'), v);
  else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, String(i)], visit));
  else if (v && typeof v === 'object') for (const [key, x] of Object.entries(v)) if (key !== '//') walk(x, [...path, key], visit);
}

export interface TemplateFinding {
  /** e.g. `grafana_dashboard.dashboards_dashboard-hosts_1A2B3C4D` or `provider.grafana`. */
  readonly address: string;
  readonly attribute: string;
  readonly problem: string;
}

/**
 * Every template sequence in a synthesized stack that Terraform could not resolve: in resources,
 * data sources, provider blocks, outputs and locals (variable descriptions and defaults are
 * literals to Terraform, the backend takes no expressions at all).
 */
export function stackTemplateFindings(
  tf: TfJson & { locals?: Record<string, unknown>; module?: Record<string, unknown> },
  functions: ReadonlySet<string>,
): TemplateFinding[] {
  const pairs = (block: Record<string, Record<string, unknown>> | undefined): string[] =>
    Object.entries(block ?? {}).flatMap(([type, byName]) => Object.keys(byName).map((name) => `${type}.${name}`));
  const base = {
    resources: new Set(pairs(tf.resource)),
    data: new Set(pairs(tf.data)),
    variables: new Set(Object.keys(tf.variable ?? {})),
    locals: new Set(Object.keys(tf.locals ?? {})),
    modules: new Set(Object.keys(tf.module ?? {})),
    providers: new Set(Object.keys(tf.terraform?.required_providers ?? {})),
    functions,
    count: false,
    each: false,
  };
  const findings: TemplateFinding[] = [];
  const check = (address: string, body: unknown, scope: RefScope, skip: ReadonlySet<string> = new Set()): void => {
    if (!body || typeof body !== 'object') return;
    for (const [key, v] of Object.entries(body)) {
      if (skip.has(key)) continue;
      walk(v, [key], (attribute, value) => {
        for (const problem of templateProblems(value, scope)) findings.push({ address, attribute, problem });
      });
    }
  };
  for (const [kind, block] of [
    ['', tf.resource],
    ['data.', tf.data],
  ] as const) {
    for (const [type, byName] of Object.entries(block ?? {})) {
      for (const [name, body] of Object.entries(byName)) {
        const b = body as Record<string, unknown>;
        check(`${kind}${type}.${name}`, body, { ...base, count: 'count' in b, each: 'for_each' in b }, META_NOT_TEMPLATES);
      }
    }
  }
  for (const [name, configs] of Object.entries(tf.provider ?? {})) {
    configs.forEach((c) => check(`provider.${name}${typeof c.alias === 'string' ? `.${c.alias}` : ''}`, c, base, new Set(['alias'])));
  }
  for (const [name, out] of Object.entries(tf.output ?? {})) check(`output.${name}`, { value: (out as { value?: unknown }).value }, base);
  check('locals', tf.locals, base);
  walk(tf.terraform?.backend, ['backend'], (attribute, value) => {
    if (scanTemplate(value).some((p) => p.kind !== 'literal'))
      findings.push({ address: 'terraform', attribute, problem: 'the backend takes no expressions' });
  });
  return findings;
}

export function formatFinding(stack: string, f: TemplateFinding): string {
  return `${stack}: ${f.address}: ${f.attribute}: ${f.problem}`;
}
