import type { RuntimeConfig } from '../config/index.js';
import type { Logger } from '../log.js';
import type { Notifier } from '../notify/discord.js';
import type { JobHeldNotice, JobNotice, JobNotifier } from '../worker/index.js';

/*
 * The worker service's composition root: config and logger come from the CLI; this builds
 * telemetry, the usage store, the notifier, the router and the worker's parts (queue, lease,
 * ledger, skills) and passes them in. Everything it builds it closes, in reverse order.
 */

export async function runWorkerService(config: RuntimeConfig, log: Logger): Promise<void> {
  const [{ startTelemetry }, { UsageStore }, { DiscordNotifier }, { Router }, { runWorker }, { openWorkerParts }] = await Promise.all([
    import('../telemetry/index.js'),
    import('../store/usage.js'),
    import('../notify/discord.js'),
    import('../router/index.js'),
    import('../worker/index.js'),
    import('../worker/parts.js'),
  ]);
  const telemetry = startTelemetry(config, 'worker', log);
  const usage = new UsageStore(config.dataDir);
  const notifier = new DiscordNotifier({ webhookUrl: config.secrets.discordWebhookUrl, log });
  const router = new Router({
    config,
    log,
    metrics: telemetry.metrics,
    usage,
    onStateChange: (c) => notifier.providerState({ provider: c.provider, host: c.host, state: c.state, ...(c.reason ? { reason: c.reason } : {}) }),
  });
  try {
    await router.start();
    // The worker owns its parts from here: it starts them, stops them and closes the ledger.
    const parts = await openWorkerParts(config, { log });
    // The router writes one usage row per provider call (it is given the job id), so the worker writes none.
    await runWorker({ config, router, ...parts, notifier: jobNotifier(notifier), log, metrics: telemetry.metrics });
  } finally {
    await router.stop();
    await notifier.close();
    usage.close();
    await telemetry.shutdown();
  }
}

/** The worker's notice shapes onto the Discord notifier. */
export function jobNotifier(n: Notifier): JobNotifier {
  return {
    jobCompleted: async (j: JobNotice) => {
      n.jobSucceeded({
        job: j.name,
        model: j.model ?? 'unknown',
        durationMs: j.durationMs,
        usage: { inputTokens: j.tokensIn, outputTokens: j.tokensOut },
        ...(j.output ? { output: j.output } : {}),
      });
    },
    jobFailed: async (j: JobNotice) => {
      n.jobFailed({
        job: j.name,
        durationMs: j.durationMs,
        reason: j.error ? `${j.error.message}${j.error.hint ? `\nhint: ${j.error.hint}` : ''}` : 'failed',
        ...(j.model ? { model: j.model } : {}),
        ...(j.error ? { code: j.error.code } : {}),
      });
    },
    jobHeld: async (j: JobHeldNotice) => {
      n.jobHeld({ job: j.name, model: j.model, ...(j.retryAfterMs !== undefined ? { waitMs: j.retryAfterMs } : {}) });
    },
  };
}
