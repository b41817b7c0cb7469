import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { WebDeps } from '../app.js';
import { sseFrame, type GenerationRegistry } from '../generations.js';
import { IdParam, httpError, parse, requireWrite } from '../http.js';

/*
 * Following a generation as Server-Sent Events. The headers keep every proxy on the way
 * (Cloudflare, nginx) from buffering or transforming the stream; a comment line every
 * heartbeatMs keeps idle connections open. `Last-Event-ID` (header, or `lastEventId` in the
 * query for clients that cannot set headers) replays what the client missed.
 */

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
  connection: 'keep-alive',
} as const;

export const generationsPlugin: FastifyPluginAsync<WebDeps> = async (app, deps) => {
  const { generations, settings } = deps;

  app.get('/api/generations/:id', async (req) => {
    const { id } = parse(IdParam, req.params, 'params');
    const g = generations.get(id);
    if (!g)
      throw httpError(
        'NOT_FOUND',
        `no generation ${id} (finished ones are kept for ${settings.retentionMs} ms)`,
        'reload the session to see the stored answer',
      );
    return g;
  });

  app.post('/api/generations/:id/stop', async (req) => {
    requireWrite(req);
    const { id } = parse(IdParam, req.params, 'params');
    const g = await generations.stop(id, 'user');
    if (!g) throw httpError('NOT_FOUND', `no generation ${id}`);
    return g;
  });

  app.get('/api/generations/:id/events', async (req, reply) => {
    const { id } = parse(IdParam, req.params, 'params');
    const q = parse(z.strictObject({ lastEventId: z.coerce.number().int().min(0).optional() }), req.query, 'query');
    const raw = req.headers['last-event-id'];
    const headerId = raw === undefined ? undefined : Number(Array.isArray(raw) ? raw[0] : raw);
    if (headerId !== undefined && (!Number.isInteger(headerId) || headerId < 0))
      throw httpError('BAD_REQUEST', 'Last-Event-ID must be a whole number this stream gave out');
    const after = headerId ?? q.lastEventId ?? 0;
    if (!generations.get(id)) throw httpError('NOT_FOUND', `no generation ${id}`, 'reload the session to see the stored answer');

    streamGeneration(reply, generations, id, after, settings.heartbeatMs);
  });
};

/** Sends a generation's events after `after`, then its live tail, on a hijacked reply. */
export function streamGeneration(
  reply: FastifyReply,
  generations: GenerationRegistry,
  id: string,
  after: number,
  heartbeatMs: number,
  extraHeaders: Record<string, string> = {},
): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { ...SSE_HEADERS, ...extraHeaders });
  // Tells EventSource how long to wait before reconnecting.
  res.write('retry: 2000\n\n');
  let heartbeat: NodeJS.Timeout | undefined;
  let detach: (() => void) | undefined = undefined;
  const finish = (): void => {
    if (heartbeat) clearInterval(heartbeat);
    heartbeat = undefined;
    detach?.();
    if (!res.writableEnded) res.end();
  };
  res.on('close', finish);
  detach = generations.attach(id, after, {
    send: (ev) => {
      if (!res.writableEnded) res.write(sseFrame(ev));
    },
    end: () => {
      if (heartbeat) clearInterval(heartbeat);
      if (!res.writableEnded) res.end();
    },
  });
  if (!detach) res.end();
  if (!res.writableEnded) {
    heartbeat = setInterval(() => {
      if (!res.writableEnded) res.write(': heartbeat\n\n');
    }, heartbeatMs);
  }
}
