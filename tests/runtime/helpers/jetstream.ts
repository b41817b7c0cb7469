import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RuntimeConfigFile, RuntimeJetStream } from '@platform/contract';
import { runtimeConfigFor } from '../../doubles/config.js';

/*
 * runtime.json for the JetStream queue tests: the committed config with queue.backend jetstream
 * at a test cluster, the vault and data dir at temp folders, every Ollama host at one double.
 * Hosts take groups as the model would give them: contabo takes contabo and cloud, davas davas.
 */

export const TEST_WORKERS: Record<string, string[]> = { contabo: ['cloud', 'contabo'], davas: ['davas'] };

export interface JetStreamTestConfig {
  root: string;
  vault: string;
  dataDir: string;
  ollamaUrl: string;
  servers: string[];
  /** The host this process runs as (its worker's groups); contabo by default. */
  host?: string;
  /** File name, for several configs in one root. */
  name?: string;
  js?: Partial<RuntimeJetStream>;
  worker?: Partial<RuntimeConfigFile['vault']['worker']>;
}

export function testJetStream(servers: string[], js: Partial<RuntimeJetStream> = {}): RuntimeJetStream {
  return {
    servers,
    gateway: { user: 'gateway', passwordSecret: 'NATS_GATEWAY_PASSWORD' },
    worker: { user: 'worker', passwordSecret: 'NATS_WORKER_PASSWORD' },
    stream: 'JOBS',
    resultsStream: 'JOB_RESULTS',
    subjectPrefix: 'jobs',
    replicas: 1,
    ackWaitMs: 5_000,
    maxDeliver: 5,
    duplicateWindowMs: 120_000,
    nakDelayMs: 200,
    progressIntervalMs: 1_000,
    workers: TEST_WORKERS,
    ...js,
  };
}

export function writeJetStreamConfig(o: JetStreamTestConfig): { path: string; env: Record<string, string> } {
  const file = runtimeConfigFor({
    edit: (c) => {
      c.host = o.host ?? 'contabo';
      c.vault.worker = { ...c.vault.worker, concurrency: 2, mtimeGuardMs: 50, rescanMs: 500, graceMs: 1_000, ...o.worker };
      c.queue = { backend: 'jetstream', jetstream: testJetStream(o.servers, o.js) };
    },
  });
  const path = join(o.root, o.name ?? `runtime-${o.host ?? 'contabo'}.json`);
  writeFileSync(path, JSON.stringify(file, null, 2));
  const env: Record<string, string> = {
    RUNTIME_CONFIG: path,
    DATA_DIR: o.dataDir,
    VAULT_DIR: o.vault,
    OTEL_SDK_DISABLED: 'true',
    WORKER_LISTEN_HOST: '127.0.0.1',
  };
  for (const host of Object.keys(file.ollamaHosts)) env[`OLLAMA_URL_${host.toUpperCase().replace(/-/g, '_')}`] = o.ollamaUrl;
  return { path, env };
}
