import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { RuntimeConfig } from '../config/index.js';
import { RuntimeError, describeError } from '../errors.js';
import { APPENDED_MARKER, parseJobDocument } from '../jobs/document.js';
import { slugify, timestampName } from '../jobs/output.js';
import { JobFrontmatterSchema } from '../jobs/schema.js';
import { freeName, isErrno, writeFileAtomic } from '../queue/fs-util.js';
import { isJobFileName } from '../queue/names.js';
import { openDatabase, type Db } from '../store/db.js';

/*
 * The queue as the control panel sees it: what waits, runs, finished and failed, a job's detail
 * (its output, figures, and why it failed), and submitting a job. Every file is untrusted: names
 * are checked before any path is made, only regular files are read (no symlink followed), reads
 * are bounded, and an output path comes from the worker's ledger, never from file content.
 */

export const JOB_STATES = ['queued', 'active', 'completed', 'failed'] as const;
export type JobState = (typeof JOB_STATES)[number];

export interface JobSummary {
  name: string;
  state: JobState;
  id: string | null;
  title: string | null;
  model: string | null;
  type: string | null;
  modifiedAt: string;
  size: number;
}

export interface JobSection {
  heading: string;
  body: string;
}

export interface JobDetail extends JobSummary {
  frontmatter: Record<string, unknown> | null;
  prompt: string;
  /** Sections the worker appended (Output, Failed, Duplicate, ...). */
  sections: JobSection[];
  failureReason: string | null;
  /** Why the file does not parse as a job, when it does not. */
  invalid: string | null;
  output: { path: string; markdown: string; meta: Record<string, unknown> } | null;
}

export interface JobSubmission {
  prompt: string;
  title?: string | undefined;
  type?: 'text' | 'chain' | 'research' | undefined;
  model?: string | undefined;
  skills?: string[] | undefined;
  system?: string | undefined;
  steps?: { prompt: string; model?: string | undefined }[] | undefined;
  notify?: boolean | undefined;
}

const MAX_LISTED = 50;

function splitFrontmatter(raw: string): { data: Record<string, unknown> | null; body: string } {
  const text = raw.startsWith('\uFEFF') ? raw.slice(1) : raw;
  const m = /^---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/.exec(text);
  if (!m) return { data: null, body: text };
  try {
    // YAML only: the `yaml` package evaluates nothing and custom tags are refused.
    const data: unknown = parseYaml(m[1]!, { customTags: [], maxAliasCount: 50 });
    return {
      data: data && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>) : null,
      body: text.slice(m[0].length),
    };
  } catch {
    return { data: null, body: text.slice(m[0].length) };
  }
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null;
}

export class JobBoard {
  private readonly dirs: Record<JobState, string>;
  private readonly outputsDir: string;
  private ledger: Db | undefined;

  constructor(
    private readonly config: Pick<RuntimeConfig, 'vault' | 'dataDir'>,
    private readonly maxBytes: number,
    private readonly now: () => Date = () => new Date(),
  ) {
    const v = config.vault;
    this.dirs = {
      queued: join(v.path, v.folders.queue),
      active: join(v.path, v.folders.active),
      completed: join(v.path, v.folders.completed),
      failed: join(v.path, v.folders.failed),
    };
    this.outputsDir = join(v.path, v.folders.outputs);
  }

  close(): void {
    this.ledger?.close();
    this.ledger = undefined;
  }

  async list(): Promise<Record<JobState, JobSummary[]> & { counts: Record<JobState, number> }> {
    const out = { queued: [], active: [], completed: [], failed: [], counts: { queued: 0, active: 0, completed: 0, failed: 0 } } as Record<
      JobState,
      JobSummary[]
    > & { counts: Record<JobState, number> };
    await Promise.all(
      JOB_STATES.map(async (state) => {
        const files = await this.files(state);
        out.counts[state] = files.length;
        // Waiting jobs oldest first (the order they run in); the rest newest first.
        files.sort((a, b) => (state === 'queued' ? a.mtime - b.mtime : b.mtime - a.mtime));
        out[state] = await Promise.all(files.slice(0, MAX_LISTED).map((f) => this.summary(state, f.name, f.mtime, f.size)));
      }),
    );
    return out;
  }

  async detail(state: JobState, name: string): Promise<JobDetail> {
    const raw = await this.read(this.dirs[state], name);
    const st = await lstat(join(this.dirs[state], name));
    const base = this.summaryOf(state, name, st.mtimeMs, st.size, raw);
    const { data, body } = splitFrontmatter(raw);
    const at = body.indexOf(APPENDED_MARKER);
    const prompt = (at === -1 ? body : body.slice(0, at)).trim();
    const sections: JobSection[] = [];
    if (at !== -1) {
      for (const chunk of body.slice(at).split(APPENDED_MARKER)) {
        const m = /^\s*## (.+)\r?\n([\s\S]*)$/.exec(chunk);
        if (m) sections.push({ heading: m[1]!.trim(), body: m[2]!.trim() });
      }
    }
    let invalid: string | null = null;
    try {
      parseJobDocument(raw);
    } catch (e) {
      invalid = describeError(e);
    }
    const failed = [...sections].reverse().find((s) => s.heading === 'Failed');
    return {
      ...base,
      frontmatter: data,
      prompt,
      sections,
      failureReason: failed?.body ?? (state === 'failed' ? (invalid ?? 'no reason was recorded') : null),
      invalid,
      output: base.id ? await this.output(base.id) : null,
    };
  }

