import type { RuntimeConfig } from '../../../runtime/src/config/index.js';
import type { JobOutcome } from '../../../runtime/src/jobs/index.js';
import { memoryLogger, type LogRecord } from '../../../runtime/src/log.js';
import { Router } from '../../../runtime/src/router/index.js';
import { createMetrics, type Metrics } from '../../../runtime/src/telemetry/metrics.js';
import { createWorker, type JobHeldNotice, type JobNotice, type JobNotifier, type Worker } from '../../../runtime/src/worker/index.js';
import { openWorkerParts } from '../../../runtime/src/worker/parts.js';
import { echoAnswer, startOllama, type OllamaDouble } from '../../doubles/ollama.js';
import { testConfig } from '../../doubles/config.js';
import { makeVault, waitFor, type TempVault } from './vault.js';

/* A real worker (real router, real Ollama wire over HTTP) over a temp vault. */

export interface Harness {
  v: TempVault;
  ollama: OllamaDouble;
  config: RuntimeConfig;
  router: Router;
  metrics: Metrics;
  log: ReturnType<typeof memoryLogger>;
  notices: { completed: JobNotice[]; failed: JobNotice[]; held: JobHeldNotice[] };
  outcomes: JobOutcome[];
  worker: Worker;
  /** Starts (or restarts, with a fresh worker over the same vault and ledger) the worker. */
  start(worker?: Parameters<typeof testConfig>[0]['worker']): Promise<Worker>;
  /** Resolves once `total` outcomes have been reported since the harness started. */
  settled(total: number, timeoutMs?: number): Promise<JobOutcome[]>;
  logs(level?: LogRecord['level']): LogRecord[];
  close(): Promise<void>;
}

export async function startHarness(worker: Parameters<typeof testConfig>[0]['worker'] = {}): Promise<Harness> {
  const v = await makeVault();
  const ollama = await startOllama({ answer: echoAnswer });
  const log = memoryLogger();
  const notices: Harness['notices'] = { completed: [], failed: [], held: [] };
  const notifier: JobNotifier = {
    jobCompleted: (n) => void notices.completed.push(n),
    jobFailed: (n) => void notices.failed.push(n),
    jobHeld: (n) => void notices.held.push(n),
  };
  const outcomes: JobOutcome[] = [];
  const metrics = createMetrics();
  const h: Harness = {
    v,
    ollama,
    log,
    notices,
    outcomes,
    metrics,
    config: undefined as unknown as RuntimeConfig,
    router: undefined as unknown as Router,
    worker: undefined as unknown as Worker,
    async start(w = worker) {
      if (h.worker) await h.worker.stop();
      h.config = await testConfig({ root: v.root, vault: v.vault, dataDir: v.dataDir, ollamaUrl: ollama.url, worker: w });
      h.router = new Router({ config: h.config, log, metrics });
      h.worker = createWorker({
        config: h.config,
        router: h.router,
        ...(await openWorkerParts(h.config, { log })),
        notifier,
        log,
        metrics,
        gaugeIntervalMs: 100,
        onOutcome: (o) => outcomes.push(o),
      });
      await h.worker.start();
      return h.worker;
    },
    async settled(total, timeoutMs = 15_000) {
      await waitFor(() => outcomes.length >= total, `${total} job outcome(s)`, timeoutMs);
      return outcomes.slice(0, total);
    },
    logs(level) {
      return level ? log.records.filter((r) => r.level === level) : log.records;
    },
    async close() {
      await h.worker?.stop();
      await ollama.close();
      await v.cleanup();
    },
  };
  return h;
}
