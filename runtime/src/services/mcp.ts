import type { RuntimeConfig } from '../config/index.js';
import type { Logger } from '../log.js';

/*
 * The MCP service's composition root: config and logger come from the CLI; this starts
 * telemetry and runs the tool server until SIGTERM or SIGINT.
 */

export async function runMcp(config: RuntimeConfig, log: Logger, stdio: boolean): Promise<void> {
  const [{ startTelemetry }, { runMcpService }] = await Promise.all([import('../telemetry/index.js'), import('../mcp/index.js')]);
  const telemetry = startTelemetry(config, 'mcp', log);
  const stopped = new Promise((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  try {
    await runMcpService(config, { stdio, metrics: telemetry.metrics, log, stopped });
  } finally {
    await telemetry.shutdown();
  }
}
