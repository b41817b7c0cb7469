/*
 * Qdrant protocol double: a real HTTP server on 127.0.0.1 speaking Qdrant's REST API for the
 * subset the platform uses, checking EVERY request body against Qdrant's own OpenAPI 1.19 spec
 * (shared/specs/qdrant-openapi-1.19.0.json). A body the spec rejects gets Qdrant's 400 shape and
 * is recorded in `invalid`, so a test can assert there were none.
 *
 *   const q = await startQdrant();   // q.url, q.invalid, q.collections, await q.close()
 *
 * Implemented: collection exists/create/update(metadata)/get/delete, payload index create,
 * points upsert/delete(filter|ids)/retrieve/count, and points/query with a dense vector, a sparse
 * vector (dot product, with IDF when the sparse vector has `modifier: idf`) or prefetch + RRF.
 * Filters: must/should/must_not with match value/any and range.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import * as formats from 'ajv-formats';
import { sharedSpec } from '../helpers.js';
import { startHttp, type HttpDouble } from './http.js';

type Json = Record<string, unknown>;
interface Sparse {
  indices: number[];
  values: number[];
}
interface Point {
  id: string | number;
  vector: Record<string, number[] | Sparse>;
  payload: Json;
}
interface Collection {
  config: Json;
  metadata: Json;
  points: Map<string, Point>;
  indexes: Record<string, string>;
}

export interface QdrantDouble extends HttpDouble {
  readonly collections: Map<string, Collection>;
  /** Requests whose body the spec rejected: `METHOD path: errors`. */
  readonly invalid: string[];
}

const SPEC_ID = 'qdrant-openapi';

/** OpenAPI 3.0's `nullable: true` as JSON Schema: the same schema, or null. */
function openApiNullable(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(openApiNullable);
  if (!node || typeof node !== 'object') return node;
  const { nullable, ...rest } = node as Json;
  const out: Json = {};
  for (const [k, v] of Object.entries(rest)) out[k] = openApiNullable(v);
  return nullable === true ? { anyOf: [out, { type: 'null' }] } : out;
}

function buildValidator(): (schemaName: string, body: unknown) => string | undefined {
  const spec = JSON.parse(readFileSync(sharedSpec('qdrant-openapi-1.19.0.json'), 'utf8')) as Json;
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  (formats.default as unknown as (a: Ajv) => void)(ajv);
  for (const f of ['uint', 'uint8', 'uint32', 'uint64', 'int64', 'float', 'double'])
    ajv.addFormat(f, { type: 'number', validate: () => true });
  ajv.addFormat('binary', true);
  ajv.addSchema({ $id: SPEC_ID, components: openApiNullable(spec.components) }, SPEC_ID);
  const cache = new Map<string, ValidateFunction>();
  return (name, body) => {
    let v = cache.get(name);
    if (!v) {
      v = ajv.compile({ $ref: `${SPEC_ID}#/components/schemas/${name}` });
      cache.set(name, v);
    }
    if (v(body)) return undefined;
    return ajv.errorsText(v.errors, { separator: '; ' });
  };
}

function getPath(payload: Json, key: string): unknown {
  return key.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Json)[k] : undefined), payload);
}

function condition(p: Point, c: Json): boolean {
  if (c.must || c.should || c.must_not) return matches(p, c);
  const value = getPath(p.payload, c.key as string);
  const values = Array.isArray(value) ? value : [value];
  const match = c.match as Json | undefined;
  if (match) {
    if ('value' in match) return values.includes(match.value);
    if ('any' in match) return (match.any as unknown[]).some((x) => values.includes(x));
    throw new Error(`match ${JSON.stringify(match)} is not implemented by the double`);
  }
  const range = c.range as Json | undefined;
  if (range) {
    return values.some((v) => {
      if (typeof v !== 'number') return false;
      return (
        (range.gte === undefined || v >= (range.gte as number)) &&
        (range.gt === undefined || v > (range.gt as number)) &&
        (range.lte === undefined || v <= (range.lte as number)) &&
        (range.lt === undefined || v < (range.lt as number))
      );
    });
  }
  throw new Error(`condition ${JSON.stringify(c)} is not implemented by the double`);
}

