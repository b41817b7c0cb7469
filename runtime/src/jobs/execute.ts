import type { AgentServices } from '../agents/index.js';
import { RuntimeError } from '../errors.js';
import type { ChatMessage } from '../providers/types.js';
import type { RateLimitNotice, Router } from '../router/index.js';
import type { JobDocument } from './document.js';
import type { ResearchSettings } from '../mcp/research.js';
import type { JobType } from './schema.js';

/*
 * Running a parsed job against the router: text is one call, chain is a conversation that grows
 * step by step, research is a tool-calling loop against the MCP tool server (mcp/research.ts).
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
  /** The MCP server research jobs use; without it they fail with MCP_UNAVAILABLE. */
  research?: ResearchSettings;
  /** Bounds from the model (vault.worker); absent bounds are not enforced here. */
  limits?: ExecuteLimits;
  /** The built-in agents (memory, reindex); without one, its job type fails with RAG_UNAVAILABLE. */
  agents?: AgentServices;
  /** Clock, for the memory agent's default window. */
  now?: () => number;
}

export interface ExecuteLimits {
  /** Characters one call may stream; past it the call is cut and the job fails (ANSWER_TOO_LARGE). */
  readonly maxAnswerChars?: number;
  /** A call with no first token by then is cut (PROVIDER_TIMEOUT), freeing its slot. */
  readonly firstTokenTimeoutMs?: number;
  /** A stream silent this long between events is cut (PROVIDER_TIMEOUT). */
  readonly idleTimeoutMs?: number;
  /** The whole job, every step, is cut after this long (PROVIDER_TIMEOUT). */
  readonly jobTimeoutMs?: number;
}

