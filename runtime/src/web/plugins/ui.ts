import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';

/*
 * The built control panel (runtime/ui, bundled by Vite: no CDN, nothing fetched from elsewhere).
 * Any path outside /api that is not a file gets index.html, so deep links work after a reload.
 */
export const uiPlugin: FastifyPluginAsync<{ dir: string }> = async (app, opts) => {
  const index = await readFile(join(opts.dir, 'index.html'), 'utf8');
  await app.register(fastifyStatic, { root: opts.dir, index: false, wildcard: true, serveDotFiles: false, decorateReply: false });
  const sendIndex = async (_req: unknown, reply: FastifyReply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header(
        'content-security-policy',
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
      )
      .header('x-content-type-options', 'nosniff')
      .send(index);
  app.get('/', sendIndex);
  app.get('/ui/*', sendIndex);
};