function matches(p: Point, f: Json | undefined | null): boolean {
  if (!f) return true;
  const list = (x: unknown): Json[] => (x === undefined || x === null ? [] : Array.isArray(x) ? (x as Json[]) : [x as Json]);
  if (!list(f.must).every((c) => condition(p, c))) return false;
  const should = list(f.should);
  if (should.length && !should.some((c) => condition(p, c))) return false;
  if (list(f.must_not).some((c) => condition(p, c))) return false;
  return true;
}

function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / (Math.sqrt(na) * Math.sqrt(nb) || 1);
}

export async function startQdrant(): Promise<QdrantDouble> {
  const validate = buildValidator();
  const collections = new Map<string, Collection>();
  const invalid: string[] = [];

  const ok = (result: unknown): string => JSON.stringify({ result, status: 'ok', time: 0.0001 });
  const err = (status: number, msg: string): [number, string] => [status, JSON.stringify({ status: { error: msg }, time: 0 })];

  const idf = (c: Collection, using: string, index: number): number => {
    const n = c.points.size;
    let df = 0;
    for (const p of c.points.values()) if ((p.vector[using] as Sparse | undefined)?.indices.includes(index)) df++;
    // Qdrant's IDF: ln(1 + (N - n + 0.5) / (n + 0.5))
    return Math.log(1 + (n - df + 0.5) / (df + 0.5));
  };

  const score = (c: Collection, p: Point, query: unknown, using: string): number | undefined => {
    const v = p.vector[using];
    if (v === undefined) return undefined;
    if (Array.isArray(query)) return cosine(query as number[], v as number[]);
    const q = query as Sparse;
    const s = v as Sparse;
    const sparseCfg = ((c.config.sparse_vectors as Json | undefined)?.[using] ?? {}) as Json;
    let total = 0;
    let any = false;
    q.indices.forEach((ix, i) => {
      const at = s.indices.indexOf(ix);
      if (at < 0) return;
      any = true;
      total += q.values[i]! * s.values[at]! * (sparseCfg.modifier === 'idf' ? idf(c, using, ix) : 1);
    });
    return any ? total : undefined;
  };

  const runQuery = (c: Collection, q: Json): { id: string | number; score: number; point: Point }[] => {
    const limit = (q.limit as number | undefined) ?? 10;
    if (q.prefetch) {
      const lists = (Array.isArray(q.prefetch) ? q.prefetch : [q.prefetch]).map((pf) => runQuery(c, pf as Json));
      const fusion = (q.query as Json | undefined)?.fusion;
      if (fusion !== 'rrf') throw new Error(`query ${JSON.stringify(q.query)} over prefetch is not implemented by the double`);
      const acc = new Map<string, { score: number; point: Point }>();
      for (const l of lists) {
        l.forEach((h, rank) => {
          const e = acc.get(String(h.id)) ?? { score: 0, point: h.point };
          e.score += 1 / (rank + 1 + 60);
          acc.set(String(h.id), e);
        });
      }
      return [...acc.values()]
        .filter((e) => matches(e.point, q.filter as Json | undefined))
        .sort((a, b) => b.score - a.score)
        .slice(0, limit)
        .map((e) => ({ id: e.point.id, score: e.score, point: e.point }));
    }
    const using = (q.using as string | undefined) ?? '';
    const hits: { id: string | number; score: number; point: Point }[] = [];
    for (const p of c.points.values()) {
      if (!matches(p, q.filter as Json | undefined)) continue;
      const s = score(c, p, q.query, using);
      if (s !== undefined) hits.push({ id: p.id, score: s, point: p });
    }
    return hits.sort((a, b) => b.score - a.score || (String(a.id) < String(b.id) ? -1 : 1)).slice(0, limit);
  };

  const http = await startHttp(async (req, res, body) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/collections\/([^/]+)(\/.*)?$/.exec(url.pathname);
    const send = (status: number, text: string): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(text);
    if (!m) return send(...err(404, `no route ${req.method} ${url.pathname}`));
    const name = decodeURIComponent(m[1]!);
    const rest = m[2] ?? '';
    const route = `${req.method} ${rest || '/'}`;
    const schemaFor: Record<string, string> = {
      'PUT /': 'CreateCollection',
      'PATCH /': 'UpdateCollection',
      'PUT /index': 'CreateFieldIndex',
      'PUT /points': 'PointInsertOperations',
      'POST /points/delete': 'PointsSelector',
      'POST /points/query': 'QueryRequest',
      'POST /points': 'PointRequest',
      'POST /points/count': 'CountRequest',
    };
    const schema = schemaFor[route];
    if (schema) {
      const problem = validate(schema, body ?? {});
      if (problem) {
        invalid.push(`${route}: ${problem}`);
        return send(...err(400, `Format error in JSON body: ${problem}`));
      }
    }
    const c = collections.get(name);
    const b = (body ?? {}) as Json;
    if (route === 'GET /exists') return send(200, ok({ exists: c !== undefined }));
    if (route === 'PUT /') {
      if (c) return send(...err(409, `Wrong input: Collection \`${name}\` already exists!`));
      collections.set(name, { config: b, metadata: (b.metadata as Json | undefined) ?? {}, points: new Map(), indexes: {} });
      return send(200, ok(true));
    }
    if (!c) return send(...err(404, `Not found: Collection \`${name}\` doesn't exist!`));
    switch (route) {
      case 'PATCH /':
        if (b.metadata) c.metadata = { ...c.metadata, ...(b.metadata as Json) };
        return send(200, ok(true));
      case 'GET /':
        return send(
          200,
          ok({
            status: 'green',
            optimizer_status: 'ok',
            points_count: c.points.size,
            segments_count: 1,
            config: {
              params: {
                vectors: c.config.vectors,
                sparse_vectors: c.config.sparse_vectors,
                shard_number: 1,
                replication_factor: 1,
                write_consistency_factor: 1,
                on_disk_payload: true,
              },
              hnsw_config: { m: 16, ef_construct: 100, full_scan_threshold: 10000, max_indexing_threads: 0, on_disk: false },
              optimizer_config: {
                deleted_threshold: 0.2,
                vacuum_min_vector_number: 1000,
                default_segment_number: 0,
                flush_interval_sec: 5,
              },
              wal_config: { wal_capacity_mb: 32, wal_segments_ahead: 0 },
              metadata: c.metadata,
            },
            payload_schema: Object.fromEntries(Object.entries(c.indexes).map(([k, t]) => [k, { data_type: t, points: c.points.size }])),
          }),
        );
      case 'DELETE /':
        collections.delete(name);
        return send(200, ok(true));
      case 'PUT /index':
        c.indexes[b.field_name as string] = typeof b.field_schema === 'string' ? b.field_schema : ((b.field_schema as Json).type as string);
        return send(200, ok({ operation_id: 1, status: 'completed' }));
      case 'PUT /points': {
        const dense = (c.config.vectors ?? {}) as Record<string, { size: number }>;
        for (const p of (b.points ?? []) as Point[]) {
          for (const [vn, v] of Object.entries(p.vector)) {
            if (Array.isArray(v)) {
              if (!dense[vn]) return send(...err(400, `Wrong input: Not existing vector name error: ${vn}`));
              if (v.length !== dense[vn].size)
                return send(...err(400, `Wrong input: Vector dimension error: expected dim: ${dense[vn].size}, got ${v.length}`));
            } else if (!((c.config.sparse_vectors ?? {}) as Json)[vn])
              return send(...err(400, `Wrong input: Not existing vector name error: ${vn}`));
          }
          c.points.set(String(p.id), { id: p.id, vector: p.vector, payload: p.payload ?? {} });
        }
        return send(200, ok({ operation_id: 1, status: 'completed' }));
      }
      case 'POST /points/delete': {
        if (b.points) for (const id of b.points as (string | number)[]) c.points.delete(String(id));
        else for (const [id, p] of c.points) if (matches(p, b.filter as Json)) c.points.delete(id);
        return send(200, ok({ operation_id: 1, status: 'completed' }));
      }
      case 'POST /points': {
        const out = ((b.ids ?? []) as (string | number)[]).map((id) => c.points.get(String(id))).filter((p): p is Point => p !== undefined);
        return send(200, ok(out.map((p) => ({ id: p.id, payload: b.with_payload ? p.payload : null }))));
      }
      case 'POST /points/count':
        return send(200, ok({ count: [...c.points.values()].filter((p) => matches(p, b.filter as Json)).length }));
      case 'POST /points/query': {
        const hits = runQuery(c, b);
        return send(
          200,
          ok({ points: hits.map((h) => ({ id: h.id, version: 1, score: h.score, payload: b.with_payload ? h.point.payload : null })) }),
        );
      }
      default:
        return send(...err(404, `no route ${req.method} ${url.pathname}`));
    }
  });
  const double = http as QdrantDouble;
  Object.assign(double, { collections, invalid });
  return double;
}
