import type { Env, RuntimeConfig } from './config/index.js';
import { describeError, isRuntimeError } from './errors.js';

/*
 * `runtime <service>`: the entry point of the runtime image. The bin shim (runtime/bin/runtime.js)
 * loads this file compiled (runtime/dist/cli.js, from `make build`) and exits with what `main`
 * returns. Service code (OpenTelemetry above all) is imported only when that service starts, so
 * usage errors answer fast.
 */

export const SERVICES = ['web', 'worker', 'gateway', 'mcp', 'rag', 'index'] as const;
export type Service = (typeof SERVICES)[number];

export const USAGE = `usage: runtime <service>

services:
  web      browser chat, queue and job views, health (runtime web --help)
  worker   runs markdown jobs dropped into the vault queue (queue.backend jetstream: pulls them from NATS)
  gateway  queue.backend jetstream: claims vault queue files, publishes them to NATS, files the results
  mcp      MCP tool server: Streamable HTTP on ports.mcp; "runtime mcp --stdio" for one desktop client
  rag      retrieval over the vault (POST /retrieve, /answer on ports.rag)
  index    re-index the vault (incremental; --full rebuilds both stores)

commands:
  token    API tokens for the web service: create, revoke, list
  schedule what the schedules in platform.yaml do: list, next [NAME] [COUNT], run NAME

environment:
  RUNTIME_CONFIG   path to runtime.json (default generated/runtime/runtime.json)
  DATA_DIR         SQLite files (default ./.data)
  VAULT_DIR        overrides vault.path
  OLLAMA_URL_<HOST>  overrides ollamaHosts.<host> (upper case, dashes as underscores)
  LOG_LEVEL        debug | info | warn | error
  MCP_AUTH_TOKEN   bearer token of the MCP server (the name mcp.authTokenSecret gives)
  RAG_LISTEN_HOST  address \`runtime rag\` listens on (default 0.0.0.0)
  WORKER_LISTEN_HOST  address \`runtime worker\` and \`runtime gateway\` serve /metrics and /healthz on, at ports.metrics (default 0.0.0.0)
`;

export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const processIo: CliIo = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
};

/** Runs one service; resolves with the process exit code. */
export async function main(argv: readonly string[], env: Env, io: CliIo = processIo): Promise<number> {
  const service = argv[0];
  if (service === '-h' || service === '--help' || service === 'help') {
    io.stdout(USAGE);
    return 0;
  }
  if (service === 'schedule') return scheduleMain(argv.slice(1), env, io);
  if (service === 'token') return (await import('./web/cli.js')).runTokenCommand(argv, env, io);
  if (service === 'web' && (argv[1] === '--help' || argv[1] === '-h')) {
    io.stdout((await import('./web/cli.js')).WEB_USAGE);
    return 0;
  }
  if (!service || !(SERVICES as readonly string[]).includes(service)) {
    io.stderr(`${service ? `runtime: unknown service "${service}"\n\n` : ''}${USAGE}`);
    return 2;
  }
  const { loadConfig } = await import('./config/index.js');
  const { createLogger } = await import('./log.js');
  let config: RuntimeConfig;
  try {
    config = loadConfig(env);
  } catch (e) {
    io.stderr(formatFatal(e));
    return 1;
  }
  const stdio = service === 'mcp' && argv.includes('--stdio');
  // On stdio, stdout carries the protocol: logs go to stderr.
  const log = createLogger({
    level: config.logLevel,
    fields: { service },
    ...(stdio ? { sink: (line: string) => void process.stderr.write(`${line}\n`) } : {}),
  });
  for (const w of config.warnings) log.warn(w);
  try {
    if (service === 'index') {
      const { runIndexCommand } = await import('./rag/commands.js');
      return await runIndexCommand(config, log, env, argv.slice(1), { ...io, isTty: io === processIo && process.stderr.isTTY });
    }
    if (service === 'rag') {
      const { runRagService } = await import('./rag/commands.js');
      await runRagService(config, log, env);
      return 0;
    }
    if (service === 'web') return await (await import('./web/cli.js')).runWebService(argv, env, log, io);
    if (service === 'mcp') await (await import('./services/mcp.js')).runMcp(config, log, stdio);
    else if (service === 'gateway') await (await import('./services/gateway.js')).runGatewayService(config, log, env);
    else await (await import('./services/worker.js')).runWorkerService(config, log, env);
    return 0;
  } catch (e) {
    log.error('service failed', { error: e instanceof Error ? e : describeError(e) });
    io.stderr(formatFatal(e));
    return 1;
  }
}

async function scheduleMain(args: readonly string[], env: Env, io: CliIo): Promise<number> {
  const { loadConfig } = await import('./config/index.js');
  const { createLogger } = await import('./log.js');
  const { scheduleCommand } = await import('./schedule/cli.js');
  try {
    const config = loadConfig(env);
    await scheduleCommand(
      args,
      config,
      createLogger({ level: config.logLevel, sink: (line) => io.stderr(`${line}\n`), fields: { service: 'schedule' } }),
      io,
    );
    return 0;
  } catch (e) {
    io.stderr(formatFatal(e));
    return isRuntimeError(e, 'USAGE') ? 2 : 1;
  }
}

function formatFatal(e: unknown): string {
  if (isRuntimeError(e)) return `runtime: ${e.code}: ${e.message}${e.hint ? `\n  hint: ${e.hint}` : ''}\n`;
  return `runtime: ${describeError(e)}\n`;
}

// Kept here for callers that import it with the CLI; it lives with the worker's composition root.
export { researchSettings } from './services/worker.js';
