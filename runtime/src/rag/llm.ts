import { RuntimeError } from '../errors.js';
import type { ChatEvent, ChatRequest, LlmProvider } from '../providers/types.js';
import type { Router } from '../router/index.js';
import type { Completer } from './types.js';

/*
 * Text-in, text-out model calls for retrieval (entity extraction, decomposition, answers), over
 * the router in production (routing, health gating and usage rows stay in one place) or over one
 * provider directly. Answers are bounded: a model that rambles is cut, not buffered forever.
 */

const MAX_ANSWER_CHARS = 64_000;

async function collect(events: AsyncIterable<ChatEvent>): Promise<string> {
  let out = '';
  for await (const ev of events) {
    if (ev.type === 'text') {
      out += ev.delta;
      if (out.length > MAX_ANSWER_CHARS) break;
    }
  }
  return out.slice(0, MAX_ANSWER_CHARS);
}

export function routerCompleter(router: Router, modelId: string): Completer {
  return {
    complete: ({ system, user, signal }) =>
      collect(
        router.chat(
          modelId,
          { system, messages: [{ role: 'user', content: user }], temperature: 0 },
          { mode: 'job', ...(signal ? { signal } : {}) },
        ),
      ),
  };
}

export function providerCompleter(provider: LlmProvider, model: string, timeoutMs: number): Completer {
  return {
    complete: ({ system, user, signal }) => {
      const req: ChatRequest = { model, system, messages: [{ role: 'user', content: user }], temperature: 0 };
      return collect(provider.chat(req, { timeoutMs, ...(signal ? { signal } : {}) }));
    },
  };
}

export function noModel(why: string): Completer {
  return {
    complete: () =>
      Promise.reject(new RuntimeError('RAG_UNAVAILABLE', why, { hint: 'set retrieval.entities.model to a route id in platform.yaml' })),
  };
}
