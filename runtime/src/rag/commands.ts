import type { Env, RuntimeConfig } from '../config/index.js';
import { RuntimeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Router } from '../router/index.js';
import type { IndexProgress, IndexStats } from './indexer.js';

/*
 * `runtime index [--full]` and `runtime rag`. Index progress is a bar on a terminal and one log
 * line per 10% elsewhere (a container's log should not hold thousands of bar redraws).
 */

export interface CommandIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  isTty?: boolean;
}

export function progressPrinter(io: CommandIo): (p: IndexProgress) => void {
  let lastTenth = -1;
  return (p) => {
    if (p.phase === 'scan') io.stderr(`index: ${p.notes} notes in the vault\n`);
    else if (p.phase === 'note') {
      if (io.isTty) {
        const width = 30;
        const filled = Math.round((p.done / Math.max(1, p.total)) * width);
        io.stderr(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.done}/${p.total} ${p.path.slice(-40).padEnd(40)}`);
        if (p.done === p.total) io.stderr('\n');
      } else {
        const tenth = Math.floor((p.done / Math.max(1, p.total)) * 10);
        if (tenth !== lastTenth) {
          lastTenth = tenth;
          io.stderr(`index: ${p.done}/${p.total} notes\n`);
        }
      }
    }
  };
}

export function summary(s: IndexStats): string {
  const lines = [
    `indexed ${s.indexed} notes (${s.chunks} chunks), ${s.unchanged} unchanged, ${s.deleted} removed, in ${(s.totalMs / 1000).toFixed(1)} s (${(s.providerMs / 1000).toFixed(1)} s in models)`,
  ];
  if (s.skippedChunks.length)
    lines.push(
      `entity extraction skipped for ${s.skippedChunks.length} chunks: ${s.skippedChunks
        .slice(0, 3)
        .map((c) => `${c.chunkId}: ${c.reason}`)
        .join('; ')}`,
    );
  if (s.skippedFiles.length)
    lines.push(
      `files left out: ${s.skippedFiles
        .slice(0, 5)
        .map((f) => `${f.path} (${f.reason})`)
        .join('; ')}${s.skippedFiles.length > 5 ? ' ...' : ''}`,
    );
  if (s.interrupted) lines.push('interrupted: run `runtime index` again to finish');
  return `${lines.join('\n')}\n`;
}

async function withRouter<T>(config: RuntimeConfig, log: Logger, fn: (router: Router) => Promise<T>): Promise<T> {
  const { Router } = await import('../router/index.js');
  const router = new Router({ config, log });
  await router.start();
  try {
    return await fn(router);
  } finally {
    await router.stop();
  }
}

export async function runIndexCommand(
  config: RuntimeConfig,
  log: Logger,
  env: Env,
  args: readonly string[],
  io: CommandIo,
): Promise<number> {
  const unknown = args.filter((a) => a !== '--full');
  if (unknown.length)
    throw new RuntimeError('USAGE', `runtime index: unknown option ${unknown.join(' ')}`, { hint: 'runtime index [--full]' });
  const { createRag } = await import('./service.js');
  return withRouter(config, log, async (router) => {
    const rag = await createRag(config, router, env);
    const ac = new AbortController();
    const stop = (): void => ac.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      const stats = await rag.indexer.run({ full: args.includes('--full'), onProgress: progressPrinter(io), signal: ac.signal });
      io.stdout(summary(stats));
      return stats.interrupted ? 1 : 0;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      await rag.close();
    }
  });
}

export async function runRagService(config: RuntimeConfig, log: Logger, env: Env): Promise<void> {
  const { createRag } = await import('./service.js');
  const { buildRagApp } = await import('./server.js');
  await withRouter(config, log, async (router) => {
    const rag = await createRag(config, router, env);
    const app = buildRagApp({ retriever: rag.retriever, runIndex: (onProgress) => rag.indexer.run({ onProgress }), log });
    const host = env.RAG_LISTEN_HOST || '0.0.0.0';
    await app.listen({ host, port: config.ports.rag });
    log.info('rag listening', {
      host,
      port: config.ports.rag,
      vectors: rag.vectors.kind,
      graph: rag.graph.kind,
      embedder: rag.embedder.model,
    });
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await app.close();
    await rag.close();
  });
}
