import { mkdir, readdir, realpath, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentServices } from '../agents/index.js';
import { ensureVaultFolder } from '../agents/folder.js';
import { renderChanges } from '../agents/line-diff.js';
import { RuntimeError, describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ResearchSettings } from '../mcp/research.js';
import type { RateLimitNotice } from '../router/index.js';
import { exists, writeFileAtomic } from '../queue/fs-util.js';
import { isTempFileName } from '../queue/names.js';
import type { Claim } from '../queue/types.js';
import type { SkillResolver } from '../skills/registry.js';
import { parseFrontmatter } from '../vault/frontmatter.js';
import { VaultFileError, idNameHint, isInside, readRegularFile } from '../vault/files.js';
import { appendSection, containsText, insertId, parseJobDocument, peekId, sectionBytes, type JobDocument } from './document.js';
import type { ChatRouter, ExecuteLimits } from './execute.js';
import { newJobId } from './ids.js';
import type { JobLedger, LedgerEntry } from './ledger.js';
import { outputName, renderOutput, slugify, wikiLink } from './output.js';
import { JobRunner, systemPrompt, toJobError, type RunResult } from './run.js';
import type { JobType } from './schema.js';

/*
 * One claimed job file from start to finish. The order of writes is what keeps a job to one
 * run and one output whatever moment the process is killed at:
 *
 *   1. parse and validate (invalid → failed folder)
 *   2. id written into the file (a restart keeps it)      killed before 5: run again, same id
 *   3. ledger: completed already? → finish the move, or mark a resurrected copy as duplicate
 *   4. run the provider calls
 *   5. ledger row: id → output path                       killed here: no output yet → run again
 *   6. output written (temp file + one rename)            killed after: row + output → just moved
 *   7. ledger completed_at (by id: the job never runs again, wherever its output is moved)
 *   8. link appended to the job file, file moved to completed, ledger moved_at
 *
 * The job file is handled as bytes: the id line is inserted and sections appended without
 * decoding and re-encoding what the author wrote. Storage faults (disk full, quota, I/O error)
 * are VAULT_IO: the file goes back to the queue with a doubling backoff, and to the failed
 * folder with the reason after the last attempt.
 *
 * Step 4 is pluggable (a JobExecutor): in process by default (JobRunner), or on a worker on
 * another host through a broker, in which case this process only claims and settles.
 */

/** A job read, parsed and given its id, ready to run: what an executor gets. */
export interface PreparedJob {
  readonly name: string;
  readonly jobId: string;
  /** The job file's bytes as they are now (id line included). */
  readonly raw: Buffer;
  readonly doc: JobDocument;
  /** The system prompt (the job's `system` and its skills). */
  readonly system: string | undefined;
  /** True when this claim gave the job its id: no earlier run of it can exist anywhere. */
  readonly fresh: boolean;
}

/** Runs a prepared job to a result: in this process, or elsewhere. */
export type JobExecutor = (job: PreparedJob, signal: AbortSignal) => Promise<RunResult>;

export type JobStatus = 'completed' | 'failed' | 'duplicate' | 'requeued';

export interface JobOutcome {
  status: JobStatus;
  /** The file name as dropped into the queue. */
  name: string;
  jobId?: string;
  type?: JobType;
  model?: string;
  skills?: readonly string[];
  /** Vault-relative output path (completed and duplicate). */
  output?: string;
  /** Where the job file ended up. */
  finalPath?: string;
  error?: RuntimeError;
  tokensIn: number;
  tokensOut: number;
  durationMs: number;
  /** The job's `notify` (true when the file could not be parsed). */
  notify: boolean;
  /** The job's `notify_after`: its notice waits until then. */
  notifyAfter?: string;
}

export interface JobProcessorProps {
  /** Absolute vault path. */
  readonly vaultPath: string;
  /** The outputs folder, relative to the vault (links are vault-relative). */
  readonly outputsFolder: string;
  readonly ledger: JobLedger;
  /** Runs jobs in this process; not needed when an executor is given. */
  readonly router?: ChatRouter;
  readonly skills: SkillResolver;
  readonly defaultModel: string;
  readonly log: Logger;
  readonly now?: () => number;
  readonly onRateLimited?: (job: { name: string; jobId: string }, notice: RateLimitNotice) => void;
  /** The MCP server for research jobs. */
  readonly research?: ResearchSettings;
  /** Bounds from the model (vault.worker); absent ones are not enforced. */
  readonly limits?: JobProcessorLimits;
  /** The built-in agents (memory, reindex). */
  readonly agents?: AgentServices;
  /** Vault folders a job's `output` may not name (the queue's own folders, skills). */
  readonly protectedFolders?: readonly string[];
  /** Runs the job; in this process (router, research, limits, agents above) when absent. */
  readonly executor?: JobExecutor;
}

