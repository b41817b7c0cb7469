import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { RuntimeError, describeError, isRuntimeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { IndexProgress, IndexStats } from './indexer.js';
import { RETRIEVERS, type Retriever, type RetrieveRequest } from './retriever.js';
import type { SearchFilter } from './types.js';

/*
 * `runtime rag` on :8002: POST /retrieve (context only, for agents and MCP), POST /answer (an
 * answer with [[note#heading]] citations), POST /index to re-index on demand and GET /index/events
 * for its progress (server-sent events), GET /healthz. Every bad request is a 4xx {code, message}.
 */

const IsoDate = z.string().refine((s) => Number.isFinite(Date.parse(s)), 'an ISO date');

export const RetrieveBodySchema = z.strictObject({
  query: z.string().trim().min(1).max(2000),
  topK: z.number().int().min(1).max(100).optional(),
  filter: z
    .strictObject({
      folders: z.array(z.string().max(300)).max(20).optional(),
      tags: z.array(z.string().min(1).max(100)).max(20).optional(),
      from: IsoDate.optional(),
      to: IsoDate.optional(),
    })
    .optional(),
  retrievers: z.array(z.enum(RETRIEVERS)).min(1).max(3).optional(),
  decompose: z.boolean().optional(),
  debug: z.boolean().optional(),
});

export type RetrieveBody = z.infer<typeof RetrieveBodySchema>;

export interface RagAppOptions {
  readonly retriever: Retriever;
  /** Starts an index run; absent when this process cannot index. */
  readonly runIndex?: (onProgress: (p: IndexProgress) => void) => Promise<IndexStats>;
  readonly log?: Logger;
}

function toRequest(b: RetrieveBody, signal: AbortSignal): RetrieveRequest {
  const filter: SearchFilter = {
    ...(b.filter?.folders ? { folders: b.filter.folders } : {}),
    ...(b.filter?.tags ? { tags: b.filter.tags } : {}),
    ...(b.filter?.from ? { dateFrom: Date.parse(b.filter.from) } : {}),
    ...(b.filter?.to ? { dateTo: Date.parse(b.filter.to) } : {}),
  };
  return {
    query: b.query,
    filter,
    signal,
    ...(b.topK !== undefined ? { topK: b.topK } : {}),
    ...(b.retrievers ? { retrievers: b.retrievers } : {}),
    ...(b.decompose !== undefined ? { decompose: b.decompose } : {}),
    ...(b.debug !== undefined ? { debug: b.debug } : {}),
  };
}

export function buildRagApp(opts: RagAppOptions): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  let running: Promise<IndexStats> | undefined;
  let last: IndexProgress | undefined;
  const listeners = new Set<(p: IndexProgress) => void>();

  app.setErrorHandler((err, _req, reply) => {
    if (isRuntimeError(err)) {
      void reply.status(err.httpStatus).send({ code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) });
      return;
    }
    const e = err as { statusCode?: number; code?: string; message?: string };
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      void reply.status(e.statusCode).send({ code: 'RAG_BAD_REQUEST', message: e.message ?? 'bad request' });
      return;
    }
    opts.log?.error('rag request failed', { error: describeError(err) });
    void reply.status(500).send({ code: 'INTERNAL', message: describeError(err) });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ code: 'RAG_BAD_REQUEST', message: `no route ${req.method} ${req.url}` });
  });

  const parse = (body: unknown): RetrieveBody => {
    const r = RetrieveBodySchema.safeParse(body ?? {});
    if (!r.success) {
      throw new RuntimeError('RAG_BAD_REQUEST', r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '), {
        hint: 'send JSON {"query": "...", "topK"?: n, "filter"?: {"folders"?, "tags"?, "from"?, "to"?}, "debug"?: true}',
      });
    }
    return r.data;
  };

  app.get('/healthz', async () => ({ ok: true, indexing: running !== undefined }));

  app.post('/retrieve', async (req) => {
    const ac = new AbortController();
    req.raw.once('close', () => ac.abort());
    return opts.retriever.retrieve(toRequest(parse(req.body), ac.signal));
  });

  app.post('/answer', async (req) => {
    const ac = new AbortController();
    req.raw.once('close', () => ac.abort());
    return opts.retriever.answer(toRequest(parse(req.body), ac.signal));
  });

  app.post('/index', async (_req, reply) => {
    if (!opts.runIndex) throw new RuntimeError('RAG_UNAVAILABLE', 'this process does not index', { hint: 'run `runtime index`' });
    if (running) return reply.status(409).send({ code: 'RAG_BAD_REQUEST', message: 'an index run is already in progress' });
    const emit = (p: IndexProgress): void => {
      last = p;
      for (const l of listeners) l(p);
    };
    running = opts.runIndex(emit).finally(() => (running = undefined));
    running.catch((e: unknown) => opts.log?.error('index run failed', { error: describeError(e) }));
    return reply.status(202).send({ started: true });
  });

  app.get('/index/events', (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
    let id = 0;
    const send = (p: IndexProgress): void => {
      res.write(`id: ${++id}\nevent: ${p.phase}\ndata: ${JSON.stringify(p)}\n\n`);
    };
    if (last) send(last);
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 25_000);
    listeners.add(send);
    req.raw.once('close', () => {
      clearInterval(heartbeat);
      listeners.delete(send);
    });
  });

  return app;
}
