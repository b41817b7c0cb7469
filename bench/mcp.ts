/*
 * MCP tool server benchmark: `npx tsx bench/mcp.ts`. Prints figures, asserts nothing.
 *
 *   1. tool-call round trip over Streamable HTTP for a trivial tool (vault_list of a small
 *      folder), one session, sequential calls: p50 / p99;
 *   2. run_code start to result for `print(1)` in the bubblewrap sandbox: p50 / p99;
 *   3. 50 concurrent sessions, each initialising and calling the trivial tool 20 times:
 *      wall time, calls per second, p50 / p99 per call.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../runtime/src/log.js';
import { Sandbox, VaultAccess, startMcpHttpServer, type ToolContext } from '../runtime/src/mcp/index.js';
import { createMetrics } from '../runtime/src/telemetry/index.js';

const TOKEN = 'bench-token';

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
const ms = (x: number): string => `${x.toFixed(2)} ms`;

async function connect(url: string): Promise<{ client: Client; end: () => Promise<void> }> {
  const client = new Client({ name: 'bench', version: '1' });
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } });
  await client.connect(transport);
  return {
    client,
    end: async () => {
      await transport.terminateSession();
      await client.close();
    },
  };
}

const root = mkdtempSync(join(tmpdir(), 'bench-mcp-'));
mkdirSync(join(root, 'notes'));
for (let i = 0; i < 5; i++) writeFileSync(join(root, 'notes', `n${i}.md`), `# Note ${i}\n`);
const limits = { cpuSeconds: 5, wallMs: 10_000, memoryMb: 256, maxProcesses: 32, maxOutputBytes: 65_536, diskMb: 16 };
const ctx: ToolContext = {
  settings: {
    authTokenSecret: 'MCP_AUTH_TOKEN',
    hostnames: ['127.0.0.1'],
    origins: [],
    search: { timeoutMs: 1000, maxResults: 10 },
    fetch: { allowHosts: [], maxRedirects: 5, maxBytes: 1_000_000, timeoutMs: 5000, defaultMaxLength: 20_000 },
    vault: { writableFolders: ['inbox'], maxReadBytes: 1_000_000, maxWriteBytes: 1_000_000 },
    sandbox: limits,
    research: { maxSteps: 8, timeoutMs: 600_000, maxTokens: 100_000 },
  },
  vault: await VaultAccess.open({
    root,
    writableFolders: ['inbox'],
    queueFolders: ['_queue'],
    queueFolder: '_queue',
    maxReadBytes: 1_000_000,
    maxWriteBytes: 1_000_000,
  }),
  sandbox: new Sandbox({ limits }),
  metrics: createMetrics(),
  log: silentLogger,
};
const server = await startMcpHttpServer({ ctx, token: TOKEN, hostnames: ['127.0.0.1'], origins: [], port: 0 });

try {
  // 1. round trip
  const { client, end } = await connect(server.url);
  for (let i = 0; i < 50; i++) await client.callTool({ name: 'vault_list', arguments: { path: 'notes' } });
  const rt: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const t = performance.now();
    await client.callTool({ name: 'vault_list', arguments: { path: 'notes' } });
    rt.push(performance.now() - t);
  }
  console.log(`round trip (vault_list, 1000 calls, one session): p50 ${ms(pct(rt, 50))}, p99 ${ms(pct(rt, 99))}`);

  // 2. sandbox
  const sb: number[] = [];
  await client.callTool({ name: 'run_code', arguments: { language: 'python', code: 'print(1)' } });
  for (let i = 0; i < 30; i++) {
    const t = performance.now();
    const r = await client.callTool({ name: 'run_code', arguments: { language: 'python', code: 'print(1)' } });
    sb.push(performance.now() - t);
    if (r.isError) throw new Error(JSON.stringify(r.content));
  }
  console.log(`run_code print(1) (python, 30 runs, through MCP): p50 ${ms(pct(sb, 50))}, p99 ${ms(pct(sb, 99))}`);
  await end();

  // 3. concurrent sessions
  const per: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      const c = await connect(server.url);
      for (let i = 0; i < 20; i++) {
        const t = performance.now();
        await c.client.callTool({ name: 'vault_list', arguments: { path: 'notes' } });
        per.push(performance.now() - t);
      }
      await c.end();
    }),
  );
  const wall = performance.now() - t0;
  console.log(
    `50 concurrent sessions x 20 calls: ${ms(wall)} wall, ${Math.round((per.length / wall) * 1000)} calls/s, p50 ${ms(pct(per, 50))}, p99 ${ms(pct(per, 99))}, sessions left open ${server.sessionCount()}`,
  );
} finally {
  await server.close();
  rmSync(root, { recursive: true, force: true });
}