/** The heading of the diff a research answer gains against its previous answer. */
export const CHANGES_HEADING = '## Changes since the previous answer';
const PREVIOUS_MAX_BYTES = 512 * 1024;

export interface JobProcessorLimits extends ExecuteLimits {
  readonly maxChainSteps?: number;
  /** Storage-fault retries before the job fails with VAULT_IO. */
  readonly ioRetries?: number;
  /** First retry delay; doubles per attempt. */
  readonly ioRetryBackoffMs?: number;
}

export class JobProcessor {
  private readonly now: () => number;
  private readonly outputsDir: string;
  /** Job ids being run now: a second file with the same id waits for the first, then is a duplicate. */
  private readonly inflight = new Map<string, Promise<unknown>>();
  /** Storage-fault attempts per queue file name (in memory: a restart gives a file fresh attempts). */
  private readonly ioAttempts = new Map<string, number>();

  private readonly executor: JobExecutor;

  constructor(private readonly props: JobProcessorProps) {
    this.now = props.now ?? Date.now;
    this.outputsDir = join(props.vaultPath, props.outputsFolder);
    if (props.executor) this.executor = props.executor;
    else {
      if (!props.router) throw new RuntimeError('INTERNAL', 'a job processor needs a router or an executor');
      const runner = new JobRunner({
        router: props.router,
        defaultModel: props.defaultModel,
        log: props.log,
        ...(props.research ? { research: props.research } : {}),
        ...(props.limits ? { limits: props.limits } : {}),
        ...(props.onRateLimited ? { onRateLimited: props.onRateLimited } : {}),
        ...(props.agents ? { agents: props.agents } : {}),
        now: this.now,
      });
      this.executor = (job, signal) => runner.run({ jobId: job.jobId, name: job.name, doc: job.doc, system: job.system, signal });
    }
  }

  /** Removes temp files a killed run left in the outputs folder. */
  async prepare(): Promise<void> {
    await mkdir(this.outputsDir, { recursive: true });
    for (const name of await readdir(this.outputsDir)) {
      if (isTempFileName(name)) await unlink(join(this.outputsDir, name)).catch(() => undefined);
    }
  }

  async process(claim: Claim, signal: AbortSignal): Promise<JobOutcome> {
    const started = this.now();
    let raw: Buffer | undefined;
    try {
      const out = await this.run(claim, signal, started, (r) => (raw = r));
      if (out.status !== 'requeued') this.ioAttempts.delete(claim.name);
      return out;
    } catch (e) {
      if (claim.settled) throw e;
      const err = toJobError(e);
      const base = { name: claim.name, tokensIn: 0, tokensOut: 0, notify: true };
      const jobId = raw === undefined ? undefined : peekId(raw);
      if (err.code === 'VAULT_IO') {
        const retried = await this.retryLater(claim, err, jobId);
        if (retried) return { ...base, status: 'requeued', ...(jobId ? { jobId } : {}), error: err, durationMs: this.now() - started };
      } else {
        // An unexpected error outside the provider call (a bug): the file goes to the failed
        // folder with the stack, so it neither sits in the active folder nor loops.
        this.props.log.error('job failed unexpectedly', { file: claim.name, error: err });
      }
      this.ioAttempts.delete(claim.name);
      const finalPath = await this.failFile(claim, raw, err, jobId);
      return { ...base, status: 'failed', ...(jobId ? { jobId } : {}), error: err, finalPath, durationMs: this.now() - started };
    }
  }