export async function executeJob(doc: JobDocument, opts: ExecuteOptions): Promise<ExecutionResult> {
  const fm = doc.frontmatter;
  const jobModel = fm.model ?? opts.defaultModel;
  if (fm.type === 'research') {
    if (!opts.research) {
      throw new RuntimeError('MCP_UNAVAILABLE', 'the MCP tool server is not available; research jobs need it', {
        hint: 'run the job as type text or chain, or give the worker the MCP server (services.mcpUrl and MCP_AUTH_TOKEN)',
      });
    }
    const { runResearch, jobResearchSettings } = await import('../mcp/research.js');
    const settings = jobResearchSettings(opts.research, (fm as Record<string, unknown>).research);
    const r = await runResearch(doc.prompt, {
      router: opts.router,
      model: jobModel,
      jobId: opts.jobId,
      system: opts.system,
      signal: opts.signal,
      settings,
      ...(opts.onRateLimited ? { onRateLimited: opts.onRateLimited } : {}),
    });
    const max = opts.limits?.maxAnswerChars;
    if (max !== undefined && r.answer.length > max) {
      throw new RuntimeError('ANSWER_TOO_LARGE', `the research answer is ${r.answer.length} characters; at most ${max} are kept`, {
        hint: 'ask a narrower question or raise vault.worker.maxAnswerChars in platform.yaml',
      });
    }
    return { type: 'research', model: jobModel, steps: r.steps, answer: r.answer, tokensIn: r.tokensIn, tokensOut: r.tokensOut };
  }
  if (fm.type === 'reindex') return runReindex(opts);
  if (fm.type === 'memory') return runMemory(doc, jobModel, opts);
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
  // The job's own signal: the caller's (shutdown) plus the job's total time.
  const job = new Cutter(opts.signal);
  const total = opts.limits?.jobTimeoutMs;
  if (total !== undefined)
    job.arm(
      total,
      () =>
        new RuntimeError('PROVIDER_TIMEOUT', `the job did not finish within ${total} ms (all steps)`, {
          hint: 'raise vault.worker.jobTimeoutSeconds in platform.yaml or split the job',
        }),
    );
  try {
    for (const p of prompts) {
      messages.push({ role: 'user', content: p.prompt });
      const out = await callOnce({ ...opts, signal: job.signal }, p.model, [...messages], job, opts.signal);
      steps.push({ model: p.model, prompt: p.prompt, ...out });
      messages.push({ role: 'assistant', content: out.answer });
    }
  } finally {
    job.dispose();
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

async function runReindex(opts: ExecuteOptions): Promise<ExecutionResult> {
  const reindex = opts.agents?.reindex;
  if (!reindex) {
    throw new RuntimeError('RAG_UNAVAILABLE', 'retrieval is not available to this worker; reindex jobs run the retrieval indexer', {
      hint: 'run the worker with retrieval configured (retrieval: in platform.yaml), or run `runtime index` by hand',
    });
  }
  const { summary } = await import('../rag/commands.js');
  const stats = await reindex(opts.signal);
  if (stats.interrupted && opts.signal.aborted) throw abortError();
  return { type: 'reindex', model: 'none', steps: [], answer: summary(stats), tokensIn: 0, tokensOut: 0 };
}

async function runMemory(doc: JobDocument, model: string, opts: ExecuteOptions): Promise<ExecutionResult> {
  const agent = opts.agents?.memory;
  if (!agent) {
    throw new RuntimeError('RAG_UNAVAILABLE', 'retrieval is not available to this worker; the memory agent writes graph facts', {
      hint: 'run the worker with retrieval configured (retrieval: in platform.yaml), or disable the memory schedule',
    });
  }
  const fm = doc.frontmatter;
  const now = (opts.now ?? Date.now)();
  const since = fm.since !== undefined ? Date.parse(fm.since) : now - 24 * 3600_000;
  const job = new Cutter(opts.signal);
  const total = opts.limits?.jobTimeoutMs;
  if (total !== undefined)
    job.arm(
      total,
      () =>
        new RuntimeError('PROVIDER_TIMEOUT', `the memory job did not finish within ${total} ms`, {
          hint: 'raise vault.worker.jobTimeoutSeconds in platform.yaml',
        }),
    );
  const steps: StepResult[] = [];
  try {
    const r = await agent.run(
      // The schema requires output for memory jobs; the fallback keeps the type checker honest.
      { jobId: opts.jobId, since, folder: fm.output ?? 'memory', instructions: doc.prompt, signal: job.signal },
      async (system, user) => {
        const sys = [system, opts.system].filter(Boolean).join('\n\n');
        const out = await callOnce(
          { ...opts, system: sys, signal: job.signal },
          model,
          [{ role: 'user', content: user }],
          job,
          opts.signal,
        );
        steps.push({ model, prompt: user, ...out });
        return out;
      },
    );
    return { type: 'memory', model: r.called ? model : 'none', steps, answer: r.answer, tokensIn: r.tokensIn, tokensOut: r.tokensOut };
  } finally {
    job.dispose();
  }
}

/**
 * An AbortController that records why it cut: a bound (timeout, size) aborts the provider call
 * through the same signal a shutdown uses, and the reason tells the two apart afterwards.
 */
class Cutter {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  reason: RuntimeError | undefined;
  private readonly onParent: () => void;

  constructor(private readonly parent: AbortSignal) {
    this.onParent = () => this.controller.abort(parent.reason);
    if (parent.aborted) this.onParent();
    else parent.addEventListener('abort', this.onParent, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  cut(reason: RuntimeError): void {
    this.reason ??= reason;
    this.controller.abort(reason);
  }

  /** (Re)starts the one timer this cutter has. */
  arm(ms: number, reason: () => RuntimeError): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.cut(reason()), ms);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.parent.removeEventListener('abort', this.onParent);
  }
}

async function callOnce(
  opts: ExecuteOptions,
  model: string,
  messages: ChatMessage[],
  job: Cutter,
  shutdown: AbortSignal,
): Promise<{ answer: string; tokensIn: number; tokensOut: number }> {
  const limits = opts.limits ?? {};
  const req = { model, messages, ...(opts.system ? { system: opts.system } : {}) };
  let answer = '';
  let tokensIn = 0;
  let tokensOut = 0;
  const call = new Cutter(opts.signal);
  const why = (): RuntimeError | undefined => call.reason ?? job.reason;
  const timeoutHint =
    'the bounds are vault.worker.firstTokenTimeoutSeconds and idleTimeoutSeconds in platform.yaml; check the provider host';
  const firstToken = limits.firstTokenTimeoutMs;
  const idle = limits.idleTimeoutMs;
  if (firstToken !== undefined) {
    call.arm(
      firstToken,
      () => new RuntimeError('PROVIDER_TIMEOUT', `${model} sent no first token within ${firstToken} ms`, { hint: timeoutHint }),
    );
  }
  let started = false;
  const stream = opts.router.chat(model, req, {
    signal: call.signal,
    mode: 'job',
    jobId: opts.jobId,
    onRateLimited: (notice) => opts.onRateLimited?.(notice),
  });
  try {
    for await (const ev of stream) {
      const cut = why();
      if (cut) throw cut;
      if (ev.type === 'text' || ev.type === 'tool_call') started = true;
      if (started && idle !== undefined) {
        call.arm(
          idle,
          () =>
            new RuntimeError('PROVIDER_TIMEOUT', `${model} stalled: no data for ${idle} ms mid-answer (idle timeout)`, {
              hint: timeoutHint,
            }),
        );
      }
      if (ev.type === 'text') {
        answer += ev.delta;
        const max = limits.maxAnswerChars;
        if (max !== undefined && answer.length > max) {
          const err = new RuntimeError('ANSWER_TOO_LARGE', `the answer from ${model} went over ${max} characters; the call was cut`);
          call.cut(err);
          throw err;
        }
      } else if (ev.type === 'usage') {
        tokensIn += ev.usage.inputTokens;
        tokensOut += ev.usage.outputTokens;
      } else if (ev.type === 'done') {
        const bound = why();
        if (bound) throw bound;
        if (ev.reason === 'aborted' || shutdown.aborted) throw abortError();
        if (ev.reason === 'error')
          throw new RuntimeError('PROVIDER_ERROR', `the provider ended the answer for ${model} with an error`, {
            hint: "move the job file back to the queue to run it again; the worker log has the provider's error",
          });
      }
    }
  } catch (e) {
    // A bound that cut the call wins over whatever the aborted stream threw.
    const bound = why();
    if (bound && !shutdown.aborted) throw bound;
    throw e;
  } finally {
    call.dispose();
  }
  const bound = why();
  if (bound && !shutdown.aborted) throw bound;
  if (shutdown.aborted) throw abortError();
  return { answer, tokensIn, tokensOut };
}

export class JobAbortedError extends Error {
  override readonly name = 'JobAbortedError';
}

function abortError(): JobAbortedError {
  return new JobAbortedError('the job was aborted by shutdown');
}
