import type { Env, RuntimeConfig } from '../config/index.js';
import type { Logger } from '../log.js';
import type { ResearchSettings } from '../mcp/research.js';

/*
 * The worker service's composition root: config and logger come from the CLI; this builds
 * telemetry, the usage store, the notifier, the router and the worker's parts (queue, lease,
 * ledger, skills) and passes them in, and serves /metrics and /healthz on ports.metrics (at
 * WORKER_LISTEN_HOST, 0.0.0.0 by default) from before the worker waits for its queue lease until
 * it has stopped. Everything it builds it closes, in reverse order.
 */

export async function runWorkerService(config: RuntimeConfig, log: Logger, env: Env = {}): Promise<void> {
  const [
    { startTelemetry },
    { UsageStore },
    { DiscordNotifier },
    { Router },
    { createWorker, runUntilSignalled },
    { openWorkerParts },
    { startStatusServer },
  ] = await Promise.all([
    import('../telemetry/index.js'),
    import('../store/usage.js'),
    import('../notify/discord.js'),
    import('../router/index.js'),
    import('../worker/index.js'),
    import('../worker/parts.js'),
    import('../telemetry/status-server.js'),
  ]);
  const telemetry = startTelemetry(config, 'worker', log);
  const usage = new UsageStore(config.dataDir);
  const notifier = new DiscordNotifier({ webhookUrl: config.secrets.discordWebhookUrl, log });
  const router = new Router({
    config,
    log,
    metrics: telemetry.metrics,
    usage,
    onStateChange: (c) =>
      notifier.providerState({ provider: c.provider, host: c.host, state: c.state, ...(c.reason ? { reason: c.reason } : {}) }),
  });
  try {
    await router.start();
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
      agents: (await import('../agents/services.js')).workerAgents(config, router, env, parts.ledger),
      health: router,
    });
    let status: Awaited<ReturnType<typeof startStatusServer>>;
    try {
      status = await startStatusServer({
        host: env.WORKER_LISTEN_HOST || '0.0.0.0',
        port: config.ports.metrics,
        metrics: telemetry.metrics,
        health: () => worker.health(),
        log,
      });
    } catch (e) {
      await worker.stop();
      throw e;
    }
    log.info('worker status listening', { url: status.url, paths: ['/metrics', '/healthz'] });
    try {
      await runUntilSignalled(worker, log);
    } finally {
      await status.close();
    }
  } finally {
    await router.stop();
    await notifier.close();
    usage.close();
    await telemetry.shutdown();
  }
}

/** Where research jobs find the MCP tool server: services.mcpUrl, with the bearer token. */
export function researchSettings(config: RuntimeConfig): ResearchSettings {
  return { url: `${config.services.mcpUrl.replace(/\/+$/, '')}/mcp`, token: config.secrets.mcpAuthToken, ...config.mcp.research };
}
