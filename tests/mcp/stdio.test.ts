import { resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOOL_NAMES } from '../../runtime/src/mcp/index.js';
import { writeRuntimeConfig } from '../doubles/config.js';
import { ROOT } from '../helpers.js';
import { makeVault, textOf } from './helpers.js';

describe('runtime mcp --stdio (a desktop client)', () => {
  let client: Client;
  let stderr = '';
  const v = makeVault();
  beforeAll(async () => {
    const file = writeRuntimeConfig(v.root, { edit: (c) => (c.mcp.search.searxngUrl = undefined) });
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [resolve(ROOT, 'runtime/bin/runtime.js'), 'mcp', '--stdio'],
      // No MCP_AUTH_TOKEN: stdio is one local client, the process boundary is the trust boundary.
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        RUNTIME_CONFIG: file,
        VAULT_DIR: v.vault,
        LOG_LEVEL: 'debug',
        OTEL_SDK_DISABLED: 'true',
      },
      cwd: ROOT,
      stderr: 'pipe',
    });
    transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    client = new Client({ name: 'desktop', version: '1.0.0' });
    await client.connect(transport);
  }, 60_000);
  afterAll(async () => {
    await client.close();
  });

  it('lists the tools and calls them; logs stay off stdout', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES].sort());
    const note = await client.callTool({ name: 'vault_read', arguments: { path: 'notes/bread.md' } });
    expect((note.structuredContent as { body: string }).body).toContain('Flour, water, salt and yeast.');
    const code = await client.callTool({ name: 'run_code', arguments: { language: 'python', code: 'print(sum(range(10)))' } });
    expect(code.structuredContent).toMatchObject({ stdout: '45\n', exit_code: 0 });
    const search = await client.callTool({ name: 'search', arguments: { query: 'x' } });
    expect(textOf(search)).toMatch(/^SEARCH_UNAVAILABLE: web search is not configured/);
    const bad = await client.callTool({ name: 'vault_list', arguments: { path: '/etc' } });
    expect(bad.isError).toBe(true);
    expect(stderr).toContain('"msg":"mcp server on stdio"');
  });
});

describe('runtime mcp over HTTP', () => {
  it('refuses to serve HTTP without a bearer token', async () => {
    const { spawnSync } = await import('node:child_process');
    const v = makeVault();
    const file = writeRuntimeConfig(v.root);
    const r = spawnSync(process.execPath, [resolve(ROOT, 'runtime/bin/runtime.js'), 'mcp'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        RUNTIME_CONFIG: file,
        VAULT_DIR: v.vault,
        OTEL_SDK_DISABLED: 'true',
      },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      'runtime: CONFIG_INVALID: MCP_AUTH_TOKEN is not set: the MCP server does not serve HTTP without a bearer token',
    );
  });
});
