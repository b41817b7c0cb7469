import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedSpec } from '../helpers.js';
import type { TfJson } from './helpers.js';
import { scanTemplate } from './terraform-template.js';

/*
 * Holds synthesized Terraform JSON against real provider schemas, in the format of
 * `tofu providers schema -json` / `terraform providers schema -json`. The schemas live in the
 * shared specs folder as `<provider type>-<version>.json` (e.g. grafana-4.25.0.json); for each
 * provider a stack requires, the newest file whose version satisfies the stack's
 * required_providers constraint is used, so a newer schema dropped in is picked up as it is.
 */

export const SCHEMA_DIR = sharedSpec('terraform');

export type CtyType = string | [string, ...unknown[]];

export interface SchemaAttribute {
  readonly type?: CtyType;
  readonly nested_type?: NestedType;
  readonly required?: boolean;
  readonly optional?: boolean;
  readonly computed?: boolean;
}

export interface NestedType {
  readonly nesting_mode: 'single' | 'list' | 'set' | 'map';
  readonly attributes: Record<string, SchemaAttribute>;
  readonly min_items?: number;
  readonly max_items?: number;
}

export interface SchemaBlock {
  readonly attributes?: Record<string, SchemaAttribute>;
  readonly block_types?: Record<string, SchemaBlockType>;
}

export interface SchemaBlockType {
  readonly nesting_mode: 'single' | 'group' | 'list' | 'set' | 'map';
  readonly block: SchemaBlock;
  readonly min_items?: number;
  readonly max_items?: number;
}

interface RawProviderSchema {
  provider: { block: SchemaBlock };
  resource_schemas?: Record<string, { block: SchemaBlock }>;
  data_source_schemas?: Record<string, { block: SchemaBlock }>;
}

export interface ProviderSchema {
  /** Provider type, e.g. "grafana". */
  readonly type: string;
  readonly version: string;
  readonly file: string;
  readonly provider: SchemaBlock;
  readonly resources: Record<string, SchemaBlock>;
  readonly dataSources: Record<string, SchemaBlock>;
}

// ------------------------------------------------------------------ versions

type Version = [number, number, number];

function parseVersion(v: string): Version | undefined {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(v.trim());
  return m ? [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)] : undefined;
}

function compare(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/** Terraform's version constraint syntax: comma-separated `=`, `!=`, `>`, `>=`, `<`, `<=`, `~>`. */
export function satisfies(version: string, constraint: string): boolean {
  const v = parseVersion(version);
  if (!v) return false;
  return constraint.split(',').every((part) => {
    const m = /^\s*(=|!=|>=|<=|>|<|~>)?\s*(\S+)\s*$/.exec(part);
    const want = m ? parseVersion(m[2]!) : undefined;
    if (!m || !want) throw new Error(`cannot read the version constraint "${constraint}"`);
    const c = compare(v, want);
    switch (m[1] ?? '=') {
      case '=':
        return c === 0;
      case '!=':
        return c !== 0;
      case '>':
        return c > 0;
      case '>=':
        return c >= 0;
      case '<':
        return c < 0;
      case '<=':
        return c <= 0;
      default: {
        // ~> 4.10 allows 4.x >= 4.10; ~> 0.1.31 allows 0.1.x >= 0.1.31.
        const given = m[2]!.split('.').length;
        const upper: Version = given >= 3 ? [want[0], want[1] + 1, 0] : [want[0] + 1, 0, 0];
        return c >= 0 && compare(v, upper) < 0;
      }
    }
  });
}

/** Every schema file in `dir`, by provider type, newest first. */
export function schemaFiles(dir = SCHEMA_DIR): Map<string, { version: string; file: string }[]> {
  const byType = new Map<string, { version: string; file: string }[]>();
  if (!existsSync(dir)) return byType;
  for (const f of readdirSync(dir)) {
    const m = /^([a-z0-9-]+?)-(\d+\.\d+\.\d+)\.json$/.exec(f);
    if (!m) continue;
    const list = byType.get(m[1]!) ?? [];
    list.push({ version: m[2]!, file: join(dir, f) });
    byType.set(m[1]!, list);
  }
  for (const list of byType.values()) list.sort((a, b) => compare(parseVersion(b.version)!, parseVersion(a.version)!));
  return byType;
}

/** `hashicorp/aws`, `registry.terraform.io/grafana/grafana` or `aws` -> `namespace/type`. */
export function normalizeSource(source: string): string {
  const parts = source.split('/');
  return parts.length === 1 ? `hashicorp/${parts[0]}` : parts.slice(-2).join('/');
}

const cache = new Map<string, ProviderSchema>();

export type SchemaChoice = { readonly schema: ProviderSchema } | { readonly missing: string };

/** The schema for a required provider: the newest file for its type within the stack's constraint. */
export function schemaFor(source: string, constraint: string | undefined, dir = SCHEMA_DIR): SchemaChoice {
  const full = normalizeSource(source);
  const type = full.split('/')[1]!;
  const files = schemaFiles(dir).get(type) ?? [];
  if (files.length === 0) return { missing: `no ${type}-<version>.json in ${dir}` };
  const pick = files.find((f) => constraint === undefined || satisfies(f.version, constraint));
  if (!pick) return { missing: `${type} schemas ${files.map((f) => f.version).join(', ')} in ${dir}, none within "${constraint}"` };
  const key = `${pick.file}#${full}`;
  let schema = cache.get(key);
  if (!schema) {
    const raw = JSON.parse(readFileSync(pick.file, 'utf8')) as {
      format_version?: string;
      provider_schemas?: Record<string, RawProviderSchema>;
    };
    const entry = Object.entries(raw.provider_schemas ?? {}).find(([addr]) => addr.endsWith(`/${full}`));
    if (!entry) throw new Error(`${pick.file} holds no schema for ${full} (it has ${Object.keys(raw.provider_schemas ?? {}).join(', ')})`);
    const r = entry[1];
    const strip = (m: Record<string, { block: SchemaBlock }> | undefined): Record<string, SchemaBlock> =>
      Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, v.block]));
    schema = {
      type,
      version: pick.version,
      file: pick.file,
      provider: r.provider.block,
      resources: strip(r.resource_schemas),
      dataSources: strip(r.data_source_schemas),
    };
    cache.set(key, schema);
  }
  return { schema };
}

