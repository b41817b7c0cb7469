import { stringify } from 'yaml';
import type { JobType } from './schema.js';

/*
 * Output files: `runner-outputs/YYYY-MM-DD-HHMMSS-<slug>.md` (UTC), frontmatter then the answer.
 */

export interface OutputMeta {
  jobId: string;
  type: JobType;
  model: string;
  skills: readonly string[];
  tokensIn: number;
  tokensOut: number;
  durationMs: number;
  source: string;
  createdAt: Date;
}

export function slugify(text: string): string {
  const slug = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/\.md$/, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/, '');
  return slug || 'job';
}

export function timestampName(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/** Candidate output file names in order: `<ts>-<slug>.md`, then `-2`, `-3`, ... */
export function outputName(d: Date, slug: string, attempt: number): string {
  return `${timestampName(d)}-${slug}${attempt > 1 ? `-${attempt}` : ''}.md`;
}

export function renderOutput(meta: OutputMeta, answer: string): string {
  const data = {
    job_id: meta.jobId,
    type: meta.type,
    model: meta.model,
    skills: [...meta.skills],
    tokens_in: meta.tokensIn,
    tokens_out: meta.tokensOut,
    duration_ms: meta.durationMs,
    status: 'completed',
    source: meta.source,
    created: meta.createdAt.toISOString(),
  };
  // YAML 1.1 quoting, so readers on either YAML version read strings like `yes` or a timestamp back as strings.
  return `---\n${stringify(data, { version: '1.1', singleQuote: true, lineWidth: 0 })}---\n\n${answer.trim()}\n`;
}

/** The Obsidian wiki link to a vault-relative markdown path. */
export function wikiLink(vaultRelative: string): string {
  return `[[${vaultRelative.replace(/\.md$/, '')}]]`;
}
