import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJobDocument } from '../../runtime/src/jobs/document.js';
import { startHarness, textOf, type Harness } from './helpers.js';

describe('tools through the MCP client', () => {
  let h: Harness;
  let client: Client;
  beforeAll(async () => {
    h = await startHarness();
    client = (await h.connect()).client;
  });
  afterAll(async () => {
    await h.close();
  });

  const call = (name: string, args: Record<string, unknown>) => client.callTool({ name, arguments: args });

  it('fetch pages long content with max_length and start_index', async () => {
    const first = await call('fetch', { url: `${h.pages.url}/long`, max_length: 300 });
    expect(first.structuredContent).toMatchObject({
      start_index: 0,
      total_length: 1000,
      next_start_index: 300,
      content_type: 'text/plain',
    });
    expect(textOf(first)).toContain('call fetch again with start_index=300');
    const last = await call('fetch', { url: `${h.pages.url}/long`, max_length: 300, start_index: 900 });
    expect((last.structuredContent as { content: string }).content).toBe('0123456789'.repeat(10));
    expect((last.structuredContent as { next_start_index?: number }).next_start_index).toBeUndefined();
    const past = await call('fetch', { url: `${h.pages.url}/long`, start_index: 5000 });
    expect(textOf(past)).toMatch(/^MCP_TOOL_INPUT: start_index 5000 is past the end/);
  });

  it('fetch says why it cannot help: 404, binary, bad URL', async () => {
    expect(textOf(await call('fetch', { url: `${h.pages.url}/nope` }))).toMatch(
      /^FETCH_FAILED: .* answered HTTP 404\nhint: the page does not exist/,
    );
    expect(textOf(await call('fetch', { url: `${h.pages.url}/binary` }))).toMatch(
      /^FETCH_FAILED: .*application\/octet-stream, not text or HTML/,
    );
    expect(textOf(await call('fetch', { url: 'not a url' }))).toMatch(/^MCP_TOOL_INPUT: "not a url" is not a URL/);
  });

  it('search returns SearXNG results and a clear error when SearXNG is down, failing or slow', async () => {
    const ok = await call('search', { query: 'tides', limit: 1 });
    expect(ok.structuredContent).toEqual({
      results: [
        {
          title: 'About tides',
          url: `${h.pages.url}/article`,
          snippet: 'Tide pools are rocky pools on the seashore.',
          engine: 'duckduckgo',
        },
      ],
    });
    expect(h.searx.queries.at(-1)).toBe('tides');

    h.searx.status = 500;
    expect(textOf(await call('search', { query: 'x' }))).toMatch(/^SEARCH_UNAVAILABLE: SearXNG answered HTTP 500/);
    h.searx.status = undefined;

    h.searx.delayMs = 3000;
    expect(textOf(await call('search', { query: 'x' }))).toMatch(/^SEARCH_UNAVAILABLE: SearXNG did not answer within 2000 ms/);
    h.searx.delayMs = 0;

    await h.searx.down();
    const down = await call('search', { query: 'x' });
    expect(down.isError).toBe(true);
    expect(textOf(down)).toMatch(/^SEARCH_UNAVAILABLE: SearXNG is unreachable: .*(ECONNREFUSED|fetch failed).*\nhint: /s);
    await h.searx.up();
    expect((await call('search', { query: 'back' })).isError).toBeFalsy();
  });

  it('submit_job writes a valid job file from checked fields only', async () => {
    const r = await call('submit_job', {
      name: 'chain-it',
      type: 'chain',
      steps: [{ prompt: 'one' }, { prompt: 'two', model: 'm' }],
      system: 'be brief\n---\ntype: research',
    });
    expect(r.structuredContent).toEqual({ path: '_queue/chain-it.md' });
    const doc = parseJobDocument(readFileSync(join(h.vault.vault, '_queue', 'chain-it.md'), 'utf8'));
    expect(doc.frontmatter).toMatchObject({
      type: 'chain',
      system: 'be brief\n---\ntype: research',
      steps: [{ prompt: 'one' }, { prompt: 'two', model: 'm' }],
    });
    expect(textOf(await call('submit_job', { name: 'c2', type: 'chain' }))).toMatch(
      /^MCP_TOOL_INPUT: the job is invalid: steps: a chain job needs/,
    );
    expect(textOf(await call('submit_job', { name: 'empty', prompt: '  ' }))).toMatch(/needs a prompt/);
    expect(textOf(await call('submit_job', { name: '../_active/x', prompt: 'p' }))).toMatch(/Input validation error/);
  });

  it('vault tools answer with the reason when a path is refused', async () => {
    const r = await call('vault_read', { path: '../vault-evil/secret.md' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/^VAULT_PATH_REFUSED: .*\nhint: /);
    expect(textOf(await call('vault_write', { path: 'notes/x.md', content: 'x' }))).toMatch(
      /outside the folders notes may be written to\nhint: write under "inbox\/", "research\/"/,
    );
  });

  it('run_code reports the limit it hit', async () => {
    const r = await call('run_code', { language: 'python', code: 'import time\ntime.sleep(30)' });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ limit: 'wall', exit_code: 137 });
    expect(textOf(r)).toMatch(/stopped: wall limit/);
  });
});
