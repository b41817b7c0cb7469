import type { Env, RuntimeConfig } from '../config/index.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { StatusHealth, StatusServer } from '../telemetry/status-server.js';
import type { Worker } from '../worker/index.js';

/*
 * The status port of the queue's services (`runtime worker`, `runtime gateway`): /metrics and
 * /healthz on ports.metrics, at WORKER_LISTEN_HOST (0.0.0.0 by default), for as long as `run`
 * runs. What the compose healthcheck and Alloy call.
 */
export async function withStatusServer(
  opts: { service: 'worker' | 'gateway'; config: RuntimeConfig; env: Env; log: Logger; metrics: Metrics; health: () => StatusHealth },
  run: () => Promise<void>,
): Promise<void> {
  const { startStatusServer } = await import('../telemetry/status-server.js');
  const status: StatusServer = await startStatusServer({
    host: opts.env.WORKER_LISTEN_HOST || '0.0.0.0',
    port: opts.config.ports.metrics,
    metrics: opts.metrics,
    health: opts.health,
    log: opts.log,
  });
  opts.log.info(`${opts.service} status listening`, { url: status.url, paths: ['/metrics', '/healthz'] });
  try {
    await run();
  } finally {
    await status.close();
  }
}

/**
 * Runs a vault-queue worker (the folder worker, or the gateway's) with its status port until
 * SIGTERM or SIGINT. A port that cannot be bound fails the start; the worker, never started, is
 * stopped so it closes its ledger.
 */
export async function runWorkerWithStatus(
  worker: Worker,
  opts: { service: 'worker' | 'gateway'; config: RuntimeConfig; env: Env; log: Logger; metrics: Metrics },
): Promise<void> {
  const { runUntilSignalled } = await import('../worker/index.js');
  let ran = false;
  await withStatusServer({ ...opts, health: () => worker.health() }, () => {
    ran = true;
    return runUntilSignalled(worker, opts.log);
  }).catch(async (e: unknown) => {
    if (!ran) await worker.stop();
    throw e;
  });
}
