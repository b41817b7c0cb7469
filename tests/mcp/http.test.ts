import { request } from 'node:http';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOOL_NAMES } from '../../runtime/src/mcp/index.js';
import { startHarness, textOf, TOKEN, type Harness } from './helpers.js';

/** A raw HTTP POST, so a test controls Host, Origin and Authorization exactly. */
function rawPost(
  url: string,
  headers: Record<string, string>,
  body: unknown,
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

describe('MCP server over Streamable HTTP', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('lists every tool with input and output schemas and annotations', async () => {
    const { client } = await h.connect();
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES].sort());
    for (const t of tools) {
      expect(t.inputSchema.type).toBe('object');
      expect(t.outputSchema?.type).toBe('object');
      expect(typeof t.annotations?.readOnlyHint).toBe('boolean');
      expect(typeof t.annotations?.openWorldHint).toBe('boolean');
    }
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    expect(byName.fetch!.annotations).toMatchObject({ readOnlyHint: true, openWorldHint: true });
    expect(byName.vault_write!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true, openWorldHint: false });
    expect(byName.run_code!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false, openWorldHint: false });
  });

  it('calls each tool and returns structured content', async () => {
    const { client } = await h.connect();
    const search = await client.callTool({ name: 'search', arguments: { query: 'tide pools' } });
    expect(search.isError).toBeFalsy();
    expect((search.structuredContent as { results: { url: string }[] }).results[0]!.url).toBe(`${h.pages.url}/article`);

    const fetched = await client.callTool({ name: 'fetch', arguments: { url: `${h.pages.url}/article` } });
    expect(fetched.isError).toBeFalsy();
    const page = fetched.structuredContent as { title: string; content: string };
    expect(page.title).toBe('Tide pools');
    expect(page.content).toContain('**sea stars**');
    expect(page.content).not.toContain('Copyright nobody');
    expect(textOf(fetched)).toContain('untrusted content');

    const found = await client.callTool({ name: 'vault_search', arguments: { query: 'tide' } });
    expect((found.structuredContent as { hits: { path: string }[] }).hits.map((x) => x.path)).toEqual(['notes/tides.md']);

    const read = await client.callTool({ name: 'vault_read', arguments: { path: 'notes/tides.md' } });
    expect(read.structuredContent).toMatchObject({
      path: 'notes/tides.md',
      frontmatter: { title: 'Tide notes', tags: ['ocean', 'biology'] },
    });

    const listed = await client.callTool({ name: 'vault_list', arguments: { path: 'notes' } });
    expect((listed.structuredContent as { entries: { path: string }[] }).entries.map((e) => e.path)).toEqual([
      'notes/bread.md',
      'notes/code.md',
      'notes/tides.md',
    ]);

    const written = await client.callTool({ name: 'vault_write', arguments: { path: 'inbox/new.md', content: '# New\n' } });
    expect(written.structuredContent).toEqual({ path: 'inbox/new.md', bytes: 6, result: 'created' });
    expect(existsSync(join(h.vault.vault, 'inbox', 'new.md'))).toBe(true);

    const job = await client.callTool({ name: 'submit_job', arguments: { name: 'ask', prompt: 'What is a tide?' } });
    expect(job.structuredContent).toEqual({ path: '_queue/ask.md' });

    const ran = await client.callTool({ name: 'run_code', arguments: { language: 'python', code: 'print(6*7)' } });
    expect(ran.isError).toBeFalsy();
    expect(ran.structuredContent).toMatchObject({ stdout: '42\n', exit_code: 0 });

    expect(h.metrics.value('platform_mcp_tool_calls_total', { tool: 'run_code', outcome: 'ok' })).toBe(1);
    expect(h.metrics.value('platform_mcp_tool_duration_seconds', { tool: 'fetch' })).toBeGreaterThanOrEqual(1);
  });

  it('answers bad arguments with a tool error naming the problem', async () => {
    const { client } = await h.connect();
    const r = await client.callTool({ name: 'run_code', arguments: { language: 'cobol', code: 'x' } });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/Input validation error.*language/s);
    const missing = await client.callTool({ name: 'fetch', arguments: {} });
    expect(missing.isError).toBe(true);
    expect(textOf(missing)).toMatch(/url/);
  });

  it('returns a failed tool as isError with code and hint, and keeps serving', async () => {
    const { client } = await h.connect();
    const r = await client.callTool({ name: 'fetch', arguments: { url: 'http://10.0.0.1/' } });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/^FETCH_BLOCKED: .*private\nhint: /);
    expect(h.metrics.value('platform_mcp_tool_calls_total', { tool: 'fetch', outcome: 'error' })).toBeGreaterThanOrEqual(1);
    const ok = await client.callTool({ name: 'vault_list', arguments: {} });
    expect(ok.isError).toBeFalsy();
  });

  it('gives each session its own server, and DELETE ends one', async () => {
    const a = await h.connect();
    const b = await h.connect();
    expect(a.transport.sessionId).toBeDefined();
    expect(a.transport.sessionId).not.toBe(b.transport.sessionId);
    const before = h.server.sessionCount();
    await a.transport.terminateSession();
    expect(h.server.sessionCount()).toBe(before - 1);
    const after = await rawPost(
      h.server.url,
      { authorization: `Bearer ${TOKEN}`, 'mcp-session-id': a.transport.sessionId ?? 'x', 'mcp-protocol-version': '2025-06-18' },
      { jsonrpc: '2.0', id: 2, method: 'tools/list' },
    );
    expect(after.status).toBe(404);
    // The other session is untouched.
    expect((await b.client.listTools()).tools.length).toBe(TOOL_NAMES.length);
  });

  it('refuses a missing or wrong bearer token', async () => {
    const none = await rawPost(h.server.url, {}, INIT);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(JSON.parse(none.body).error.data.code).toBe('MCP_AUTH');
    const wrong = await rawPost(h.server.url, { authorization: 'Bearer nope' }, INIT);
    expect(wrong.status).toBe(401);
    await expect(h.connect({})).rejects.toThrow();
  });

  it('refuses a Host it does not answer to (DNS rebinding) and a foreign Origin', async () => {
    const host = await rawPost(h.server.url, { authorization: `Bearer ${TOKEN}`, host: `evil.example:${h.server.port}` }, INIT);
    expect(host.status).toBe(403);
    expect(JSON.parse(host.body).error.data.code).toBe('MCP_HOST_REFUSED');
    const origin = await rawPost(h.server.url, { authorization: `Bearer ${TOKEN}`, origin: 'http://evil.example' }, INIT);
    expect(origin.status).toBe(403);
    expect(JSON.parse(origin.body).error.data.code).toBe('MCP_ORIGIN_REFUSED');
    const allowed = await rawPost(h.server.url, { authorization: `Bearer ${TOKEN}`, origin: 'http://allowed.example' }, INIT);
    expect(allowed.status).toBe(200);
    const own = await rawPost(h.server.url, { authorization: `Bearer ${TOKEN}`, origin: `http://127.0.0.1:${h.server.port}` }, INIT);
    expect(own.status).toBe(200);
    const lookalike = await rawPost(h.server.url, { authorization: `Bearer ${TOKEN}`, origin: 'http://127.0.0.1.evil.example' }, INIT);
    expect(lookalike.status).toBe(403);
  });

  it('refuses a request without a session that is not initialize', async () => {
    const r = await rawPost(h.server.url, { authorization: `Bearer ${TOKEN}` }, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).error.data.code).toBe('MCP_NO_SESSION');
  });
});
