import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workerAgents } from '../../runtime/src/agents/services.js';
import { loadConfig, type RuntimeConfig } from '../../runtime/src/config/index.js';
import type { JobOutcome } from '../../runtime/src/jobs/process.js';
import { memoryLogger } from '../../runtime/src/log.js';
import { Neo4jGraphStore } from '../../runtime/src/rag/stores/neo4j-graph.js';
import { Router } from '../../runtime/src/router/index.js';
import { createWorker, type Worker } from '../../runtime/src/worker/index.js';
import { openWorkerParts } from '../../runtime/src/worker/parts.js';
import { writeTestConfig } from '../doubles/config.js';
import { startOllama, type OllamaDouble } from '../doubles/ollama.js';
import { startNeo4j, type RealNeo4j } from '../helpers/neo4j.js';
import { makeVault, waitFor, type TempVault } from '../runtime/helpers/vault.js';

/*
 * The memory agent's facts in a real Neo4j (retrieval.stores.graph: neo4j), through the worker:
 * entities resolved against what the graph already knows, so a second run joins the same nodes.
 */

let neo: RealNeo4j;
let ollama: OllamaDouble;
let v: TempVault;
let worker: Worker | undefined;

beforeAll(async () => {
  neo = await startNeo4j();
  ollama = await startOllama();
  v = await makeVault();
}, 240_000);

afterAll(async () => {
  await worker?.stop();
  await ollama?.close();
  await neo?.stop();
  await v?.cleanup();
});

describe('memory facts in Neo4j', () => {
  it('writes relations between resolved entities, and a later run reuses them', async () => {
    const written = await writeTestConfig({
      root: v.root,
      vault: v.vault,
      dataDir: v.dataDir,
      ollamaUrl: ollama.url,
      worker: { mtimeGuardMs: 50, rescanMs: 100 },
    });
    // The test server runs without auth; the driver still sends the configured secret.
    const base = loadConfig({ ...written.env, NEO4J_PASSWORD: 'no-auth-here' });
    const config: RuntimeConfig = {
      ...base,
      services: { ...base.services, neo4jUri: neo.boltUrl },
      retrieval: { ...base.retrieval, stores: { ...base.retrieval.stores, graph: 'neo4j', vector: 'embedded' } },
    };
    const log = memoryLogger();
    const router = new Router({ config, log });
    const outcomes: JobOutcome[] = [];
    worker = createWorker({
      config,
      router,
      ...(await openWorkerParts(config, { log })),
      log,
      agents: workerAgents(config, router, {}),
      onOutcome: (o) => outcomes.push(o),
    });
    await worker.start();
    const since = new Date(Date.now() - 3600_000).toISOString();
    const answers = [
      {
        notes: [],
        facts: [{ subject: 'Project X', subject_type: 'project', relation: 'USES', object: 'Neo4j', object_type: 'technology' }],
      },
      { notes: [], facts: [{ subject: 'project x', relation: 'DEPLOYED_ON', object: 'Contabo VPS', object_type: 'place' }] },
    ];
    for (const [i, answer] of answers.entries()) {
      await writeFile(join(v.dir('outputs'), `out-${i}.md`), `---\ntype: text\n---\n\nrun ${i}\n`);
      ollama.respond = () => ({ chunks: [JSON.stringify(answer)] });
      await v.drop(`mem-${i}.md`, `---\nid: mem-${i}\ntype: memory\noutput: memory\nsince: "${since}"\n---\n`);
      await waitFor(() => outcomes.length > i, `memory job ${i}`, 30_000);
      expect(outcomes[i]!.status, outcomes[i]!.error?.message).toBe('completed');
    }
    const graph = new Neo4jGraphStore({ url: neo.boltUrl });
    try {
      const names = (await graph.entities()).map((e) => e.name).sort();
      // "project x" resolved to the "Project X" the first run wrote: three entities, not four.
      expect(names).toEqual(['Contabo VPS', 'Neo4j', 'Project X']);
      expect(await graph.stats()).toMatchObject({ entities: 3, relations: 2 });
      const hits = await graph.neighbourhood({ entityKeys: ['neo4j'], notePaths: [] }, 2, 10);
      expect(hits.map((h) => h.chunkId).sort()).toEqual(['memory:mem-0#facts', 'memory:mem-1#facts']);
    } finally {
      await graph.close();
    }
  }, 120_000);
});
