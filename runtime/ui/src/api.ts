/* The control panel's view of the web API: typed fetches that throw the server's {code, message}. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

const TOKEN_KEY = 'runtime.apiToken';

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = localStorage.getItem(TOKEN_KEY);
  return { ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra };
}

export async function api<T>(method: string, url: string, body?: unknown): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: headers(body !== undefined ? { 'content-type': 'application/json' } : {}),
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: unknown = text;
  try {
    data = JSON.parse(text);
  } catch {
    // not JSON
  }
  if (!res.ok) {
    const e = (data ?? {}) as { code?: string; message?: string; hint?: string };
    throw new ApiError(res.status, e.code ?? 'HTTP_ERROR', e.message ?? `HTTP ${res.status}`, e.hint);
  }
  return data as T;
}

export interface Model {
  id: string;
  label: string;
  purpose: string;
  provider: string;
  available: boolean;
  reason?: string;
  isDefault: boolean;
}

export interface ModelsAnswer {
  default: string;
  models: Model[];
  retrieval: { available: boolean; code: string; reason: string };
  skills: { name: string; description: string }[];
}

export interface Session {
  id: string;
  title: string;
  model: string;
  system: string;
  skills: string[];
  useVault: boolean;
  headId: string | null;
  updatedAt: string;
}

export interface Message {
  id: string;
  parentId: string | null;
  role: 'user' | 'assistant';
  content: string;
  model: string | null;
  status: 'complete' | 'streaming' | 'stopped' | 'error' | 'interrupted';
  errorCode: string | null;
  errorMessage: string | null;
  tokensIn: number | null;
  tokensOut: number | null;
  ttftMs: number | null;
  durationMs: number | null;
  siblings: string[];
}

export interface GenerationInfo {
  id: string;
  sessionId: string;
  messageId: string;
  status: 'running' | 'complete' | 'stopped' | 'error';
}

export interface SessionView {
  session: Session;
  messages: Message[];
  generation: GenerationInfo | null;
}

export interface Started {
  generation: GenerationInfo;
  assistantMessage: Message;
  events: string;
}

export interface SearchHit {
  kind: 'title' | 'message';
  sessionId: string;
  sessionTitle: string;
  messageId: string | null;
  snippet: { text: string; hit: boolean }[];
}

export interface Health {
  status: 'ok' | 'degraded' | 'starting';
  dependencies: { name: string; state: string; reason: string | null; latencyMs: number | null }[];
}

export type JobState = 'queued' | 'active' | 'completed' | 'failed';

export interface JobSummary {
  name: string;
  state: JobState;
  id: string | null;
  title: string | null;
  model: string | null;
  modifiedAt: string;
}

export type JobLists = Record<JobState, JobSummary[]> & { counts: Record<JobState, number> };

/** A schedule as /api/schedules shows it: its next runs and how its last slot went. */
export interface ScheduleRuns {
  name: string;
  cron: string;
  timezone: string;
  enabled: boolean;
  next: string[];
  last?: string;
  lastStatus?: string;
  /** Where the last slot's job is now: queued, running, completed, failed (or skipped). */
  lastOutcome?: string;
}

export interface JobDetail extends JobSummary {
  frontmatter: Record<string, unknown> | null;
  prompt: string;
  sections: { heading: string; body: string }[];
  failureReason: string | null;
  invalid: string | null;
  output: { path: string; markdown: string; meta: Record<string, unknown> } | null;
}

export { headers as authHeaders };
