/*
 * The one interface every LLM provider adapter implements, and the events a stream yields.
 * Usage is normalised across providers so the store, telemetry and outputs need not care.
 */

export type Role = 'system' | 'user' | 'assistant' | 'tool';

export interface ChatMessage {
  role: Role;
  content: string;
  /** For role "tool": the call this answers. */
  toolCallId?: string;
  /** For role "tool": the function that call named (Ollama matches answers by name). */
  toolName?: string;
  /** For role "assistant": tool calls it made. */
  toolCalls?: ToolCall[];
}

export interface ToolSpec {
  name: string;
  description: string;
  /** JSON Schema of the arguments. */
  parameters: Record<string, unknown>;
}

export interface ToolCall {
  id: string;
  name: string;
  arguments: Record<string, unknown>;
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  system?: string;
  tools?: ToolSpec[];
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  /** Sequences that end the answer (at most 4, as the OpenAI API allows). */
  stop?: string[];
  /** How the model may use `tools`; undefined = the provider's default (auto). */
  toolChoice?: ToolChoice;
  /** Ask for a JSON object answer; only providers with a JSON mode accept it. */
  responseFormat?: 'json_object';
}

export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  /** Milliseconds from request start to the first text delta; undefined if none arrived. */
  timeToFirstTokenMs?: number;
  durationMs: number;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'aborted' | 'error';

export type ChatEvent =
  | { type: 'text'; delta: string }
  | { type: 'tool_call'; call: ToolCall }
  | { type: 'usage'; usage: Usage }
  | { type: 'done'; reason: FinishReason };

export interface StreamOptions {
  signal?: AbortSignal;
  /** Pinned per provider/route; the adapter aborts the request past it with a PROVIDER_TIMEOUT error. */
  timeoutMs: number;
}

export interface HealthStatus {
  ok: boolean;
  /** Why not, in words a person can act on. */
  reason?: string;
  latencyMs: number;
}

export interface LlmProvider {
  /** "ollama", "anthropic", "groq", "gemini". */
  readonly kind: string;
  /** Streams one chat completion. Errors are thrown as RuntimeError with a provider code. */
  chat(req: ChatRequest, opts: StreamOptions): AsyncIterable<ChatEvent>;
  embed(model: string, input: string[], opts: StreamOptions): Promise<number[][]>;
  health(timeoutMs: number): Promise<HealthStatus>;
}