// ------------------------------------------------------------------ values

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A string Terraform evaluates (it holds an interpolation or directive): its type is known only at plan. */
function isExpression(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  try {
    return scanTemplate(v).some((p) => p.kind !== 'literal');
  } catch {
    return false;
  }
}

function typeName(t: CtyType): string {
  if (typeof t === 'string') return t;
  const [kind, inner] = t;
  if (kind === 'object') return `object({${Object.keys(inner as object).join(', ')}})`;
  if (kind === 'tuple') return `tuple([${(inner as CtyType[]).map(typeName).join(', ')}])`;
  return `${kind}(${typeName(inner as CtyType)})`;
}

function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return v.some(isObject) ? 'a list of objects (block syntax)' : 'a list';
  if (isObject(v)) return 'an object (block syntax)';
  return `a ${typeof v}`;
}

function checkValue(v: unknown, t: CtyType, path: string, out: string[]): void {
  if (v === null || isExpression(v) || t === 'dynamic') return;
  const wrong = (): void => void out.push(`${path}: ${jsonKind(v)} given, the schema says ${typeName(t)}`);
  if (typeof t === 'string') {
    const ok =
      (t === 'string' && typeof v === 'string') || (t === 'number' && typeof v === 'number') || (t === 'bool' && typeof v === 'boolean');
    if (!ok) wrong();
    return;
  }
  const [kind, inner, optional] = t as [string, unknown, string[] | undefined];
  switch (kind) {
    case 'list':
    case 'set':
      if (!Array.isArray(v)) return wrong();
      v.forEach((x, i) => checkValue(x, inner as CtyType, `${path}.${i}`, out));
      return;
    case 'map':
      if (!isObject(v)) return wrong();
      for (const [k, x] of Object.entries(v)) checkValue(x, inner as CtyType, `${path}.${k}`, out);
      return;
    case 'object': {
      if (!isObject(v)) return wrong();
      const attrs = inner as Record<string, CtyType>;
      for (const [k, x] of Object.entries(v)) {
        if (k in attrs) checkValue(x, attrs[k]!, `${path}.${k}`, out);
        else out.push(`${path}.${k}: not an attribute of ${typeName(t)}`);
      }
      for (const k of Object.keys(attrs))
        if (!(k in v) && !(optional ?? []).includes(k)) out.push(`${path}.${k}: required by ${typeName(t)}, missing`);
      return;
    }
    case 'tuple': {
      const types = inner as CtyType[];
      if (!Array.isArray(v) || v.length !== types.length) return wrong();
      v.forEach((x, i) => checkValue(x, types[i]!, `${path}.${i}`, out));
      return;
    }
    default:
      out.push(`${path}: the schema type ${JSON.stringify(t)} is not one this check reads`);
  }
}

