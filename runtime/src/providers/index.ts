export type * from './types.js';
export { OllamaProvider, type OllamaProviderProps } from './ollama.js';
export { AnthropicProvider, type AnthropicProviderProps } from './anthropic.js';
export { OpenAiCompatibleProvider, type OpenAiCompatibleProviderProps } from './openai-compatible.js';
export { parseDuration, parseRetryAfter, retryDelayFromBody, retryHint, type RetryHint } from './retry-hint.js';
export { parseSse, type SseEvent } from './sse.js';
