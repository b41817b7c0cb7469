import { createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { startWeb, sseFrames, type WebHarness } from './harness.js';

/*
 * The chat routes through inject(): sessions, search, export, and generations followed as SSE,
 * with the real Router streaming from the Ollama protocol double.
 */

let h: WebHarness;

beforeAll(async () => {
  h = await startWeb({ settings: { unwatchedStopMs: 60_000 } });
});
afterAll(async () => {
  await h.close();
});

const json = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = {}) =>
  h.app.inject({ method, url, ...(payload !== undefined ? { payload: payload as object } : {}), headers });

async function newSession(body: Record<string, unknown> = {}): Promise<{ id: string; title: string; model: string }> {
  const r = await json('POST', '/api/sessions', body);
  expect(r.statusCode).toBe(201);
  return r.json();
}

async function send(sessionId: string, content: string, extra: Record<string, unknown> = {}) {
  const r = await json('POST', `/api/sessions/${sessionId}/messages`, { content, ...extra });
  expect(r.statusCode, r.body).toBe(202);
  return r.json() as { generation: { id: string }; userMessage: { id: string } | null; assistantMessage: { id: string }; events: string };
}

/** The usage event's timings vary run to run; everything else in a frame is exact. */
const stable = (body: string): string =>
  body.replace(/"timeToFirstTokenMs":\d+/g, '"timeToFirstTokenMs":T').replace(/"durationMs":\d+/g, '"durationMs":D');

describe('health and models', () => {
  it('GET /healthz is a plain liveness answer', async () => {
    const r = await json('GET', '/healthz');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ status: 'ok' });
  });

  it('GET /api/health lists every dependency from the cached snapshot', async () => {
    const r = await json('GET', '/api/health');
    expect(r.statusCode).toBe(200);
    const b = r.json() as { status: string; dependencies: { name: string; state: string; reason: string | null }[] };
    const by = Object.fromEntries(b.dependencies.map((d) => [d.name, d]));
    expect(Object.keys(by).sort()).toEqual(
      [
        'mcp',
        'ollama:contabo',
        'ollama:davas',
        'provider:anthropic',
        'provider:gemini',
        'provider:groq',
        'retrieval',
        'sqlite',
        'vault',
      ].sort(),
    );
    expect(by['ollama:contabo']!.state).toBe('up');
    expect(by['ollama:davas']!.state).toBe('down');
    expect(by['ollama:davas']!.reason).toMatch(/ECONNREFUSED|unreachable|refused/i);
    expect(by['provider:groq']).toMatchObject({ state: 'unconfigured', reason: 'GROQ_API_KEY is not set' });
    expect(by['retrieval']!.reason).toMatch(/RAG_UNAVAILABLE/);
    expect(by['sqlite']!.state).toBe('up');
    expect(by['vault']!.state).toBe('up');
    expect(b.status).toBe('degraded');
  });

  it('health and models answer from cached state while a dependency hangs', async () => {
    // davas accepts connections and never answers: the probe is still pending when we ask.
    const sockets = new Set<Socket>();
    const hang = createServer((sock) => void sockets.add(sock));
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    const w = await startWeb({
      davasUrl: `http://127.0.0.1:${(hang.address() as { port: number }).port}`,
      settings: { healthTimeoutMs: 60_000 },
      awaitHealth: false,
    });
    try {
      let settled = false;
      void w.server.health.refresh().then(() => (settled = true));
      const health = await w.app.inject({ method: 'GET', url: '/api/health' });
      const models = await w.app.inject({ method: 'GET', url: '/api/models' });
      expect(settled).toBe(false);
      expect(health.statusCode).toBe(200);
      expect(
        (health.json() as { dependencies: { name: string; state: string }[] }).dependencies.find((d) => d.name === 'ollama:davas')!.state,
      ).toBe('unknown');
      expect(models.statusCode).toBe(200);
    } finally {
      await w.close();
      for (const s of sockets) s.destroy();
      await new Promise((r) => hang.close(r));
    }
  });

  it('GET /api/models greys davas with the reason, and says why retrieval is unavailable', async () => {
    const r = await json('GET', '/api/models');
    expect(r.statusCode).toBe(200);
    const b = r.json() as {
      default: string;
      models: { id: string; available: boolean; reason?: string }[];
      retrieval: { available: boolean; code: string };
    };
    expect(b.default).toBe('qwen2.5:14b');
    const davas = b.models.find((m) => m.id === 'gemma4:27b')!;
    expect(davas.available).toBe(false);
    expect(davas.reason).toMatch(/^davas is unreachable/);
    expect(b.models.find((m) => m.id === 'qwen2.5:14b')!.available).toBe(true);
    expect(b.models.find((m) => m.id === 'claude-sonnet-4-6')).toMatchObject({ available: false, reason: 'ANTHROPIC_API_KEY is not set' });
    expect(b.retrieval).toMatchObject({ available: false, code: 'RAG_UNAVAILABLE' });
  });
});

