import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { WebDeps } from '../app.js';
import { httpError, parse, requireWrite } from '../http.js';

/*
 * API tokens from the control panel: list (with last use), create (the plain token is in this
 * one answer only), revoke. Only a person signed in through Access (or auth off) manages
 * tokens: a leaked token cannot mint itself successors.
 */
export const tokensPlugin: FastifyPluginAsync<WebDeps> = async (app, deps) => {
  const person = (kind: string | undefined): void => {
    if (kind === 'token')
      throw httpError('FORBIDDEN', 'API tokens cannot manage API tokens', 'manage tokens from the control panel or `runtime token`');
  };

  app.get('/api/tokens', async (req) => {
    person(req.identity?.kind);
    return { tokens: deps.tokens.list() };
  });

  app.post('/api/tokens', async (req, reply) => {
    requireWrite(req);
    person(req.identity?.kind);
    const b = parse(
      z.strictObject({ name: z.string().trim().min(1).max(100), scope: z.enum(['read', 'write']).default('read') }),
      req.body,
      'body',
    );
    const { token, info } = deps.tokens.create(b.name, b.scope);
    deps.log.info('API token created', { token: info.id, name: info.name, scope: info.scope, by: req.identity?.id });
    return reply.code(201).send({ token, info });
  });

  app.delete('/api/tokens/:tokenId', async (req) => {
    requireWrite(req);
    person(req.identity?.kind);
    const { tokenId } = parse(z.strictObject({ tokenId: z.string().regex(/^[0-9a-f]{32}$/) }), req.params, 'params');
    const info = deps.tokens.revoke(tokenId);
    deps.log.info('API token revoked', { token: info.id, name: info.name, by: req.identity?.id });
    return info;
  });
};