  /** Returns the claim to the queue with backoff; false once the attempts are used up. */
  private async retryLater(claim: Claim, err: RuntimeError, jobId: string | undefined): Promise<boolean> {
    const limits = this.props.limits ?? {};
    const max = limits.ioRetries ?? 0;
    const attempt = (this.ioAttempts.get(claim.name) ?? 0) + 1;
    if (attempt > max) {
      this.props.log.error('storage fault: retries used up, the job fails', { file: claim.name, jobId, attempts: attempt - 1, error: err });
      return false;
    }
    this.ioAttempts.set(claim.name, attempt);
    const delayMs = (limits.ioRetryBackoffMs ?? 1_000) * 2 ** (attempt - 1);
    this.props.log.warn('storage fault: job returned to the queue, retried later', {
      file: claim.name,
      jobId,
      attempt,
      of: max,
      delayMs,
      error: err,
    });
    try {
      await claim.release(delayMs);
      return true;
    } catch (e) {
      this.props.log.error('could not return the job to the queue', { file: claim.name, error: describeError(e) });
      return false;
    }
  }

  private async run(claim: Claim, signal: AbortSignal, started: number, track: (raw: Buffer) => void): Promise<JobOutcome> {
    const base = { name: claim.name, tokensIn: 0, tokensOut: 0, notify: true };
    const elapsed = (): number => this.now() - started;
    let raw: Buffer;
    try {
      raw = await claim.readBytes();
    } catch (e) {
      if (!(e instanceof VaultFileError)) throw e;
      // Refused unread (a link swapped in after the claim, a device, over the size cap): fail it as it is.
      const err =
        e.problem === 'too-large'
          ? new RuntimeError('JOB_INVALID', e.message, { hint: 'split the job, or raise vault.worker.maxJobBytes in platform.yaml' })
          : e;
      this.props.log.warn('job file refused', { file: claim.name, problem: e.problem, error: err });
      const finalPath = await this.failFile(claim, undefined, err, undefined, e.problem === 'too-large' || e.problem === 'unreadable');
      return { ...base, status: 'failed', error: err, finalPath, durationMs: elapsed() };
    }
    track(raw);

    let doc: JobDocument;
    try {
      doc = parseJobDocument(raw, this.props.limits ?? {});
    } catch (e) {
      const err = toJobError(e);
      const jobId = peekId(raw);
      const finalPath = await this.failFile(claim, raw, err, jobId);
      return { ...base, status: 'failed', ...(jobId ? { jobId } : {}), error: err, finalPath, durationMs: elapsed() };
    }
    const fm = doc.frontmatter;
    let jobId = fm.id;
    const fresh = jobId === undefined;
    if (jobId === undefined) {
      jobId = newJobId(this.now());
      raw = insertId(raw, jobId);
      await claim.write(raw);
      track(raw);
    }
    const info = {
      ...base,
      jobId,
      type: fm.type,
      model: fm.model ?? this.props.defaultModel,
      skills: fm.skills,
      notify: fm.notify,
      ...(fm.notify_after ? { notifyAfter: fm.notify_after } : {}),
    };

    for (let other = this.inflight.get(jobId); other; other = this.inflight.get(jobId)) await other.catch(() => undefined);
    const done = this.props.ledger.get(jobId);
    if (
      done &&
      (done.movedAt !== null || this.props.ledger.completedAt(jobId) !== null || (await exists(join(this.props.vaultPath, done.output))))
    ) {
      return this.finishCompleted(claim, raw, done, info, elapsed);
    }
    const id = jobId;
    const running = this.execute(claim, raw, doc, id, done?.output, info, { signal, elapsed, track, fresh });
    this.inflight.set(id, running);
    try {
      return await running;
    } finally {
      this.inflight.delete(id);
    }
  }

