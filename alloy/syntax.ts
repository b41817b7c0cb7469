import { PlatformError } from '../model/index.js';

/*
 * A small typed writer for Alloy configuration syntax. Values are data (strings are always
 * quoted and escaped); only `expr()` emits code verbatim, for references and function calls.
 * Output is deterministic: statements and object keys keep the order they are given in.
 */

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const BLOCK_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/** Verbatim Alloy expression code: a reference (`loki.write.cloud.receiver`) or a call (`sys.env("X")`). */
export class Expr {
  constructor(readonly code: string) {}
}

export type Value = string | number | boolean | null | Expr | readonly Value[] | { readonly [key: string]: Value };

export interface Attribute {
  readonly kind: 'attribute';
  readonly name: string;
  readonly value: Value;
}
export interface Block {
  readonly kind: 'block';
  readonly name: string;
  readonly label: string | undefined;
  readonly body: readonly Statement[];
}
export interface Comment {
  readonly kind: 'comment';
  readonly text: string;
}
export type Statement = Attribute | Block | Comment;

function invalid(message: string): PlatformError {
  return new PlatformError('RENDER_FAILED', `alloy syntax: ${message}`, { hint: 'this is a bug in the alloy generator' });
}

export function expr(code: string): Expr {
  return new Expr(code);
}

/** `sys.env("NAME")`: a value read from Alloy's environment at run time. */
export function env(name: string): Expr {
  return expr(`sys.env(${quote(name)})`);
}

/** A reference to another component's export, e.g. `ref('loki.write', 'cloud', 'receiver')`. */
export function ref(component: string, label: string, ...exportPath: string[]): Expr {
  if (!BLOCK_NAME.test(component)) throw invalid(`"${component}" is not a component name`);
  for (const part of [label, ...exportPath]) if (!IDENT.test(part)) throw invalid(`"${part}" is not an identifier`);
  return expr([component, label, ...exportPath].join('.'));
}

export function attr(name: string, value: Value): Attribute {
  if (!IDENT.test(name)) throw invalid(`attribute name "${name}" is not an identifier`);
  return { kind: 'attribute', name, value };
}

/** A block; `label` is required for components and absent for nested blocks such as `rule`. */
export function block(name: string, label: string | undefined, body: readonly (Statement | undefined | false)[]): Block {
  if (!BLOCK_NAME.test(name)) throw invalid(`block name "${name}" is not a dotted identifier`);
  if (label !== undefined && !IDENT.test(label)) throw invalid(`block label "${label}" must be letters, digits and underscores`);
  return { kind: 'block', name, label, body: body.filter((s): s is Statement => s !== undefined && s !== false) };
}

export function comment(text: string): Comment {
  return { kind: 'comment', text };
}

/**
 * An Alloy string literal. Alloy decodes string literals with Go's strconv rules, so quotes and
 * backslashes are escaped, common control characters use their short escapes, other control
 * characters use \u, and everything else (unicode included) is written as UTF-8.
 */
export function quote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xd800 && cp <= 0xdfff) throw invalid(`string contains a lone surrogate (U+${cp.toString(16).toUpperCase()})`);
    switch (ch) {
      case '"':
        out += '\\"';
        break;
      case '\\':
        out += '\\\\';
        break;
      case '\n':
        out += '\\n';
        break;
      case '\r':
        out += '\\r';
        break;
      case '\t':
        out += '\\t';
        break;
      default:
        out += cp < 0x20 || cp === 0x7f || (cp >= 0x80 && cp < 0xa0) ? `\\u${cp.toString(16).padStart(4, '0')}` : ch;
    }
  }
  return `${out}"`;
}

function isPlainObject(v: Value): v is { readonly [key: string]: Value } {
  return typeof v === 'object' && v !== null && !(v instanceof Expr) && !Array.isArray(v);
}

/** An object key: bare when it is an identifier, quoted otherwise (`"platform.service"`). */
function key(k: string): string {
  return IDENT.test(k) ? k : quote(k);
}

export function value(v: Value, indent = ''): string {
  if (v === null) return 'null';
  if (v instanceof Expr) return v.code;
  if (typeof v === 'string') return quote(v);
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw invalid(`number ${v} has no Alloy form`);
    return String(v);
  }
  const inner = `${indent}  `;
  if (Array.isArray(v)) {
    const items = v as readonly Value[];
    if (items.length === 0) return '[]';
    const flat = items.map((x) => value(x, inner));
    const oneLine = `[${flat.join(', ')}]`;
    if (!flat.some((x) => x.includes('\n')) && oneLine.length <= 100) return oneLine;
    return `[\n${flat.map((x) => `${inner}${x},`).join('\n')}\n${indent}]`;
  }
  if (isPlainObject(v)) {
    const entries = Object.entries(v);
    if (entries.length === 0) return '{}';
    const width = Math.max(...entries.map(([k]) => key(k).length));
    return `{\n${entries.map(([k, x]) => `${inner}${key(k).padEnd(width)} = ${value(x, inner)},`).join('\n')}\n${indent}}`;
  }
  throw invalid(`unsupported value ${String(v)}`);
}

function statements(body: readonly Statement[], indent: string): string[] {
  const lines: string[] = [];
  const attrs = body.filter((s): s is Attribute => s.kind === 'attribute');
  const width = attrs.length ? Math.max(...attrs.map((a) => a.name.length)) : 0;
  body.forEach((s, i) => {
    const prev = body[i - 1];
    // A blank line before each block and comment, and after a block; a comment sticks to what follows.
    if (prev !== undefined && prev.kind !== 'comment' && (s.kind !== 'attribute' || prev.kind === 'block')) lines.push('');
    if (s.kind === 'comment') {
      for (const line of s.text.split('\n')) lines.push(`${indent}//${line ? ` ${line}` : ''}`);
    } else if (s.kind === 'attribute') {
      lines.push(`${indent}${s.name.padEnd(width)} = ${value(s.value, indent)}`);
    } else {
      const head = `${indent}${s.name}${s.label === undefined ? '' : ` ${quote(s.label)}`}`;
      if (s.body.length === 0) lines.push(`${head} { }`);
      else lines.push(`${head} {`, ...statements(s.body, `${indent}  `), `${indent}}`);
    }
  });
  return lines;
}

/** A whole file: top-level statements separated by blank lines, ending in a newline. */
export function render(body: readonly Statement[]): string {
  return `${statements(body, '').join('\n')}\n`;
}
