import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { RuntimeConfig } from '../config/index.js';
import { RuntimeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../telemetry/index.js';
import { startMcpHttpServer, type McpHttpServer } from './http.js';
import { Sandbox } from './sandbox.js';
import { createMcpServer } from './server.js';
import type { ToolContext } from './tools.js';
import type { Resolver } from './safe-fetch.js';
import { VaultAccess } from './vault-access.js';

export { startMcpHttpServer, hostnameOf, type McpHttpOptions, type McpHttpServer } from './http.js';
export { createMcpServer, SERVER_INFO } from './server.js';
export { registerTools, fenceUntrusted, TOOL_NAMES, type ToolContext, type ToolName } from './tools.js';
export { forbiddenAddressReason } from './net-guard.js';
export { safeFetch, checkTarget, systemResolver, type Resolver, type ResolvedAddress, type SafeFetchOptions } from './safe-fetch.js';
export { toReadable } from './readable.js';
export { VaultAccess, pathSegments, splitFrontmatter } from './vault-access.js';
export { Sandbox, type SandboxLimits, type SandboxResult, type Language, type LimitHit } from './sandbox.js';
export { searchSearxng, type SearchResult } from './searxng.js';

export interface ToolContextOptions {
  metrics: Metrics;
  log: Logger;
  resolver?: Resolver;
}

/** The tools' dependencies from the runtime config; a vault that cannot be opened disables the vault tools only. */
export async function buildToolContext(config: RuntimeConfig, opts: ToolContextOptions): Promise<ToolContext> {
  const f = config.vault.folders;
  let vault: VaultAccess | undefined;
  try {
    vault = await VaultAccess.open({
      root: config.vault.path,
      writableFolders: config.mcp.vault.writableFolders,
      queueFolders: [f.queue, f.active, f.completed, f.failed],
      queueFolder: f.queue,
      maxReadBytes: config.mcp.vault.maxReadBytes,
      maxWriteBytes: config.mcp.vault.maxWriteBytes,
    });
  } catch (e) {
    opts.log.warn('vault tools are off: the vault cannot be opened', {
      path: config.vault.path,
      error: e instanceof Error ? e.message : String(e),
    });
  }
  const sandbox = new Sandbox({ limits: config.mcp.sandbox });
  const why = sandbox.unavailableReason();
  if (why) opts.log.warn('run_code is off', { reason: why });
  return {
    settings: config.mcp,
    vault,
    sandbox,
    metrics: opts.metrics,
    log: opts.log,
    ...(opts.resolver ? { resolver: opts.resolver } : {}),
  };
}

export interface McpServiceOptions {
  stdio: boolean;
  metrics: Metrics;
  log: Logger;
  /** Resolves when the service should stop (signals); the CLI passes one. */
  stopped: Promise<unknown>;
  /** Bind address for HTTP; all interfaces in a container. */
  host?: string;
  /** Overrides config.ports.mcp (0: any free port). */
  port?: number;
  onListening?: (server: McpHttpServer) => void;
}

/** `runtime mcp` (HTTP on ports.mcp) or `runtime mcp --stdio` (one client on stdin/stdout). */
export async function runMcpService(config: RuntimeConfig, opts: McpServiceOptions): Promise<void> {
  const ctx = await buildToolContext(config, { metrics: opts.metrics, log: opts.log });
  if (opts.stdio) {
    const server = createMcpServer(ctx);
    const transport = new StdioServerTransport();
    const closed = new Promise<void>((resolve) => {
      transport.onclose = () => resolve();
      process.stdin.once('end', () => resolve());
    });
    await server.connect(transport);
    opts.log.info('mcp server on stdio');
    await Promise.race([closed, opts.stopped]);
    await server.close();
    return;
  }
  const token = config.secrets.mcpAuthToken;
  if (!token) {
    throw new RuntimeError(
      'CONFIG_INVALID',
      `${config.mcp.authTokenSecret} is not set: the MCP server does not serve HTTP without a bearer token`,
      {
        hint: `set ${config.mcp.authTokenSecret} (Infisical materialises it), or use \`runtime mcp --stdio\` for a local desktop client`,
      },
    );
  }
  const http = await startMcpHttpServer({
    ctx,
    token,
    hostnames: config.mcp.hostnames,
    origins: config.mcp.origins,
    port: opts.port ?? config.ports.mcp,
    host: opts.host ?? '0.0.0.0',
  });
  opts.log.info('mcp server listening', { url: http.url });
  opts.onListening?.(http);
  try {
    await opts.stopped;
  } finally {
    await http.close();
  }
}
