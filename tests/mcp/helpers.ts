import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { loadConfig, type RuntimeConfig } from '../../runtime/src/config/index.js';
import { silentLogger } from '../../runtime/src/log.js';
import { buildToolContext, startMcpHttpServer, type McpHttpServer, type Resolver, type ToolContext } from '../../runtime/src/mcp/index.js';
import { createMetrics, type Metrics } from '../../runtime/src/telemetry/index.js';
import type { RuntimeConfigFile } from '@platform/contract';
import { writeRuntimeConfig } from '../doubles/config.js';
import { startHttp, type HttpDouble } from '../doubles/http.js';
import { startSearxng, type SearxngDouble } from '../doubles/searxng.js';
import { tempDir } from '../helpers.js';

export const TOKEN = 'test-token-0123456789';

export const ARTICLE_HTML = `<!doctype html><html><head><title>Tide pools</title><script>window.evil = 1</script></head>
<body><nav><a href="/">Home</a> <a href="/about">About</a></nav>
<article><h1>Tide pools</h1>
<p>${'Tide pools are rocky pools on the seashore which are filled with seawater. '.repeat(8)}</p>
<p>Anemones and <b>sea stars</b> live there. Read <a href="https://example.org/more">more</a>.</p></article>
<footer>Copyright nobody, all rights reserved</footer></body></html>`;

/** A web server on 127.0.0.1 that fetch reaches only because the test's model allow-lists it. */
export async function startPages(): Promise<HttpDouble> {
  return startHttp((req, res) => {
    const path = req.url ?? '/';
    if (path === '/article') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(ARTICLE_HTML);
    else if (path === '/plain') res.writeHead(200, { 'content-type': 'text/plain' }).end('just text\n');
    else if (path === '/long') res.writeHead(200, { 'content-type': 'text/plain' }).end('0123456789'.repeat(100));
    else if (path === '/big') res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(200_000));
    else if (path === '/binary') res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.from([0, 1, 2, 3]));
    else if (path === '/to-article') res.writeHead(302, { location: '/article' }).end();
    else if (path === '/to-private') res.writeHead(302, { location: 'http://10.0.0.1/admin' }).end();
    else if (path === '/to-metadata') res.writeHead(301, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    else if (path === '/to-file') res.writeHead(302, { location: 'file:///etc/passwd' }).end();
    else if (path === '/loop') res.writeHead(302, { location: '/loop' }).end();
    else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
}

/** A small vault: notes, a skills folder, the queue folders, and something outside it. */
export function makeVault(): { root: string; vault: string; outside: string } {
  const root = tempDir('mcp-vault-');
  const vault = join(root, 'vault');
  const outside = join(root, 'vault-evil');
  for (const d of ['notes', 'inbox', 'research', '_queue', '_active', '_completed', '_failed', 'runner-outputs', 'skills', '.obsidian'])
    mkdirSync(join(vault, d), { recursive: true });
  mkdirSync(outside, { recursive: true });
  writeFileSync(
    join(vault, 'notes', 'tides.md'),
    '---\ntitle: Tide notes\ntags: [ocean, biology]\n---\n# Tides\n\nThe moon pulls the sea; tide pools form at low tide.\n',
  );
  writeFileSync(join(vault, 'notes', 'bread.md'), '# Bread\n\nFlour, water, salt and yeast.\n');
  writeFileSync(join(vault, 'notes', 'code.md'), '---js\n{ title: require("child_process").execSync("id").toString() }\n---\nbody\n');
  writeFileSync(join(vault, '.obsidian', 'app.json'), '{}');
  writeFileSync(join(outside, 'secret.md'), 'the secret outside the vault\n');
  return { root, vault, outside };
}

export interface Harness {
  config: RuntimeConfig;
  ctx: ToolContext;
  metrics: Metrics;
  vault: ReturnType<typeof makeVault>;
  pages: HttpDouble;
  searx: SearxngDouble;
  server: McpHttpServer;
  connect(headers?: Record<string, string>): Promise<{ client: Client; transport: StreamableHTTPClientTransport }>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  resolver?: Resolver;
  edit?: (c: RuntimeConfigFile) => void;
  /** null: auth off (conformance). */
  token?: string | null;
}

export function configFor(
  dir: string,
  vault: string,
  edit: (c: RuntimeConfigFile) => void,
  env: Record<string, string> = {},
): RuntimeConfig {
  const file = writeRuntimeConfig(dir, { edit });
  return loadConfig({ RUNTIME_CONFIG: file, VAULT_DIR: vault, MCP_AUTH_TOKEN: TOKEN, ...env }, { cwd: dir });
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const vault = makeVault();
  const pages = await startPages();
  const searx = await startSearxng({
    results: (q) => [
      { title: `About ${q}`, url: `${pages.url}/article`, content: 'Tide pools are rocky pools on the seashore.' },
      { title: 'Plain', url: `${pages.url}/plain`, content: 'just text' },
    ],
  });
  const config = configFor(vault.root, vault.vault, (c) => {
    c.mcp.fetch.allowHosts = [`127.0.0.1:${pages.port}`];
    c.mcp.search.searxngUrl = searx.url;
    c.mcp.search.timeoutMs = 2000;
    c.mcp.fetch.timeoutMs = 5000;
    c.mcp.sandbox = { cpuSeconds: 2, wallMs: 4000, memoryMb: 128, maxProcesses: 16, maxOutputBytes: 4096, diskMb: 4 };
    opts.edit?.(c);
  });
  const metrics = createMetrics();
  const ctx = await buildToolContext(config, { metrics, log: silentLogger, ...(opts.resolver ? { resolver: opts.resolver } : {}) });
  const server = await startMcpHttpServer({
    ctx,
    token: opts.token === undefined ? TOKEN : opts.token,
    hostnames: config.mcp.hostnames,
    origins: ['http://allowed.example'],
    port: 0,
  });
  const clients: Client[] = [];
  return {
    config,
    ctx,
    metrics,
    vault,
    pages,
    searx,
    server,
    async connect(headers = { authorization: `Bearer ${TOKEN}` }) {
      const transport = new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers } });
      const client = new Client({ name: 'test-client', version: '1.0.0' });
      await client.connect(transport);
      clients.push(client);
      return { client, transport };
    },
    async close() {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      await server.close();
      await pages.close();
      await searx.close();
    },
  };
}

export function textOf(r: unknown): string {
  return ((r as CallToolResult).content ?? []).map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}
