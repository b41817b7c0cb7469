import { GATEWAY_IN_FLIGHT_DEFAULT } from '@platform/contract';
import type { RuntimeConfig } from '../config/index.js';
import { RuntimeError } from '../errors.js';
import type { Logger } from '../log.js';

/*
 * `runtime gateway`: the vault's side of the JetStream queue. It holds the vault queue's lease,
 * claims job files, publishes them to the work-queue stream and settles the results workers on
 * any host send back (ledger, output file, move), exactly as the folder worker settles its own
 * runs. It also runs the schedules, since it is the process that owns the vault queue. Everything
 * it builds it closes, in reverse order.
 */

export async function runGatewayService(config: RuntimeConfig, log: Logger): Promise<void> {
  const js = config.queue.backend === 'jetstream' ? config.queue.jetstream : undefined;
  if (!js) {
    throw new RuntimeError('CONFIG_INVALID', `runtime gateway needs queue.backend jetstream (runtime.json has "${config.queue.backend}")`, {
      hint: 'set vault.queue.backend to jetstream and describe the cluster under nats: in platform.yaml, then make render; with the folder queue run `runtime worker` alone',
    });
  }
  const [
    { startTelemetry },
    { UsageStore },
    { DiscordNotifier },
    { runWorker },
    { openWorkerParts },
    { connectNats },
    { JetStreamGateway },
  ] = await Promise.all([
    import('../telemetry/index.js'),
    import('../store/usage.js'),
    import('../notify/discord.js'),
    import('../worker/index.js'),
    import('../worker/parts.js'),
    import('../jetstream/setup.js'),
    import('../jetstream/gateway.js'),
  ]);
  const telemetry = startTelemetry(config, 'gateway', log);
  const usage = new UsageStore(config.dataDir);
  const notifier = new DiscordNotifier({ webhookUrl: config.secrets.discordWebhookUrl, log });
  try {
    const nc = await connectNats({
      js,
      role: 'gateway',
      password: config.secrets.nats.gatewayPassword,
      name: `runtime-gateway@${config.host}`,
      log: log.child({ component: 'nats' }),
    });
    try {
      const parts = await openWorkerParts(config, { log, concurrency: js.gatewayInFlight ?? GATEWAY_IN_FLIGHT_DEFAULT });
      const gateway = new JetStreamGateway({
        nc,
        js,
        routes: config.routing.models,
        defaultModel: config.routing.default,
        ledger: parts.ledger,
        log: log.child({ component: 'jetstream' }),
        metrics: telemetry.metrics,
      });
      try {
        await gateway.start().catch((e: unknown) => {
          parts.ledger.close();
          throw e;
        });
        await runWorker({ config, ...parts, executor: gateway.execute, notifier, spend: usage, log, metrics: telemetry.metrics });
      } finally {
        await gateway.stop();
      }
    } finally {
      await nc.drain().catch(() => nc.close());
    }
  } finally {
    await notifier.close();
    usage.close();
    await telemetry.shutdown();
  }
}