  private async execute(
    claim: Claim,
    raw: Buffer,
    doc: JobDocument,
    jobId: string,
    reserved: string | undefined,
    info: Omit<JobOutcome, 'status' | 'durationMs'> & { jobId: string },
    ctx: { signal: AbortSignal; elapsed: () => number; track: (raw: Buffer) => void; fresh: boolean },
  ): Promise<JobOutcome> {
    const { signal, elapsed, track, fresh } = ctx;
    const fm = doc.frontmatter;
    const hint = idNameHint(jobId);

    let result: RunResult;
    try {
      // Before any model call: notes or answers in the queue's own folders would be taken for jobs.
      if (fm.output !== undefined) {
        this.checkOutputFolder(fm.output);
        await ensureVaultFolder(this.props.vaultPath, fm.output);
      }
      const system = systemPrompt(doc, this.props.skills);
      result = await this.executor({ name: claim.name, jobId, raw, doc, system, fresh }, signal);
      if (result.status === 'completed' && fm.previous_output !== undefined) {
        result = { ...result, body: await this.withChanges(result.body, fm.previous_output) };
      }
    } catch (e) {
      const err = toJobError(e);
      if (err.code === 'VAULT_IO') throw err; // retried by process()
      result = { status: 'failed', error: err };
    }
    if (result.status === 'requeued') {
      await claim.release(result.delayMs);
      return { ...info, status: 'requeued', durationMs: elapsed() };
    }
    if (result.status === 'failed') {
      const finalPath = await this.failFile(claim, raw, result.error, jobId);
      return { ...info, status: 'failed', error: result.error, finalPath, durationMs: elapsed() };
    }
    const done = result;

    const durationMs = done.durationMs ?? elapsed();
    // A memory job's `output` is where its notes go; its report goes with the other outputs.
    const folder = fm.type === 'memory' ? this.props.outputsFolder : (fm.output ?? this.props.outputsFolder);
    let output: string;
    try {
      output = await this.writeOutput(jobId, claim.name, fm.title, reserved, folder, (createdAt) =>
        renderOutput(
          {
            jobId,
            type: fm.type,
            model: done.model,
            skills: fm.skills,
            tokensIn: done.tokensIn,
            tokensOut: done.tokensOut,
            durationMs,
            source: claim.name,
            createdAt,
          },
          done.body,
        ),
      );
    } catch (e) {
      const err = toJobError(e);
      if (err.code !== 'JOB_INVALID') throw err;
      const finalPath = await this.failFile(claim, raw, err, jobId);
      return { ...info, status: 'failed', error: err, finalPath, durationMs: elapsed() };
    }
    this.props.ledger.markCompleted(jobId, this.now());
    raw = appendSection(
      raw,
      'Output',
      `${wikiLink(output)}\n\nCompleted ${new Date(this.now()).toISOString()} by ${done.model}, job ${jobId}.`,
    );
    await claim.write(raw);
    track(raw);
    const finalPath = await claim.complete(hint);
    this.props.ledger.markMoved(jobId, this.now());
    return {
      ...info,
      model: done.model,
      status: 'completed',
      output,
      finalPath,
      tokensIn: done.tokensIn,
      tokensOut: done.tokensOut,
      durationMs: elapsed(),
    };
  }

  /** The ledger says this id completed: finish an interrupted move, or file a resurrected copy. */
  private async finishCompleted(
    claim: Claim,
    raw: Buffer,
    done: LedgerEntry,
    info: Omit<JobOutcome, 'status' | 'durationMs'> & { jobId: string },
    elapsed: () => number,
  ): Promise<JobOutcome> {
    const link = wikiLink(done.output);
    const hint = idNameHint(info.jobId);
    if (done.movedAt === null) {
      // Killed between the output write and the move: finish quietly, never run again.
      if (!containsText(raw, link)) {
        raw = appendSection(raw, 'Output', `${link}\n\nCompleted ${new Date(this.now()).toISOString()}, job ${info.jobId}.`);
        await claim.write(raw);
      }
      const finalPath = await claim.complete(hint);
      this.props.ledger.markMoved(info.jobId, this.now());
      this.props.log.info('finished the move of a job completed before a restart', { file: claim.name, jobId: info.jobId });
      return { ...info, status: 'completed', output: done.output, finalPath, durationMs: elapsed() };
    }
    raw = appendSection(
      raw,
      'Duplicate',
      `Not run again: job ${info.jobId} already completed on ${new Date(done.movedAt).toISOString()}; its output was written as ${link} (it may have been moved since). ` +
        'To run it as a new job, remove the `id` line and drop the file into the queue again.',
    );
    await claim.write(raw);
    const finalPath = await claim.complete(`${hint}-dup`);
    this.props.log.info('duplicate of a completed job, not run again', { file: claim.name, jobId: info.jobId, output: done.output });
    return { ...info, status: 'duplicate', output: done.output, finalPath, durationMs: elapsed() };
  }

