import type { RuntimeRoute } from '../config/index.js';
import type { RuntimeError } from '../errors.js';

/*
 * The router's public shapes, shared by its parts (health, retry, recording) and its callers.
 */

export type ChatMode = 'chat' | 'job';

// A type alias (not an interface) so it fits callbacks typed with an index signature.
export type RateLimitNotice = {
  provider: string;
  model: string;
  /** 1 for the first retry. */
  attempt: number;
  maxRetries: number;
  /** What the provider asked for, when it said. */
  retryAfterMs: number | undefined;
  /** How long the router waits before the retry. */
  waitMs: number;
  error: RuntimeError;
};

export interface RouterChatOptions {
  signal?: AbortSignal;
  mode: ChatMode;
  /** Job mode: called before each wait, so the caller can say the job is held. */
  onRateLimited?: (notice: RateLimitNotice) => void;
  /** Recorded on the usage row. */
  jobId?: string;
  sessionId?: string;
  /** Who asked (recorded on the usage row and the span). */
  client?: string;
  /** The API token the request came in on. */
  tokenId?: string;
}

export interface EmbedOptions {
  signal?: AbortSignal;
  mode?: ChatMode;
  client?: string;
  tokenId?: string;
}

export interface ModelInfo {
  id: string;
  label: string;
  purpose: string;
  provider: RuntimeRoute['provider'];
  host?: string;
  healthGated: boolean;
  isDefault: boolean;
  available: boolean;
  reason?: string;
}

export type HostState = 'unknown' | 'up' | 'down';

export interface HostStatus {
  host: string;
  url: string;
  state: HostState;
  reason?: string;
  /** ms since epoch of the last check. */
  checkedAt?: number;
  latencyMs?: number;
}

export interface HostStateChange {
  provider: 'ollama';
  host: string;
  url: string;
  previous: HostState;
  state: Exclude<HostState, 'unknown'>;
  reason?: string;
  at: Date;
}
