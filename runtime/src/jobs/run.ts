import { RuntimeError, describeError, isRuntimeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AgentServices } from '../agents/index.js';
import type { ResearchSettings } from '../mcp/research.js';
import type { RateLimitNotice } from '../router/index.js';
import type { SkillResolver } from '../skills/registry.js';
import { isOperationalIoError, toVaultIoError } from '../vault/files.js';
import type { JobDocument } from './document.js';
import { JobAbortedError, executeJob, type ChatRouter, type ExecuteLimits, type ExecutionResult } from './execute.js';

/*
 * A job from its parsed document to a result, without touching the vault: the folder worker runs
 * it in process, a JetStream worker on another host runs it from a broker message. Settling the
 * result into the vault (ledger, output file, move) is JobProcessor's part, on the vault's host.
 */

/** What running a job gave: an answer to settle, a failure to file, or a job to put back. */
export type RunResult =
  | {
      readonly status: 'completed';
      readonly model: string;
      /** The output's body: the answer (chain: every step under its heading). */
      readonly body: string;
      readonly tokensIn: number;
      readonly tokensOut: number;
      /** Time spent running, when measured elsewhere than where it is settled. */
      readonly durationMs?: number;
    }
  | { readonly status: 'failed'; readonly error: RuntimeError; readonly durationMs?: number }
  /** Not run to an end (shutdown, a broker gone): the job goes back to the queue. */
  | { readonly status: 'requeued'; readonly delayMs?: number };

export interface JobRunnerProps {
  readonly router: ChatRouter;
  readonly defaultModel: string;
  readonly log: Logger;
  readonly research?: ResearchSettings;
  readonly limits?: ExecuteLimits;
  readonly onRateLimited?: (job: { name: string; jobId: string }, notice: RateLimitNotice) => void;
  /** The built-in agents (memory, reindex); without one, its job type fails with RAG_UNAVAILABLE. */
  readonly agents?: AgentServices;
  /** The clock the memory agent measures "since the last run" by. */
  readonly now?: () => number;
}

export interface RunRequest {
  readonly jobId: string;
  /** The file name as dropped into the queue (for notices and logs). */
  readonly name: string;
  readonly doc: JobDocument;
  /** The system prompt: the job's `system` and its skills' instructions. */
  readonly system: string | undefined;
  readonly signal: AbortSignal;
}

/** The system prompt of a job: its `system` line, then the instructions of its skills. Throws SKILL_UNKNOWN. */
export function systemPrompt(doc: JobDocument, skills: SkillResolver): string | undefined {
  const fm = doc.frontmatter;
  const system = [fm.system?.trim(), fm.skills.length ? skills.resolve(fm.skills) : undefined].filter(Boolean).join('\n\n');
  return system || undefined;
}

/** The output body of an execution: the answer, or a chain's steps each under its heading. */
export function outputBody(result: ExecutionResult): string {
  return result.type === 'chain' && result.steps.length > 1
    ? result.steps.map((s, i) => `## Step ${i + 1} (${s.model})\n\n${s.answer.trim()}`).join('\n\n')
    : result.answer;
}

/** The per-call bounds of vault.worker a runner enforces. */
export function runLimits(w: {
  maxAnswerChars: number;
  firstTokenTimeoutMs: number;
  idleTimeoutMs: number;
  jobTimeoutMs: number;
}): ExecuteLimits {
  return {
    maxAnswerChars: w.maxAnswerChars,
    firstTokenTimeoutMs: w.firstTokenTimeoutMs,
    idleTimeoutMs: w.idleTimeoutMs,
    jobTimeoutMs: w.jobTimeoutMs,
  };
}

export class JobRunner {
  constructor(private readonly props: JobRunnerProps) {}

  /** Runs the job. Storage faults (VAULT_IO) are thrown, for the caller's retry policy. */
  async run(req: RunRequest): Promise<RunResult> {
    const { jobId, name, doc, signal } = req;
    let result: ExecutionResult;
    try {
      result = await executeJob(doc, {
        router: this.props.router,
        defaultModel: this.props.defaultModel,
        system: req.system,
        signal,
        jobId,
        onRateLimited: (notice) => this.props.onRateLimited?.({ name, jobId }, notice),
        ...(this.props.research ? { research: this.props.research } : {}),
        ...(this.props.limits ? { limits: this.props.limits } : {}),
        ...(this.props.agents ? { agents: this.props.agents } : {}),
        ...(this.props.now ? { now: this.props.now } : {}),
      });
    } catch (e) {
      if (signal.aborted || e instanceof JobAbortedError) return { status: 'requeued' };
      const err = toJobError(e);
      if (err.code === 'VAULT_IO') throw err;
      return { status: 'failed', error: err };
    }
    return { status: 'completed', model: result.model, body: outputBody(result), tokensIn: result.tokensIn, tokensOut: result.tokensOut };
  }
}

export function toJobError(e: unknown): RuntimeError {
  if (isRuntimeError(e)) return e;
  if (isOperationalIoError(e)) return toVaultIoError(e, 'the vault storage failed') as RuntimeError;
  return new RuntimeError('INTERNAL', describeError(e), { cause: e, hint: 'this is a bug in the worker; the stack trace is below' });
}
