import type { Env, RuntimeConfig } from '../config/index.js';
import type { Logger } from '../log.js';
import type { ResearchSettings } from '../mcp/research.js';
import type { Router } from '../router/index.js';
import type { Metrics } from '../telemetry/metrics.js';
import { openServiceBase } from './base.js';
import { runWorkerWithStatus, withStatusServer } from './status.js';

/*
 * The worker service's composition root: config and logger come from the CLI; this builds
 * telemetry, the usage store, the notifier, the router and the worker's parts (queue, lease,
 * ledger, skills) and passes them in, and serves /metrics and /healthz on ports.metrics (at
 * WORKER_LISTEN_HOST, 0.0.0.0 by default) from before the worker waits for its queue lease until
 * it has stopped. Everything it builds it closes, in reverse order.
 */

export async function runWorkerService(config: RuntimeConfig, log: Logger, env: Env = {}): Promise<void> {
  const [{ createWorker }, { openWorkerParts }, { workerAgents }] = await Promise.all([
    import('../worker/index.js'),
    import('../worker/parts.js'),
    import('../agents/services.js'),
  ]);
  const { telemetry, usage, notifier, router, close } = await openServiceBase(config, log, 'worker');
  try {
    if (config.queue.backend === 'jetstream') {
      await runJetStreamWorker(config, router, log, telemetry.metrics, env);
      return;
    }
    // The worker owns its parts from here: it starts them, stops them and closes the ledger.
    const parts = await openWorkerParts(config, { log });
    // The router writes one usage row per provider call (it is given the job id), so the worker
    // writes none; it only reads token spend for the briefing agent's templates.
    const worker = createWorker({
      config,
      router,
      ...parts,
      notifier,
      spend: usage,
      log,
      metrics: telemetry.metrics,
      research: researchSettings(config),
      // The memory and reindex agents, and the router's view of the hosts for the briefing.
      agents: workerAgents(config, router, env, parts.ledger),
      health: router,
    });
    await runWorkerWithStatus(worker, { service: 'worker', config, env, log, metrics: telemetry.metrics });
  } finally {
    await close();
  }
}

/**
 * A worker of the JetStream queue: no vault, no lease; it pulls the jobs of its host's route
 * groups and sends results back to the gateway. Runs until SIGTERM or SIGINT.
 */
async function runJetStreamWorker(config: RuntimeConfig, router: Router, log: Logger, metrics: Metrics, env: Env): Promise<void> {
  const [{ connectNats }, { JetStreamWorker }] = await Promise.all([import('../jetstream/setup.js'), import('../jetstream/worker.js')]);
  const js = config.queue.jetstream!;
  const nc = await connectNats({
    js,
    role: 'worker',
    password: config.secrets.nats.workerPassword,
    name: `runtime-worker@${config.host}`,
    log: log.child({ component: 'nats' }),
  });
  try {
    const w = new JetStreamWorker({
      config,
      router,
      nc,
      log: log.child({ component: 'jetstream' }),
      metrics,
      research: researchSettings(config),
      onRateLimited: (job, n) =>
        log.warn('job held: provider rate limit', { file: job.name, jobId: job.jobId, model: n.model, waitMs: n.waitMs }),
    });
    let onSignal: ((s: NodeJS.Signals) => void) | undefined;
    const stopRequested = new Promise<void>((r) => {
      onSignal = (s) => {
        log.info('shutdown requested', { signal: s });
        r();
      };
    });
    for (const s of ['SIGTERM', 'SIGINT'] as const) process.once(s, onSignal!);
    try {
      await withStatusServer({ service: 'worker', config, env, log, metrics, health: () => w.health() }, async () => {
        await w.start();
        await stopRequested;
        await w.stop();
      });
    } finally {
      for (const s of ['SIGTERM', 'SIGINT'] as const) process.removeListener(s, onSignal!);
    }
  } finally {
    await nc.drain().catch(() => nc.close());
  }
}

/** Where research jobs find the MCP tool server: services.mcpUrl, with the bearer token. */
export function researchSettings(config: RuntimeConfig): ResearchSettings {
  return { url: `${config.services.mcpUrl.replace(/\/+$/, '')}/mcp`, token: config.secrets.mcpAuthToken, ...config.mcp.research };
}
