import type { Env, RuntimeConfig } from '../config/index.js';
import { RuntimeError } from '../errors.js';
import type { Router } from '../router/index.js';
import { OnnxEmbedder, RemoteEmbedder, defaultModelsDir } from './embedder.js';
import { Indexer } from './indexer.js';
import { routerCompleter } from './llm.js';
import { Retriever } from './retriever.js';
import { SqliteGraphStore } from './stores/sqlite-graph.js';
import { SqliteVectorIndex } from './stores/sqlite-vector.js';
import type { Completer, Embedder, GraphStore, VectorIndex } from './types.js';

/*
 * Builds the retrieval parts the model asks for: stores (embedded SQLite by default, Qdrant and
 * Neo4j when configured), the embedder (Ollama through the router, or in-process ONNX) and the
 * model that extracts entities, decomposes questions and answers.
 */

export interface RagParts {
  readonly vectors: VectorIndex;
  readonly graph: GraphStore;
  readonly embedder: Embedder;
  readonly llm: Completer;
  readonly indexer: Indexer;
  readonly retriever: Retriever;
  close(): Promise<void>;
}

export async function createVectorIndex(config: RuntimeConfig): Promise<VectorIndex> {
  const s = config.retrieval.stores;
  if (s.vector === 'embedded') return SqliteVectorIndex.inDataDir(config.dataDir);
  const url = config.services.qdrantUrl;
  if (url === undefined) {
    throw new RuntimeError(
      'CONFIG_INVALID',
      'retrieval.stores.vector is qdrant, but the model runs no qdrant service (runtime.json has no services.qdrantUrl)',
      {
        hint: 'add a qdrant service to platform.yaml and run `make render`, or set retrieval.stores.vector: embedded',
      },
    );
  }
  const { QdrantVectorIndex } = await import('./stores/qdrant-vector.js');
  return new QdrantVectorIndex({
    url,
    collection: s.qdrantCollection,
    ...(config.secrets.rag.qdrantApiKey ? { apiKey: config.secrets.rag.qdrantApiKey } : {}),
  });
}

export async function createGraphStore(config: RuntimeConfig): Promise<GraphStore> {
  const s = config.retrieval.stores;
  if (s.graph === 'embedded') return SqliteGraphStore.inDataDir(config.dataDir);
  const password = config.secrets.rag.neo4jPassword;
  if (!password) {
    throw new RuntimeError('CONFIG_INVALID', `${s.neo4jPasswordSecret} is not set, and retrieval.stores.graph is neo4j`, {
      hint: `set ${s.neo4jPasswordSecret}, or retrieval.stores.graph: embedded`,
    });
  }
  const url = config.services.neo4jUri;
  if (url === undefined) {
    throw new RuntimeError(
      'CONFIG_INVALID',
      'retrieval.stores.graph is neo4j, but the model runs no neo4j service (runtime.json has no services.neo4jUri)',
      {
        hint: 'add a neo4j service to platform.yaml and run `make render`, or set retrieval.stores.graph: embedded',
      },
    );
  }
  const { Neo4jGraphStore } = await import('./stores/neo4j-graph.js');
  return new Neo4jGraphStore({ url, user: s.neo4jUser, password });
}

export function createEmbedder(config: RuntimeConfig, router: Router, env: Env): Embedder {
  if (config.retrieval.embedder === 'onnx') return new OnnxEmbedder(defaultModelsDir(env));
  const { model, dimensions } = config.routing.embedding;
  return new RemoteEmbedder(model, dimensions, (texts) => router.embed(texts));
}

export async function createRag(config: RuntimeConfig, router: Router, env: Env): Promise<RagParts> {
  const modelId = config.retrieval.entities.model ?? config.routing.default;
  if (!config.routing.models.some((m) => m.id === modelId)) {
    throw new RuntimeError('CONFIG_INVALID', `retrieval.entities.model "${modelId}" is not a route in routing.models`, {
      hint: 'name a routing.models id',
    });
  }
  const vectors = await createVectorIndex(config);
  const graph = await createGraphStore(config);
  const embedder = createEmbedder(config, router, env);
  const llm = routerCompleter(router, modelId);
  const settings = config.retrieval;
  const f = config.vault.folders;
  const indexer = new Indexer({
    vaultDir: config.vault.path,
    dataDir: config.dataDir,
    settings,
    folders: { queue: f.queue, active: f.active, completed: f.completed, failed: f.failed, outputs: f.outputs },
    vectors,
    graph,
    embedder,
    llm,
  });
  const retriever = new Retriever({ vectors, graph, embedder, settings, llm });
  return {
    vectors,
    graph,
    embedder,
    llm,
    indexer,
    retriever,
    close: async () => {
      indexer.close();
      await vectors.close();
      await graph.close();
    },
  };
}
