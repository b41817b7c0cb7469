import type { IndexStats } from '../rag/indexer.js';
import type { MemoryAgent } from './memory.js';

/*
 * The built-in agents a worker can run as job types: memory (a model call whose answer becomes
 * notes and graph facts) and reindex (the incremental retrieval index, no model call). The
 * composition root builds them; a worker without one fails that job type with a clear code.
 */

export interface AgentServices {
  readonly memory?: MemoryAgent;
  /** Runs the incremental retrieval index once; stops between notes when the signal aborts. */
  readonly reindex?: (signal: AbortSignal) => Promise<IndexStats>;
}

export { MemoryAgent, MEMORY_SYSTEM, MemoryAnswerSchema, parseMemoryAnswer, type MemoryAgentDeps, type MemoryResult } from './memory.js';
export { diffLines, renderChanges, type DiffLine } from './line-diff.js';
export { ensureVaultFolder } from './folder.js';
