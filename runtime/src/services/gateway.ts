import { GATEWAY_IN_FLIGHT_DEFAULT } from '@platform/contract';
import type { Env, RuntimeConfig } from '../config/index.js';
import { RuntimeError } from '../errors.js';
import type { Logger } from '../log.js';
import { researchSettings } from './worker.js';
import { openServiceBase } from './base.js';
import { runWorkerWithStatus } from './status.js';

/*
 * `runtime gateway`: the vault's side of the JetStream queue. It holds the vault queue's lease,
 * claims job files, publishes them to the work-queue stream and settles the results workers on
 * any host send back (ledger, output file, move), exactly as the folder worker settles its own
 * runs. It also runs the schedules, since it is the process that owns the vault queue. Everything
 * it builds it closes, in reverse order.
 */

export async function runGatewayService(config: RuntimeConfig, log: Logger, env: Env = {}): Promise<void> {
  const js = config.queue.backend === 'jetstream' ? config.queue.jetstream : undefined;
  if (!js) {
    throw new RuntimeError('CONFIG_INVALID', `runtime gateway needs queue.backend jetstream (runtime.json has "${config.queue.backend}")`, {
      hint: 'set vault.queue.backend to jetstream and describe the cluster under nats: in platform.yaml, then make render; with the folder queue run `runtime worker` alone',
    });
  }
  const [
    { createWorker },
    { openWorkerParts },
    { connectNats },
    { JetStreamGateway, gatewayExecutor },
    { JobRunner, runLimits },
    { workerAgents },
  ] = await Promise.all([
    import('../worker/index.js'),
    import('../worker/parts.js'),
    import('../jetstream/setup.js'),
    import('../jetstream/gateway.js'),
    import('../jobs/run.js'),
    import('../agents/services.js'),
  ]);
  // The router serves the jobs the gateway runs itself (memory) and the briefing's {{health}}.
  const { telemetry, usage, notifier, router, close } = await openServiceBase(config, log, 'gateway');
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
      // Memory and reindex read and write the vault and the stores beside it, which workers on
      // other hosts do not have: the gateway runs them; every other job goes to the workers.
      const agents = workerAgents(config, router, env, parts.ledger);
      const local = new JobRunner({ router, defaultModel: config.routing.default, log, agents, limits: runLimits(config.vault.worker) });
      const executor = gatewayExecutor(gateway.execute, local);
      const worker = createWorker({
        config,
        ...parts,
        executor,
        notifier,
        spend: usage,
        log,
        metrics: telemetry.metrics,
        research: researchSettings(config),
        agents,
        health: router,
      });
      try {
        await gateway.start().catch(async (e: unknown) => {
          await worker.stop(); // never started: closes the ledger
          throw e;
        });
        await runWorkerWithStatus(worker, { service: 'gateway', config, env, log, metrics: telemetry.metrics });
      } finally {
        await gateway.stop();
      }
    } finally {
      await nc.drain().catch(() => nc.close());
    }
  } finally {
    await close();
  }
}
