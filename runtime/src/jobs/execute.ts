import { RuntimeError } from '../errors.js';
import type { ChatMessage } from '../providers/types.js';
import type { RateLimitNotice, Router } from '../router/index.js';
import type { JobDocument } from './document.js';
import type { JobType } from './schema.js';

/*
 * Running a parsed job against the router: text is one call, chain is a conversation that grows
 * step by step, research needs the MCP tool server, which this worker does not have.
 */

/** What the worker needs from the router: one streamed chat in job mode. */
export type ChatRouter = Pick<Router, 'chat'>;

export interface StepResult {
  model: string;
  prompt: string;
  answer: string;
  tokensIn: number;
  tokensOut: number;
}

export interface ExecutionResult {
  type: JobType;
  /** The job's model (chain: the first step's). */
  model: string;
  steps: StepResult[];
  /** The final answer (chain: the last step's). */
  answer: string;
  tokensIn: number;
  tokensOut: number;
}

export interface ExecuteOptions {
  router: ChatRouter;
  /** Recorded on the router's usage rows. */
  jobId: string;
  defaultModel: string;
  /** The system prompt built from the job's `system` and its skills. */
  system: string | undefined;
  signal: AbortSignal;
  onRateLimited?: (notice: RateLimitNotice) => void;
}

export async function executeJob(doc: JobDocument, opts: ExecuteOptions): Promise<ExecutionResult> {
  const fm = doc.frontmatter;
  const jobModel = fm.model ?? opts.defaultModel;
  if (fm.type === 'research') {
    throw new RuntimeError('MCP_UNAVAILABLE', 'the MCP tool server is not available; research jobs need it', {
      hint: 'run the job as type text or chain, or run it once the MCP tool server is deployed for the worker',
    });
  }
  const prompts: { prompt: string; model: string }[] =
    fm.type === 'chain'
      ? (fm.steps ?? []).map((s, i) => ({
          // The body, when there is one, is the context the first step works on.
          prompt: i === 0 && doc.prompt ? `${doc.prompt}\n\n${s.prompt}` : s.prompt,
          model: s.model ?? jobModel,
        }))
      : [{ prompt: doc.prompt, model: jobModel }];

  const messages: ChatMessage[] = [];
  const steps: StepResult[] = [];
  for (const p of prompts) {
    messages.push({ role: 'user', content: p.prompt });
    const out = await callOnce(opts, p.model, [...messages]);
    steps.push({ model: p.model, prompt: p.prompt, ...out });
    messages.push({ role: 'assistant', content: out.answer });
  }
  const last = steps[steps.length - 1]!;
  return {
    type: fm.type,
    model: steps[0]!.model,
    steps,
    answer: last.answer,
    tokensIn: steps.reduce((n, s) => n + s.tokensIn, 0),
    tokensOut: steps.reduce((n, s) => n + s.tokensOut, 0),
  };
}

async function callOnce(
  opts: ExecuteOptions,
  model: string,
  messages: ChatMessage[],
): Promise<{ answer: string; tokensIn: number; tokensOut: number }> {
  const req = { model, messages, ...(opts.system ? { system: opts.system } : {}) };
  let answer = '';
  let tokensIn = 0;
  let tokensOut = 0;
  const stream = opts.router.chat(model, req, {
    signal: opts.signal,
    mode: 'job',
    jobId: opts.jobId,
    onRateLimited: (notice) => opts.onRateLimited?.(notice),
  });
  for await (const ev of stream) {
    if (ev.type === 'text') answer += ev.delta;
    else if (ev.type === 'usage') {
      tokensIn += ev.usage.inputTokens;
      tokensOut += ev.usage.outputTokens;
    } else if (ev.type === 'done') {
      if (ev.reason === 'aborted' || opts.signal.aborted) throw abortError();
      if (ev.reason === 'error') throw new RuntimeError('PROVIDER_ERROR', `the provider ended the answer for ${model} with an error`, { hint: 'move the job file back to the queue to run it again; the worker log has the provider\'s error' });
    }
  }
  if (opts.signal.aborted) throw abortError();
  return { answer, tokensIn, tokensOut };
}

export class JobAbortedError extends Error {
  override readonly name = 'JobAbortedError';
}

function abortError(): JobAbortedError {
  return new JobAbortedError('the job was aborted by shutdown');
}