  /** Writes a new job into the queue: a temporary dotfile, then one rename. */
  async submit(s: JobSubmission): Promise<{ name: string; state: JobState }> {
    const fm: Record<string, unknown> = {};
    if (s.title) fm.title = s.title;
    if (s.type && s.type !== 'text') fm.type = s.type;
    if (s.model) fm.model = s.model;
    if (s.skills?.length) fm.skills = s.skills;
    if (s.system) fm.system = s.system;
    if (s.steps) fm.steps = s.steps.map((st) => ({ prompt: st.prompt, ...(st.model ? { model: st.model } : {}) }));
    if (s.notify !== undefined) fm.notify = s.notify;
    const checked = JobFrontmatterSchema.safeParse(fm);
    if (!checked.success) {
      throw new RuntimeError('JOB_INVALID', checked.error.issues.map((i) => `${i.path.join('.') || 'job'}: ${i.message}`).join('; '), {
        httpStatus: 400,
      });
    }
    const raw = `${Object.keys(fm).length ? `---\n${stringifyYaml(fm)}---\n\n` : ''}${s.prompt.trim()}\n`;
    if (Buffer.byteLength(raw) > this.maxBytes)
      throw new RuntimeError('PAYLOAD_TOO_LARGE', `the job file would be ${Buffer.byteLength(raw)} bytes, over ${this.maxBytes}`);
    try {
      parseJobDocument(raw);
    } catch (e) {
      throw new RuntimeError('JOB_INVALID', describeError(e), { httpStatus: 400 });
    }
    const dir = this.dirs.queued;
    await mkdir(dir, { recursive: true });
    const name = await freeName(dir, `${timestampName(this.now())}-${slugify(s.title ?? s.prompt.slice(0, 60))}.md`);
    await writeFileAtomic(join(dir, name), raw);
    return { name, state: 'queued' };
  }

  private async files(state: JobState): Promise<{ name: string; mtime: number; size: number }[]> {
    let names: string[];
    try {
      names = await readdir(this.dirs[state]);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return [];
      throw new RuntimeError('QUEUE_IO', `cannot list ${this.dirs[state]}: ${describeError(e)}`);
    }
    const out: { name: string; mtime: number; size: number }[] = [];
    for (const name of names) {
      if (!isJobFileName(name)) continue;
      try {
        const st = await lstat(join(this.dirs[state], name));
        if (st.isFile()) out.push({ name, mtime: st.mtimeMs, size: st.size });
      } catch {
        // moved by the worker between readdir and lstat: not there any more
      }
    }
    return out;
  }

  private async summary(state: JobState, name: string, mtime: number, size: number): Promise<JobSummary> {
    let raw = '';
    try {
      raw = await this.read(this.dirs[state], name, 16_384);
    } catch {
      // moved or unreadable: listed with what is known
    }
    return this.summaryOf(state, name, mtime, size, raw);
  }

  private summaryOf(state: JobState, name: string, mtime: number, size: number, raw: string): JobSummary {
    const { data } = splitFrontmatter(raw);
    return {
      name,
      state,
      id: str(data?.id),
      title: str(data?.title),
      model: str(data?.model),
      type: str(data?.type) ?? (data ? 'text' : null),
      modifiedAt: new Date(mtime).toISOString(),
      size,
    };
  }

  /** A job or output file's text: checked name, regular file, no symlink, at most `limit` bytes. */
  private async read(dir: string, name: string, limit = this.maxBytes): Promise<string> {
    if (!isJobFileName(name) || /[/\\\0]/.test(name) || name.length > 255) {
      throw new RuntimeError('BAD_REQUEST', `"${name}" is not a job file name`, { hint: 'a job is a .md file directly in a queue folder' });
    }
    const path = join(dir, name);
    let fh;
    try {
      fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (e) {
      if (isErrno(e, 'ENOENT'))
        throw new RuntimeError('NOT_FOUND', `no job ${name} here (the worker may have moved it)`, { hint: 'reload the queue list' });
      if (isErrno(e, 'ELOOP'))
        throw new RuntimeError('BAD_REQUEST', `${name} is a symbolic link; the runtime never follows links in the vault`);
      throw new RuntimeError('QUEUE_IO', `cannot read ${name}: ${describeError(e)}`);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new RuntimeError('BAD_REQUEST', `${name} is not a regular file`);
      const size = Math.min(st.size, limit);
      const buf = Buffer.alloc(size);
      await fh.read(buf, 0, size, 0);
      return buf.toString('utf8');
    } finally {
      await fh.close();
    }
  }

  private async output(jobId: string): Promise<JobDetail['output']> {
    const rel = this.ledgerOutput(jobId);
    if (!rel) return null;
    const prefix = `${this.config.vault.folders.outputs}/`;
    if (!rel.startsWith(prefix)) return null;
    const name = rel.slice(prefix.length);
    try {
      const raw = await this.read(this.outputsDir, name);
      const { data, body } = splitFrontmatter(raw);
      return { path: rel, markdown: body.trim(), meta: data ?? {} };
    } catch (e) {
      if (e instanceof RuntimeError && (e.code === 'NOT_FOUND' || e.code === 'BAD_REQUEST')) return null;
      throw e;
    }
  }

  private ledgerOutput(jobId: string): string | undefined {
    if (!this.ledger) {
      try {
        this.ledger = openDatabase(join(this.config.dataDir, 'jobs.db'), { readonly: true });
      } catch {
        return undefined; // no worker has run on this data folder yet
      }
    }
    try {
      return (this.ledger.prepare('SELECT output FROM job_ledger WHERE id = ?').get(jobId) as { output: string } | undefined)?.output;
    } catch {
      return undefined;
    }
  }
}