  /**
   * Chooses a free output name, records it in the ledger, then writes the file with one rename.
   * A path already reserved for this job (a run killed before its output) is reused.
   */
  private async writeOutput(
    jobId: string,
    source: string,
    title: string | undefined,
    reserved: string | undefined,
    folder: string,
    render: (createdAt: Date) => string,
  ): Promise<string> {
    const createdAt = new Date(this.now());
    let rel = reserved;
    if (folder !== this.props.outputsFolder) {
      this.checkOutputFolder(folder);
      await ensureVaultFolder(this.props.vaultPath, folder);
    }
    if (rel === undefined) {
      const slug = slugify(title ?? source);
      for (let attempt = 1; rel === undefined; attempt++) {
        const candidate = `${folder}/${outputName(createdAt, slug, attempt)}`;
        if (this.props.ledger.outputTaken(candidate, jobId)) continue;
        if (await exists(join(this.props.vaultPath, candidate))) continue;
        // Concurrent jobs may have picked the same name meanwhile: the reservation decides.
        if (this.props.ledger.tryReserve(jobId, candidate, source, createdAt.getTime())) rel = candidate;
      }
    } else {
      this.props.ledger.reserve(jobId, rel, source, createdAt.getTime());
    }
    await writeFileAtomic(join(this.props.vaultPath, rel), render(createdAt));
    return rel;
  }

  private checkOutputFolder(folder: string): void {
    const top = folder.split('/')[0]!;
    if ((this.props.protectedFolders ?? []).includes(top))
      throw new RuntimeError('JOB_INVALID', `the job's output folder "${folder}" is the runtime's "${top}" folder`, {
        hint: 'name a folder of its own in `output:` (e.g. "briefings" or "memory"), or drop the key to write to the outputs folder',
      });
  }

  /**
   * The answer with a line diff against the previous answer appended. The previous file is
   * vault data: read without following links, bounded, its frontmatter and its own diff dropped.
   */
  private async withChanges(answer: string, previous: string): Promise<string> {
    const section = (text: string): string => `${answer.trim()}\n\n${CHANGES_HEADING}\n\n${text}\n`;
    const abs = join(this.props.vaultPath, previous);
    if (!isInside(this.props.vaultPath, abs)) return section(`The previous answer (${previous}) lies outside the vault; it was not read.`);
    let before: string;
    try {
      // A folder on the way may be a link: the file must really be inside the vault.
      const real = await realpath(abs);
      if (!isInside(await realpath(this.props.vaultPath), real))
        return section(`The previous answer (${previous}) is reached through a link out of the vault; it was not read.`);
      const fm = parseFrontmatter(await readRegularFile(abs, { maxBytes: PREVIOUS_MAX_BYTES }));
      const body = fm.body;
      const at = body.indexOf(`\n${CHANGES_HEADING}\n`);
      before = (at >= 0 ? body.slice(0, at) : body).trim();
    } catch (e) {
      if (e instanceof RuntimeError && e.code === 'VAULT_IO') throw e;
      return section(`The previous answer (${previous}) could not be read (${describeError(e)}); no comparison.`);
    }
    const diff = renderChanges(before, answer.trim());
    return section(diff ? `Against [[${previous.replace(/\.md$/, '')}]] ("-" no longer said, "+" new):\n\n${diff}` : 'No change.');
  }

  /**
   * Appends the failure to the job file and moves it to the failed folder. `raw` undefined: the
   * file was not read; with `appendInPlace` the section is appended to it as is (a file too
   * large to rewrite), else it is moved untouched (a link, a device).
   */
  private async failFile(
    claim: Claim,
    raw: Buffer | undefined,
    err: RuntimeError,
    jobId: string | undefined,
    appendInPlace = false,
  ): Promise<string> {
    const lines = [`- when: ${new Date(this.now()).toISOString()}`, `- code: \`${err.code}\``, `- message: ${err.message}`];
    if (err.hint) lines.push(`- hint: ${err.hint}`);
    let body = lines.join('\n');
    if (err.code === 'INTERNAL') {
      const cause = (err as { cause?: unknown }).cause;
      const stack = cause instanceof Error && cause.stack ? cause.stack : err.stack;
      if (stack) body += `\n\n\`\`\`\n${stack}\n\`\`\``;
    }
    try {
      if (raw !== undefined) await claim.write(appendSection(raw, 'Failed', body));
      else if (appendInPlace) await claim.append(sectionBytes(undefined, 'Failed', body));
    } catch (e) {
      this.props.log.warn('could not append the failure to the job file; moving it as is', { file: claim.name, error: describeError(e) });
    }
    return claim.fail(jobId ? idNameHint(jobId) : undefined);
  }
}
