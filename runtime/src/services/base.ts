import type { RuntimeConfig } from '../config/index.js';
import type { Logger } from '../log.js';
import type { DiscordNotifier } from '../notify/discord.js';
import type { Router } from '../router/index.js';
import type { UsageStore } from '../store/usage.js';
import type { Telemetry } from '../telemetry/index.js';

/*
 * What the queue's services (`runtime worker`, `runtime gateway`) are built on: telemetry, the
 * usage store, the Discord notifier and a started router whose host state changes reach Discord.
 * `close()` undoes it in reverse order.
 */
export interface ServiceBase {
  readonly telemetry: Telemetry;
  readonly usage: UsageStore;
  readonly notifier: DiscordNotifier;
  readonly router: Router;
  close(): Promise<void>;
}

export async function openServiceBase(config: RuntimeConfig, log: Logger, service: 'worker' | 'gateway'): Promise<ServiceBase> {
  const [{ startTelemetry }, { UsageStore }, { DiscordNotifier }, { Router }] = await Promise.all([
    import('../telemetry/index.js'),
    import('../store/usage.js'),
    import('../notify/discord.js'),
    import('../router/index.js'),
  ]);
  const telemetry = startTelemetry(config, service, log);
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
  const close = async (): Promise<void> => {
    await router.stop();
    await notifier.close();
    usage.close();
    await telemetry.shutdown();
  };
  try {
    await router.start();
  } catch (e) {
    await close();
    throw e;
  }
  return { telemetry, usage, notifier, router, close };
}