function checkCount(n: number, min: number | undefined, max: number | undefined, path: string, what: string, out: string[]): void {
  if (min !== undefined && min > 0 && n < min) out.push(`${path}: ${n} ${what} given, the schema needs at least ${min}`);
  if (max !== undefined && max > 0 && n > max) out.push(`${path}: ${n} ${what} given, the schema allows at most ${max}`);
}

function checkNested(v: unknown, nt: NestedType, path: string, out: string[]): void {
  if (v === null || isExpression(v)) return;
  const body = (x: unknown, p: string): void => {
    if (!isObject(x)) out.push(`${p}: ${jsonKind(x)} given, the schema says an object of ${nt.nesting_mode} nested attributes`);
    else checkBody(x, { attributes: nt.attributes }, p, new Set(), out);
  };
  switch (nt.nesting_mode) {
    case 'single':
      if (Array.isArray(v)) out.push(`${path}: a list given, the schema says a single nested attribute (an object, not a list)`);
      else body(v, path);
      return;
    case 'list':
    case 'set':
      if (!Array.isArray(v)) {
        out.push(`${path}: ${jsonKind(v)} given, the schema says a ${nt.nesting_mode} of nested objects`);
        return;
      }
      checkCount(v.length, nt.min_items, nt.max_items, path, 'items', out);
      v.forEach((x, i) => body(x, `${path}.${i}`));
      return;
    case 'map':
      if (!isObject(v)) out.push(`${path}: ${jsonKind(v)} given, the schema says a map of nested objects`);
      else for (const [k, x] of Object.entries(v)) body(x, `${path}.${k}`);
  }
}

function checkBlocks(v: unknown, bt: SchemaBlockType, path: string, out: string[]): void {
  // JSON syntax: one block is an object, several are a list of objects; map blocks are keyed by label.
  let blocks: [string, unknown][];
  if (bt.nesting_mode === 'map') {
    if (!isObject(v)) {
      out.push(`${path}: ${jsonKind(v)} given, the schema says blocks keyed by label`);
      return;
    }
    blocks = Object.entries(v).flatMap(([label, x]) =>
      Array.isArray(x) ? x.map((y, i): [string, unknown] => [`${label}.${i}`, y]) : [[label, x] as [string, unknown]],
    );
  } else if (Array.isArray(v)) blocks = v.map((x, i) => [String(i), x]);
  else if (isObject(v)) blocks = [['', v]];
  else {
    out.push(`${path}: ${jsonKind(v)} given, the schema says a ${bt.nesting_mode} block (an attribute value where a block belongs)`);
    return;
  }
  if (bt.nesting_mode === 'single' || bt.nesting_mode === 'group') checkCount(blocks.length, undefined, 1, path, 'blocks', out);
  else checkCount(blocks.length, bt.min_items, bt.max_items, path, 'blocks', out);
  for (const [suffix, x] of blocks) {
    const p = suffix ? `${path}.${suffix}` : path;
    if (!isObject(x)) out.push(`${p}: ${jsonKind(x)} given, the schema says a block (an attribute value where a block belongs)`);
    else checkBody(x, bt.block, p, new Set(), out);
  }
}

/** One block body: attributes and nested blocks against the schema block. */
export function checkBody(body: Record<string, unknown>, block: SchemaBlock, path: string, skip: ReadonlySet<string>, out: string[]): void {
  const attrs = block.attributes ?? {};
  const blockTypes = block.block_types ?? {};
  const at = (k: string): string => (path ? `${path}.${k}` : k);
  for (const [k, v] of Object.entries(body)) {
    if (skip.has(k)) continue;
    const a = attrs[k];
    const bt = blockTypes[k];
    if (a) {
      if (a.computed && !a.optional && !a.required) out.push(`${at(k)}: computed only, Terraform refuses a value for it`);
      else if (v === null && a.required) out.push(`${at(k)}: required, given null`);
      else if (a.type !== undefined) checkValue(v, a.type, at(k), out);
      else if (a.nested_type) checkNested(v, a.nested_type, at(k), out);
    } else if (bt) checkBlocks(v, bt, at(k), out);
    else if (k === 'dynamic' && isObject(v)) {
      for (const [name, d] of Object.entries(v)) {
        const dbt = blockTypes[name];
        if (!dbt) out.push(`${at(`dynamic.${name}`)}: no block type "${name}" in the schema`);
        else if (isObject(d) && isObject(d.content)) checkBody(d.content, dbt.block, at(`dynamic.${name}.content`), new Set(), out);
      }
    } else
      out.push(
        `${at(k)}: not in the schema (attributes: ${Object.keys(attrs).join(', ') || 'none'}; blocks: ${Object.keys(blockTypes).join(', ') || 'none'})`,
      );
  }
  const dynamic = isObject(body.dynamic) ? body.dynamic : {};
  for (const [k, a] of Object.entries(attrs)) if (a.required && !(k in body)) out.push(`${at(k)}: required, missing`);
  for (const [k, bt] of Object.entries(blockTypes))
    if ((bt.min_items ?? 0) > 0 && !(k in body) && !(k in dynamic))
      out.push(`${at(k)}: at least ${bt.min_items} block(s) required, none given`);
}

