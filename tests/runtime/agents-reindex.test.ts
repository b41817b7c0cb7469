import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { workerAgents } from '../../runtime/src/agents/services.js';
import { loadConfig, type RuntimeConfig } from '../../runtime/src/config/index.js';
import type { JobOutcome } from '../../runtime/src/jobs/process.js';
import { memoryLogger } from '../../runtime/src/log.js';
import { SqliteVectorIndex } from '../../runtime/src/rag/stores/sqlite-vector.js';
import { Router } from '../../runtime/src/router/index.js';
import { ScheduleLedger } from '../../runtime/src/schedule/index.js';
import { createMetrics } from '../../runtime/src/telemetry/metrics.js';
import { createWorker, type Worker } from '../../runtime/src/worker/index.js';
import { openWorkerParts } from '../../runtime/src/worker/parts.js';
import { writeTestConfig } from '../doubles/config.js';
import { startOllama, type OllamaDouble } from '../doubles/ollama.js';
import { makeVault, waitFor, type TempVault } from './helpers/vault.js';

/*
 * The nightly re-index as a schedule: the worker's scheduler drops a reindex job at its slot, the
 * worker runs the retrieval indexer in-process (embedded SQLite stores, embeddings from the Ollama
 * double over HTTP), no chat model is called, and a second run is incremental.
 */

let v: TempVault | undefined;
let ollama: OllamaDouble | undefined;
let worker: Worker | undefined;

afterEach(async () => {
  await worker?.stop();
  await ollama?.close();
  await v?.cleanup();
  worker = ollama = v = undefined;
});

async function start(edit: (c: RuntimeConfig) => RuntimeConfig, now?: () => number) {
  v = await makeVault();
  ollama = await startOllama({ dimensions: 768 });
  const written = await writeTestConfig({
    root: v.root,
    vault: v.vault,
    dataDir: v.dataDir,
    ollamaUrl: ollama.url,
    worker: { mtimeGuardMs: 50, rescanMs: 100 },
  });
  const base = loadConfig(written.env);
  const config = edit({
    ...base,
    retrieval: {
      ...base.retrieval,
      embedder: 'ollama',
      stores: { ...base.retrieval.stores, vector: 'embedded', graph: 'embedded' },
      entities: { ...base.retrieval.entities, extract: false },
    },
    schedules: [
      {
        name: 'reindex',
        cron: '0 3 * * *',
        timezone: 'Europe/London',
        enabled: true,
        catchUp: 'once',
        job: { type: 'reindex', skills: [], title: 'Nightly re-index' },
      },
    ],
  });
  const log = memoryLogger();
  const router = new Router({ config, log });
  const outcomes: JobOutcome[] = [];
  const metrics = createMetrics();
  worker = createWorker({
    config,
    router,
    ...(await openWorkerParts(config, { log })),
    log,
    metrics,
    agents: workerAgents(config, router, {}),
    ...(now ? { now } : {}),
    onOutcome: (o) => outcomes.push(o),
  });
  return { config, outcomes, metrics };
}

describe('the reindex agent', () => {
  it('runs at its slot, once, through the queue; the next run is incremental', async () => {
    const slot = Date.parse('2026-12-02T03:00:00Z');
    const { outcomes, metrics } = await start(
      (c) => c,
      () => slot + 4_000,
    );
    const vault = v!;
    await mkdir(join(vault.vault, 'notes'), { recursive: true });
    await writeFile(join(vault.vault, 'notes/a.md'), '# Alpha\n\nAlpha links to [[b]].\n');
    await writeFile(join(vault.vault, 'notes/b.md'), '# Beta\n\nBeta is the second note.\n');
    const seen = new ScheduleLedger(join(vault.dataDir, 'jobs.db'));
    seen.firstSeen('reindex', slot - 86_400_000);
    seen.close();
    await worker!.start();
    await waitFor(() => outcomes.length >= 1, 'the reindex job', 20_000);
    expect(
      outcomes.map((o) => `${o.status} ${o.jobId} ${o.type}`),
      outcomes[0]!.error?.message,
    ).toEqual(['completed sched-reindex-20261202T0300Z reindex']);
    expect(outcomes[0]!.tokensIn).toBe(0);
    const report = await readFile(join(vault.vault, outcomes[0]!.output!), 'utf8');
    expect(report).toContain('type: reindex');
    expect(report).toMatch(/indexed 2 notes \(\d+ chunks\), 0 unchanged, 0 removed/);
    // Embeddings only: no chat model was called.
    expect(ollama!.chats).toHaveLength(0);
    expect(ollama!.requests.filter((r) => r.path === '/api/embed').length).toBeGreaterThan(0);
    expect(metrics.value('platform_schedule_runs_total', { schedule: 'reindex', outcome: 'enqueued' })).toBe(1);
    const vectors = SqliteVectorIndex.inDataDir(vault.dataDir);
    expect(await vectors.count()).toBeGreaterThanOrEqual(2);
    await vectors.close();

    // Run by hand: one note changed, one unchanged.
    await writeFile(join(vault.vault, 'notes/b.md'), '# Beta\n\nBeta changed.\n');
    await vault.drop('reindex-again.md', '---\ntype: reindex\n---\nagain\n');
    await waitFor(() => outcomes.length >= 2, 'the second reindex job', 20_000);
    expect(outcomes[1]!.status, outcomes[1]!.error?.message).toBe('completed');
    expect(await readFile(join(vault.vault, outcomes[1]!.output!), 'utf8')).toMatch(/indexed 1 notes \(\d+ chunks\), 1 unchanged/);
  });

  it('fails with the existing clear code when retrieval names a store the model does not run', async () => {
    const { outcomes } = await start((c) => ({
      ...c,
      schedules: [],
      retrieval: { ...c.retrieval, stores: { ...c.retrieval.stores, vector: 'qdrant' } },
      services: { ...c.services, qdrantUrl: undefined },
    }));
    await worker!.start();
    await v!.drop('reindex.md', '---\ntype: reindex\n---\n');
    await waitFor(() => outcomes.length >= 1, 'the reindex job', 20_000);
    expect(outcomes[0]!.status).toBe('failed');
    expect(outcomes[0]!.error?.code).toBe('CONFIG_INVALID');
    expect(outcomes[0]!.error?.message).toContain('retrieval.stores.vector is qdrant, but the model runs no qdrant service');
    const failed = await v!.read('failed', (await v!.list('failed'))[0]!);
    expect(failed).toContain('`CONFIG_INVALID`');
  });
});