describe('sessions', () => {
  it('creates, reads, renames, lists with a cursor, and deletes', async () => {
    const a = await newSession({ title: 'first' });
    const b = await newSession({ title: 'second' });
    expect(a.model).toBe('qwen2.5:14b');
    const renamed = await json('PATCH', `/api/sessions/${a.id}`, { title: 'renamed first' });
    expect(renamed.statusCode).toBe(200);
    expect(renamed.json().title).toBe('renamed first');
    const page1 = (await json('GET', '/api/sessions?limit=1')).json() as { sessions: { id: string }[]; next: string | null };
    expect(page1.sessions).toHaveLength(1);
    expect(page1.next).not.toBeNull();
    const page2 = (await json('GET', `/api/sessions?limit=1&before=${page1.next}`)).json() as { sessions: { id: string }[] };
    expect(page2.sessions).toHaveLength(1);
    expect(page2.sessions[0]!.id).not.toBe(page1.sessions[0]!.id);
    expect((await json('DELETE', `/api/sessions/${b.id}`)).statusCode).toBe(204);
    expect((await json('GET', `/api/sessions/${b.id}`)).json()).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('refuses bad input with 4xx {code, message}', async () => {
    const cases: [string, 'GET' | 'POST' | 'PATCH' | 'DELETE', string, unknown, number][] = [
      ['unknown model', 'POST', '/api/sessions', { model: 'nope' }, 400],
      ['extra field', 'POST', '/api/sessions', { title: 'x', admin: true }, 400],
      ['title too long', 'POST', '/api/sessions', { title: 'x'.repeat(201) }, 400],
      ['use the vault', 'POST', '/api/sessions', { useVault: true }, 409],
      ['not a uuid', 'GET', '/api/sessions/../../etc', undefined, 404],
      ['bad id', 'GET', '/api/sessions/123', undefined, 400],
      ['unknown session', 'GET', '/api/sessions/00000000-0000-4000-8000-000000000000', undefined, 404],
      ['page too big', 'GET', '/api/sessions?limit=100000', undefined, 400],
      ['bad cursor', 'GET', '/api/sessions?before=garbage', undefined, 400],
      ['bad export format', 'GET', '/api/sessions/00000000-0000-4000-8000-000000000000/export?format=pdf', undefined, 400],
      ['search too long', 'GET', `/api/search?q=${'a'.repeat(300)}`, undefined, 400],
      ['unknown route', 'GET', '/api/nothing', undefined, 404],
    ];
    for (const [what, method, url, body, status] of cases) {
      const r = await json(method, url, body);
      expect(r.statusCode, what).toBe(status);
      const b = r.json() as { code: string; message: string };
      expect(typeof b.code, what).toBe('string');
      expect(b.message.length, what).toBeGreaterThan(0);
    }
  });

  it('answers malformed JSON and oversized bodies with 400 and 413', async () => {
    const bad = await h.app.inject({
      method: 'POST',
      url: '/api/sessions',
      payload: '{"title":',
      headers: { 'content-type': 'application/json' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('BAD_REQUEST');
    const big = await h.app.inject({
      method: 'POST',
      url: '/api/sessions',
      payload: JSON.stringify({ title: 'x'.repeat(2_000_000) }),
      headers: { 'content-type': 'application/json' },
    });
    expect(big.statusCode).toBe(413);
    expect(big.json().code).toBe('PAYLOAD_TOO_LARGE');
    const form = await h.app.inject({
      method: 'POST',
      url: '/api/sessions',
      payload: 'title=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.statusCode).toBe(415);
  });

  it('refuses cross-origin writes', async () => {
    const r = await json('POST', '/api/sessions', { title: 'x' }, { origin: 'https://evil.example', host: 'localhost' });
    expect(r.statusCode).toBe(403);
    const s = await json('POST', '/api/sessions', { title: 'x' }, { 'sec-fetch-site': 'cross-site' });
    expect(s.statusCode).toBe(403);
    const ok = await json('POST', '/api/sessions', { title: 'same origin' }, { origin: 'http://localhost:8080', host: 'localhost:8080' });
    expect(ok.statusCode).toBe(201);
  });
});

describe('generations', () => {
  it('streams token, usage and done frames exactly, with the SSE headers', async () => {
    h.ollama!.chat.enqueue({ chunks: ['Hello', ', ', 'world!'], promptEvalCount: 12, evalCount: 3 });
    const s = await newSession();
    const started = await send(s.id, 'Say hello');
    const r = await h.app.inject({ method: 'GET', url: started.events });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(r.headers['cache-control']).toBe('no-cache, no-transform');
    expect(r.headers['x-accel-buffering']).toBe('no');
    const m = started.assistantMessage.id;
    expect(stable(r.body)).toBe(
      'retry: 2000\n\n' +
        'id: 1\nevent: token\ndata: {"text":"Hello"}\n\n' +
        'id: 2\nevent: token\ndata: {"text":", "}\n\n' +
        'id: 3\nevent: token\ndata: {"text":"world!"}\n\n' +
        'id: 4\nevent: usage\ndata: {"inputTokens":12,"outputTokens":3,"durationMs":D,"timeToFirstTokenMs":T}\n\n' +
        `id: 5\nevent: done\ndata: {"status":"complete","messageId":"${m}","finishReason":"stop"}\n\n`,
    );
    const session = (await json('GET', `/api/sessions/${s.id}`)).json() as {
      session: { title: string };
      messages: { role: string; content: string; status: string; tokensOut: number }[];
    };
    expect(session.session.title).toBe('Say hello');
    expect(session.messages.map((x) => [x.role, x.content, x.status])).toEqual([
      ['user', 'Say hello', 'complete'],
      ['assistant', 'Hello, world!', 'complete'],
    ]);
    expect(session.messages[1]!.tokensOut).toBe(3);
    // The router wrote one usage row for the call, tagged with the session.
    expect(h.usage.recent(10, { sessionId: s.id })).toHaveLength(1);
  });

  it('with Accept: text/event-stream the POST itself carries the stream', async () => {
    h.ollama!.chat.enqueue({ chunks: ['one', ' trip'], promptEvalCount: 2, evalCount: 2 });
    const s = await newSession();
    const r = await h.app.inject({
      method: 'POST',
      url: `/api/sessions/${s.id}/messages`,
      payload: { content: 'fast' },
      headers: { accept: 'text/event-stream' },
    });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    const m = String(r.headers['x-message-id']);
    expect(h.server.generations.get(String(r.headers['x-generation-id']))!.messageId).toBe(m);
    expect(stable(r.body)).toBe(
      'retry: 2000\n\n' +
        'id: 1\nevent: token\ndata: {"text":"one"}\n\n' +
        'id: 2\nevent: token\ndata: {"text":" trip"}\n\n' +
        'id: 3\nevent: usage\ndata: {"inputTokens":2,"outputTokens":2,"durationMs":D,"timeToFirstTokenMs":T}\n\n' +
        `id: 4\nevent: done\ndata: {"status":"complete","messageId":"${m}","finishReason":"stop"}\n\n`,
    );
  });

  it('re-attaching with Last-Event-ID returns exactly the missing events', async () => {
    h.ollama!.chat.enqueue({ chunks: ['a', 'b', 'c', 'd'], promptEvalCount: 1, evalCount: 4 });
    const s = await newSession();
    const g = await send(s.id, 'letters');
    const all = await h.app.inject({ method: 'GET', url: g.events });
    const again = await h.app.inject({ method: 'GET', url: g.events, headers: { 'last-event-id': '2' } });
    const frames = sseFrames(all.body).filter((f) => 'id' in f);
    const missing = sseFrames(again.body).filter((f) => 'id' in f);
    expect(missing).toEqual(frames.slice(2));
    expect(missing.map((f) => ('id' in f ? f.id : ''))).toEqual(['3', '4', '5', '6']);
    // The query form, for clients that cannot set the header.
    const q = await h.app.inject({ method: 'GET', url: `${g.events}?lastEventId=5` });
    expect(sseFrames(q.body).filter((f) => 'id' in f)).toEqual(frames.slice(5));
    const bad = await h.app.inject({ method: 'GET', url: g.events, headers: { 'last-event-id': 'abc' } });
    expect(bad.statusCode).toBe(400);
  });

  it('a reload mid-answer re-attaches over HTTP and gets the rest, nothing twice', async () => {
    h.ollama!.chat.enqueue({ chunks: Array.from({ length: 12 }, (_, i) => `t${i} `), delayMs: 40, evalCount: 12 });
    const url = await h.app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const s = await newSession();
      const g = await send(s.id, 'count');
      const first = await fetch(`${url}${g.events}`);
      const reader = first.body!.getReader();
      let text = '';
      while ((text.match(/\nevent: token\n/g) ?? []).length < 3) text += new TextDecoder().decode((await reader.read()).value);
      await reader.cancel();
      const seen = sseFrames(text.slice(0, text.lastIndexOf('\n\n') + 2)).filter(
        (f): f is { id: string; event: string; data: string } => 'id' in f,
      );
      const last = seen[seen.length - 1]!.id;
      const rest = await fetch(`${url}${g.events}`, { headers: { 'last-event-id': last } });
      const tail = sseFrames(await rest.text()).filter((f): f is { id: string; event: string; data: string } => 'id' in f);
      const tokens = [...seen, ...tail].filter((f) => f.event === 'token').map((f) => (JSON.parse(f.data) as { text: string }).text);
      expect(tokens.join('')).toBe(Array.from({ length: 12 }, (_, i) => `t${i} `).join(''));
      expect(tail[0]!.id).toBe(String(Number(last) + 1));
      expect(tail[tail.length - 1]!.event).toBe('done');
    } finally {
      await h.app.server.close();
    }
  });

  it('sends a heartbeat comment while the stream is idle', async () => {
    const hb = await startWeb({ settings: { heartbeatMs: 20 }, chat: { chunks: ['slow', ' one'], delayMs: 150 } });
    try {
      const s = (await hb.app.inject({ method: 'POST', url: '/api/sessions', payload: {} })).json() as { id: string };
      const g = (await hb.app.inject({ method: 'POST', url: `/api/sessions/${s.id}/messages`, payload: { content: 'hi' } })).json() as {
        events: string;
      };
      const r = await hb.app.inject({ method: 'GET', url: g.events });
      expect(sseFrames(r.body).some((f) => 'comment' in f && f.comment === 'heartbeat')).toBe(true);
      expect(r.body).toContain(': heartbeat\n\n');
    } finally {
      await hb.close();
    }
  });

  it('stop closes the provider connection within 1 s and keeps the partial answer, marked stopped', async () => {
    h.ollama!.chat.enqueue({ chunks: Array.from({ length: 200 }, (_, i) => `w${i} `), delayMs: 30 });
    const s = await newSession();
    const g = await send(s.id, 'long answer please');
    await waitFor(() => (h.server.generations.get(g.generation.id)?.lastEventId ?? 0) >= 3, 'three tokens');
    // The double must observe the hang-up before the 1 s deadline, or this rejects.
    const closed = h.ollama!.nextClientAbort(1000);
    const stop = await json('POST', `/api/generations/${g.generation.id}/stop`);
    await closed;
    expect(stop.statusCode).toBe(200);
    expect(stop.json()).toMatchObject({ status: 'stopped', stopReason: 'user' });
    const events = await h.app.inject({ method: 'GET', url: g.events });
    const frames = sseFrames(events.body).filter((f): f is { id: string; event: string; data: string } => 'id' in f);
    expect(JSON.parse(frames[frames.length - 1]!.data)).toEqual({
      status: 'stopped',
      messageId: g.assistantMessage.id,
      stopReason: 'user',
    });
    const msgs = ((await json('GET', `/api/sessions/${s.id}`)).json() as { messages: { role: string; content: string; status: string }[] })
      .messages;
    const answer = msgs[1]!;
    expect(answer.status).toBe('stopped');
    expect(answer.content).toMatch(/^w0 w1 w2 /);
    expect(answer.content.length).toBeLessThan(Array.from({ length: 200 }, (_, i) => `w${i} `).join('').length);
    // Stopping again is harmless; an unknown generation is 404.
    expect((await json('POST', `/api/generations/${g.generation.id}/stop`)).statusCode).toBe(200);
    expect((await json('POST', '/api/generations/00000000-0000-4000-8000-000000000000/stop')).statusCode).toBe(404);
  });

  it('a generation nobody watches is stopped after the configured time', async () => {
    const u = await startWeb({ settings: { unwatchedStopMs: 150 }, chat: { chunks: Array.from({ length: 100 }, () => 'x'), delayMs: 30 } });
    try {
      const s = (await u.app.inject({ method: 'POST', url: '/api/sessions', payload: {} })).json() as { id: string };
      const g = (await u.app.inject({ method: 'POST', url: `/api/sessions/${s.id}/messages`, payload: { content: 'hi' } })).json() as {
        generation: { id: string };
      };
      const closed = u.ollama!.nextClientAbort(5000);
      await closed;
      await waitFor(() => u.server.generations.get(g.generation.id)?.status === 'stopped', 'the unwatched stop');
      expect(u.server.generations.get(g.generation.id)!.stopReason).toBe('unwatched');
      const msgs = ((await u.app.inject({ method: 'GET', url: `/api/sessions/${s.id}` })).json() as { messages: { status: string }[] })
        .messages;
      expect(msgs[1]!.status).toBe('stopped');
    } finally {
      await u.close();
    }
  });

  it('regenerate keeps the earlier answer as a sibling; edit-and-resend branches the question', async () => {
    h.ollama!.chat.enqueue({ chunks: ['first answer'] }, { chunks: ['second answer'] }, { chunks: ['edited answer'] });
    const s = await newSession();
    const g1 = await send(s.id, 'question one');
    await h.app.inject({ method: 'GET', url: g1.events });
    const r = await json('POST', `/api/sessions/${s.id}/regenerate`, { messageId: g1.assistantMessage.id });
    expect(r.statusCode).toBe(202);
    const g2 = r.json() as { events: string; assistantMessage: { id: string } };
    await h.app.inject({ method: 'GET', url: g2.events });
    let view = (await json('GET', `/api/sessions/${s.id}`)).json() as { messages: { id: string; content: string; siblings: string[] }[] };
    expect(view.messages.map((m) => m.content)).toEqual(['question one', 'second answer']);
    expect(view.messages[1]!.siblings).toEqual([g1.assistantMessage.id, g2.assistantMessage.id]);
    // Show the earlier sibling again.
    const back = await json('POST', `/api/sessions/${s.id}/head`, { messageId: g1.assistantMessage.id });
    expect(back.statusCode).toBe(200);
    expect((back.json() as { messages: { content: string }[] }).messages.map((m) => m.content)).toEqual(['question one', 'first answer']);
    // Edit the question: a new question beside the old one, answered anew.
    const g3 = await send(s.id, 'question one, edited', { editOf: g1.userMessage!.id });
    await h.app.inject({ method: 'GET', url: g3.events });
    view = (await json('GET', `/api/sessions/${s.id}`)).json() as { messages: { id: string; content: string; siblings: string[] }[] };
    expect(view.messages.map((m) => m.content)).toEqual(['question one, edited', 'edited answer']);
    expect(view.messages[0]!.siblings).toHaveLength(2);
    // The provider saw only the edited branch.
    const last = h.ollama!.requests.filter((q) => q.path === '/api/chat').at(-1)!.body as { messages: { content: string }[] };
    expect(last.messages.map((m) => m.content)).toEqual(['question one, edited']);
  });

  it('a follow-up question carries the conversation so far', async () => {
    h.ollama!.chat.enqueue({ chunks: ['four'] }, { chunks: ['eight'] });
    const s = await newSession({ system: 'Answer in one word.' });
    await h.app.inject({ method: 'GET', url: (await send(s.id, 'two plus two?')).events });
    await h.app.inject({ method: 'GET', url: (await send(s.id, 'and doubled?')).events });
    const req = h.ollama!.requests.filter((q) => q.path === '/api/chat').at(-1)!.body as { messages: { role: string; content: string }[] };
    expect(req.messages).toEqual([
      { role: 'system', content: 'Answer in one word.' },
      { role: 'user', content: 'two plus two?' },
      { role: 'assistant', content: 'four' },
      { role: 'user', content: 'and doubled?' },
    ]);
  });

  it('an unavailable model is 503 with the reason before anything streams, and nothing is stored', async () => {
    const s = await newSession({ model: 'gemma4:27b' });
    const before = h.ollama!.requests.length;
    const r = await json('POST', `/api/sessions/${s.id}/messages`, { content: 'hello davas' });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toMatchObject({ code: 'PROVIDER_UNAVAILABLE' });
    expect(r.json().message).toMatch(/^gemma4:27b is unavailable: davas is unreachable/);
    expect(h.ollama!.requests.length).toBe(before);
    expect(((await json('GET', `/api/sessions/${s.id}`)).json() as { messages: unknown[] }).messages).toEqual([]);
  });

  it('a provider error mid-stream ends with an error event and the message marked error', async () => {
    h.ollama!.chat.enqueue({ chunks: ['part', 'more'], errorAfter: { chunks: 1, message: 'model crashed' } });
    const s = await newSession();
    const g = await send(s.id, 'break');
    const r = await h.app.inject({ method: 'GET', url: g.events });
    const frames = sseFrames(r.body).filter((f): f is { id: string; event: string; data: string } => 'id' in f);
    expect(frames.map((f) => f.event)).toEqual(['token', 'error', 'done']);
    expect(JSON.parse(frames[1]!.data)).toMatchObject({ code: 'PROVIDER_ERROR' });
    expect(JSON.parse(frames[2]!.data)).toEqual({ status: 'error', messageId: g.assistantMessage.id });
  });

  it('refuses a second generation in a busy session, bad message bodies, and unknown generations', async () => {
    h.ollama!.chat.enqueue({ chunks: Array.from({ length: 50 }, () => 'z'), delayMs: 20 });
    const s = await newSession();
    const g = await send(s.id, 'busy');
    const again = await json('POST', `/api/sessions/${s.id}/messages`, { content: 'again' });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('CONFLICT');
    await json('POST', `/api/generations/${g.generation.id}/stop`);
    for (const [body, status] of [
      [{ content: '' }, 400],
      [{ content: '   ' }, 400],
      [{ content: 'x'.repeat(100_001) }, 400],
      [{}, 400],
      [{ content: 'hi', parentId: '00000000-0000-4000-8000-000000000000' }, 400],
      [{ content: 'hi', editOf: g.assistantMessage.id }, 400],
    ] as const) {
      const r = await json('POST', `/api/sessions/${s.id}/messages`, body);
      expect(r.statusCode, JSON.stringify(body).slice(0, 60)).toBe(status);
    }
    expect((await json('POST', `/api/sessions/${s.id}/regenerate`, { messageId: '00000000-0000-4000-8000-000000000000' })).statusCode).toBe(
      404,
    );
    expect((await json('GET', '/api/generations/00000000-0000-4000-8000-000000000000')).statusCode).toBe(404);
    expect((await json('GET', '/api/generations/00000000-0000-4000-8000-000000000000/events')).statusCode).toBe(404);
    expect((await json('GET', `/api/generations/${g.generation.id}`)).json()).toMatchObject({ status: 'stopped' });
  });
});

describe('search and export', () => {
  it('finds a word that is only inside an old answer, with the hit highlighted', async () => {
    h.ollama!.chat.enqueue({ chunks: ['The answer mentions ', 'xylophones', ' once.'] });
    const s = await newSession({ title: 'music' });
    await h.app.inject({ method: 'GET', url: (await send(s.id, 'tell me something')).events });
    const r = await json('GET', '/api/search?q=xylophone');
    expect(r.statusCode).toBe(200);
    const hits = (r.json() as { results: { kind: string; sessionId: string; role: string; snippet: { text: string; hit: boolean }[] }[] })
      .results;
    expect(hits).toHaveLength(1);
    expect(hits[0]).toMatchObject({ kind: 'message', sessionId: s.id, role: 'assistant' });
    expect(hits[0]!.snippet.filter((p) => p.hit).map((p) => p.text)).toEqual(['xylophones']);
    const t = (await json('GET', '/api/search?q=music')).json() as { results: { kind: string }[] };
    expect(t.results.map((x) => x.kind)).toContain('title');
    // FTS syntax in the query is just text.
    expect((await json('GET', `/api/search?q=${encodeURIComponent('"AND OR NEAR( *')}`)).statusCode).toBe(200);
    expect((await json('GET', '/api/search?q=')).json()).toEqual({ query: '', results: [] });
  });

  it('exports a session as markdown and as JSON', async () => {
    h.ollama!.chat.enqueue({ chunks: ['exported answer'] });
    const s = await newSession({ title: 'to export' });
    await h.app.inject({ method: 'GET', url: (await send(s.id, 'export me')).events });
    const md = await json('GET', `/api/sessions/${s.id}/export?format=md`);
    expect(md.statusCode).toBe(200);
    expect(md.headers['content-type']).toMatch(/^text\/markdown/);
    expect(md.body).toContain('# to export\n');
    expect(md.body).toContain('## You\n\nexport me\n\n## qwen2.5:14b\n\nexported answer\n');
    const js = await json('GET', `/api/sessions/${s.id}/export?format=json`);
    expect(js.json().messages.map((m: { content: string }) => m.content)).toEqual(['export me', 'exported answer']);
  });
});

describe('stats', () => {
  it('sums tokens, requests and errors by model and day from the usage store', async () => {
    const r = await json('GET', '/api/stats?days=7');
    expect(r.statusCode).toBe(200);
    const b = r.json() as {
      totals: { calls: number };
      byModel: { model: string; calls: number; inputTokens: number }[];
      byModelDay: { day: string; model: string; requests: number }[];
    };
    expect(b.totals.calls).toBeGreaterThan(0);
    expect(b.byModel.find((m) => m.model === 'qwen2.5:14b')!.inputTokens).toBeGreaterThanOrEqual(12);
    expect(b.byModelDay[0]!.day).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect((await json('GET', '/api/stats?days=0')).statusCode).toBe(400);
  });
});
