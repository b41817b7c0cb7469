import { join, resolve } from 'node:path';
import type { Env, RuntimeConfig } from '../config/index.js';
import type { Router } from '../router/index.js';
import type { AgentServices } from './index.js';
import { MemoryAgent } from './memory.js';

/*
 * The agents as the worker service runs them. Retrieval's stores are opened for each run and
 * closed after it, so an idle worker holds no Bolt session or index file; a store the model
 * configures but cannot reach fails that job with the store's own code (CONFIG_INVALID when the
 * model names Qdrant or Neo4j without the service, RAG_STORE_ERROR when it does not answer).
 */
export function workerAgents(
  config: RuntimeConfig,
  router: Router,
  env: Env,
  jobs?: { completedSince(since: number, limit: number): { output: string }[] },
): AgentServices {
  return {
    reindex: async (signal) => {
      const { createRag } = await import('../rag/service.js');
      const rag = await createRag(config, router, env);
      try {
        return await rag.indexer.run({ signal });
      } finally {
        await rag.close();
      }
    },
    memory: new MemoryAgent({
      vaultPath: resolve(config.vault.path),
      outputsFolder: config.vault.folders.outputs,
      // The web service's chat history, on the data volume the two services share.
      chatDb: join(config.dataDir, 'chat.db'),
      openGraph: async () => (await import('../rag/service.js')).createGraphStore(config),
      fuzzyThreshold: config.retrieval.entities.fuzzyThreshold,
      ...(jobs ? { jobs } : {}),
    }),
  };
}