// ------------------------------------------------------------------ stacks

const RESOURCE_META = new Set(['//', 'count', 'for_each', 'provider', 'depends_on', 'lifecycle', 'provisioner', 'connection']);
const DATA_META = new Set(['//', 'count', 'for_each', 'provider', 'depends_on', 'lifecycle']);
const PROVIDER_META = new Set(['alias', 'version']);

export interface StackSchemaReport {
  /** Resources, data sources and provider blocks held against a schema, by provider type. */
  readonly checked: Record<string, { resources: number; dataSources: number; providerBlocks: number; schema: string }>;
  /** Providers with no schema here, with what was not checked and why. */
  readonly unchecked: Record<string, { resources: number; dataSources: number; providerBlocks: number; why: string }>;
  readonly problems: string[];
}

/** Which local provider name a resource or data source of `type` uses. */
function providerOf(type: string, body: Record<string, unknown>): string {
  return typeof body.provider === 'string' ? body.provider.split('.')[0]! : type.split('_')[0]!;
}

export function checkStack(tf: TfJson, dir = SCHEMA_DIR): StackSchemaReport {
  const required = tf.terraform?.required_providers ?? {};
  const choices = new Map<string, SchemaChoice>();
  const choose = (local: string): SchemaChoice => {
    let c = choices.get(local);
    if (!c) {
      const req = required[local];
      c = req ? schemaFor(req.source, req.version, dir) : { missing: `provider "${local}" is not in required_providers` };
      choices.set(local, c);
    }
    return c;
  };
  const checked: StackSchemaReport['checked'] = {};
  const unchecked: StackSchemaReport['unchecked'] = {};
  const problems: string[] = [];
  const check = (address: string, body: Record<string, unknown>, block: SchemaBlock, skip: ReadonlySet<string>): void => {
    const out: string[] = [];
    checkBody(body, block, '', skip, out);
    problems.push(...out.map((p) => `${address}: ${p}`));
  };
  const tally = (local: string, what: 'resources' | 'dataSources' | 'providerBlocks'): ProviderSchema | undefined => {
    const c = choose(local);
    if ('schema' in c) {
      const entry = (checked[local] ??= {
        resources: 0,
        dataSources: 0,
        providerBlocks: 0,
        schema: `${c.schema.type} ${c.schema.version}`,
      });
      entry[what]++;
      return c.schema;
    }
    const entry = (unchecked[local] ??= { resources: 0, dataSources: 0, providerBlocks: 0, why: c.missing });
    entry[what]++;
    return undefined;
  };

  for (const [local, configs] of Object.entries(tf.provider ?? {})) {
    for (const config of configs) {
      const schema = tally(local, 'providerBlocks');
      if (schema) check(`provider.${local}`, config, schema.provider, PROVIDER_META);
    }
  }
  for (const [kind, block, meta] of [
    ['resource', tf.resource, RESOURCE_META],
    ['data', tf.data, DATA_META],
  ] as const) {
    for (const [type, byName] of Object.entries(block ?? {})) {
      for (const [name, body] of Object.entries(byName)) {
        const local = providerOf(type, body);
        // terraform_remote_state and friends come with Terraform itself.
        if (local === 'terraform') continue;
        const schema = tally(local, kind === 'resource' ? 'resources' : 'dataSources');
        if (!schema) continue;
        const address = `${kind === 'data' ? 'data.' : ''}${type}.${name}`;
        const s = kind === 'resource' ? schema.resources[type] : schema.dataSources[type];
        if (!s)
          problems.push(
            `${address}: ${schema.type} ${schema.version} has no ${kind === 'resource' ? 'resource' : 'data source'} type "${type}"`,
          );
        else check(address, body, s, meta);
      }
    }
  }
  return { checked, unchecked, problems };
}
