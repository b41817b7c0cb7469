import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { RuntimeError } from '../../errors.js';
import type { ChatMessage } from '../../providers/types.js';
import type { WebDeps } from '../app.js';
import { sessionMarkdown, type Message, type Session } from '../chat-store.js';
import { IdParam, httpError, parse, requireWrite } from '../http.js';
import { streamGeneration } from './generations.js';

/*
 * Sessions and their messages: CRUD, export, full-text search, and the three ways a generation
 * starts (send, edit-and-resend, regenerate). A model that is unavailable is refused with 503
 * and the reason before anything is stored or streamed; there is no fallback to another model.
 */

function cursorOf(s: Session): string {
  return Buffer.from(JSON.stringify([s.updatedAt, s.id])).toString('base64url');
}

function parseCursor(c: string): { updatedAt: string; id: string } {
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && typeof v[0] === 'string' && typeof v[1] === 'string') return { updatedAt: v[0], id: v[1] };
  } catch {
    // falls through to the error
  }
  throw httpError('BAD_REQUEST', 'query.before: not a cursor this server gave out', 'pass the `next` value of the previous page');
}

export const chatPlugin: FastifyPluginAsync<WebDeps> = async (app, deps) => {
  const { chats, generations, settings } = deps;
  const L = settings.limits;
  const Title = z.string().trim().min(1).max(L.titleChars);
  const Skills = z.array(z.string().min(1).max(100)).max(32);
  const SessionBody = z.strictObject({
    title: Title.optional(),
    model: z.string().min(1).max(200).optional(),
    system: z.string().max(L.systemChars).optional(),
    skills: Skills.optional(),
    useVault: z.boolean().optional(),
  });
  const Content = z
    .string()
    .max(L.messageChars, `at most ${L.messageChars} characters`)
    .refine((s) => s.trim().length > 0, 'must not be empty');

  const knownModel = (id: string): void => {
    if (!deps.router.models().some((m) => m.id === id)) {
      throw httpError(
        'BAD_REQUEST',
        `model "${id}" is not in the routing table`,
        `use one of: ${deps.router
          .models()
          .map((m) => m.id)
          .join(', ')}`,
      );
    }
  };
  const checkSkills = (names: readonly string[] | undefined): void => {
    if (!names?.length) return;
    if (!deps.skills) throw httpError('BAD_REQUEST', 'no skills are loaded on this server', 'leave skills empty');
    deps.skills.resolve(names);
  };
  const checkVault = (useVault: boolean | undefined): void => {
    if (useVault)
      throw new RuntimeError('RAG_UNAVAILABLE', 'retrieval over the vault is not built in this version', {
        hint: 'turn "use the vault" off',
        httpStatus: 409,
      });
  };

  app.post('/api/sessions', async (req, reply) => {
    requireWrite(req);
    const b = parse(SessionBody, req.body, 'body');
    const model = b.model ?? deps.router.defaultModel;
    knownModel(model);
    checkSkills(b.skills);
    checkVault(b.useVault);
    const s = chats.createSession({
      title: b.title ?? 'New chat',
      model,
      ...(b.system ? { system: b.system } : {}),
      ...(b.skills ? { skills: b.skills } : {}),
    });
    return reply.code(201).send(s);
  });

  app.get('/api/sessions', async (req) => {
    const q = parse(
      z.strictObject({
        limit: z.coerce.number().int().min(1).max(L.pageMax).default(L.pageDefault),
        before: z.string().max(500).optional(),
      }),
      req.query,
      'query',
    );
    const page = chats.listSessions(q.limit + 1, q.before ? parseCursor(q.before) : undefined);
    const more = page.length > q.limit;
    const sessions = page.slice(0, q.limit);
    return { sessions, next: more ? cursorOf(sessions[sessions.length - 1]!) : null };
  });

  app.get('/api/sessions/:id', async (req) => {
    const { id } = parse(IdParam, req.params, 'params');
    const session = chats.mustSession(id);
    return { session, messages: chats.path(id), generation: generations.forSession(id) ?? null };
  });

  app.patch('/api/sessions/:id', async (req) => {
    requireWrite(req);
    const { id } = parse(IdParam, req.params, 'params');
    const b = parse(SessionBody, req.body, 'body');
    if (b.model) knownModel(b.model);
    checkSkills(b.skills);
    checkVault(b.useVault);
    return chats.updateSession(id, b);
  });

  app.delete('/api/sessions/:id', async (req, reply) => {
    requireWrite(req);
    const { id } = parse(IdParam, req.params, 'params');
    chats.mustSession(id);
    const g = generations.forSession(id);
    if (g?.status === 'running') await generations.stop(g.id, 'user');
    chats.deleteSession(id);
    return reply.code(204).send();
  });

  app.get('/api/sessions/:id/export', async (req, reply) => {
    const { id } = parse(IdParam, req.params, 'params');
    const { format } = parse(z.strictObject({ format: z.enum(['md', 'json']).default('md') }), req.query, 'query');
    const s = chats.mustSession(id);
    const path = chats.path(id);
    const base =
      s.title
        .replace(/[^\p{L}\p{N} _-]+/gu, '')
        .trim()
        .slice(0, 60) || 'chat';
    if (format === 'json') {
      return reply
        .header('content-disposition', `attachment; filename="${encodeURIComponent(base)}.json"`)
        .type('application/json')
        .send({ session: s, messages: chats.messages(id), shown: path.map((m) => m.id) });
    }
    return reply
      .header('content-disposition', `attachment; filename="${encodeURIComponent(base)}.md"`)
      .type('text/markdown; charset=utf-8')
      .send(sessionMarkdown(s, path));
  });

  app.post('/api/sessions/:id/head', async (req) => {
    requireWrite(req);
    const { id } = parse(IdParam, req.params, 'params');
    const b = parse(z.strictObject({ messageId: z.uuid() }), req.body, 'body');
    if (generations.busy(id)) throw httpError('CONFLICT', 'a generation is running in this session', 'stop it first');
    chats.setHead(id, b.messageId);
    return { session: chats.mustSession(id), messages: chats.path(id) };
  });

  app.get('/api/search', async (req) => {
    const q = parse(
      z.strictObject({ q: z.string().max(L.searchChars), limit: z.coerce.number().int().min(1).max(L.pageMax).default(20) }),
      req.query,
      'query',
    );
    return { query: q.q, results: chats.search(q.q, q.limit) };
  });

  /** Refuses early: unknown or unavailable model, a busy session, too many generations. */
  const preflight = (s: Session): void => {
    const m = deps.router.models().find((x) => x.id === s.model);
    if (!m)
      throw httpError(
        'BAD_REQUEST',
        `the session's model "${s.model}" is no longer in the routing table`,
        'pick another model for this session',
      );
    if (!m.available) {
      throw new RuntimeError('PROVIDER_UNAVAILABLE', `${m.id} is unavailable: ${m.reason ?? 'unknown reason'}`, {
        hint: 'pick another model yourself; there is no automatic fallback',
        httpStatus: 503,
      });
    }
    if (generations.busy(s.id))
      throw httpError('CONFLICT', 'a generation is already running in this session', 'stop it or wait for it to finish');
    if (generations.running >= L.maxGenerations)
      throw new RuntimeError('RATE_LIMITED', `${L.maxGenerations} generations are already running`, {
        hint: 'wait for one to finish',
        retryAfterMs: 5000,
      });
  };

  const historyTo = (s: Session, leafId: string): ChatMessage[] => {
    const all = new Map(chats.messages(s.id).map((m) => [m.id, m]));
    const out: Message[] = [];
    for (let m = all.get(leafId); m; m = m.parentId ? all.get(m.parentId) : undefined) out.push(m);
    return out
      .reverse()
      .filter((m) => m.role === 'user' || (m.content.length > 0 && m.status !== 'error'))
      .map((m) => ({ role: m.role, content: m.content }));
  };

  const begin = (req: FastifyRequest, reply: FastifyReply, s: Session, user: Message, created: boolean) => {
    const system = [s.system.trim(), s.skills.length && deps.skills ? deps.skills.resolve(s.skills) : ''].filter(Boolean).join('\n\n');
    const assistant = chats.addMessage({
      sessionId: s.id,
      parentId: user.id,
      role: 'assistant',
      content: '',
      model: s.model,
      status: 'streaming',
    });
    const generation = generations.start({
      sessionId: s.id,
      messageId: assistant.id,
      model: s.model,
      messages: historyTo(s, user.id),
      ...(system ? { system } : {}),
    });
    // `Accept: text/event-stream` follows the new generation on this response: one round trip
    // to the first token. Otherwise the answer says where the events are.
    if (/\btext\/event-stream\b/.test(req.headers.accept ?? '')) {
      streamGeneration(reply, generations, generation.id, 0, settings.heartbeatMs, {
        'x-generation-id': generation.id,
        'x-message-id': assistant.id,
      });
      return reply;
    }
    return reply.code(202).send({
      generation,
      userMessage: created ? user : null,
      assistantMessage: assistant,
      events: `/api/generations/${generation.id}/events`,
    });
  };

  app.post('/api/sessions/:id/messages', async (req, reply) => {
    requireWrite(req);
    const { id } = parse(IdParam, req.params, 'params');
    const b = parse(
      z.strictObject({ content: Content, parentId: z.uuid().nullable().optional(), editOf: z.uuid().optional() }),
      req.body,
      'body',
    );
    const s = chats.mustSession(id);
    preflight(s);
    let parentId: string | null;
    if (b.editOf) {
      const old = chats.getMessage(b.editOf);
      if (!old || old.sessionId !== id || old.role !== 'user')
        throw httpError('BAD_REQUEST', `body.editOf: ${b.editOf} is not a question in this session`);
      parentId = old.parentId;
    } else if (b.parentId !== undefined) {
      if (b.parentId !== null) {
        const p = chats.getMessage(b.parentId);
        if (!p || p.sessionId !== id) throw httpError('BAD_REQUEST', `body.parentId: ${b.parentId} is not a message in this session`);
      }
      parentId = b.parentId;
    } else parentId = s.headId;
    if (parentId && chats.getMessage(parentId)?.role === 'user')
      throw httpError('BAD_REQUEST', 'a question must follow an answer, not another question', 'regenerate the answer instead');
    if (s.title === 'New chat' && parentId === null) chats.updateSession(id, { title: b.content.trim().replace(/\s+/g, ' ').slice(0, 60) });
    const user = chats.addMessage({ sessionId: id, parentId, role: 'user', content: b.content });
    return begin(req, reply, chats.mustSession(id), user, true);
  });

  app.post('/api/sessions/:id/regenerate', async (req, reply) => {
    requireWrite(req);
    const { id } = parse(IdParam, req.params, 'params');
    const b = parse(z.strictObject({ messageId: z.uuid() }), req.body, 'body');
    const s = chats.mustSession(id);
    const target = chats.getMessage(b.messageId);
    if (!target || target.sessionId !== id) throw httpError('NOT_FOUND', `no message ${b.messageId} in session ${id}`);
    const user = target.role === 'user' ? target : target.parentId ? chats.getMessage(target.parentId) : undefined;
    if (!user || user.role !== 'user') throw httpError('BAD_REQUEST', 'that answer has no question to answer again');
    preflight(s);
    return begin(req, reply, s, user, false);
  });
};
