import { readdir } from 'node:fs/promises';
import { expect } from 'vitest';
import { frontmatterOf, type TempVault } from './vault.js';

/*
 * What the crash tests assert once a queue has drained: every job `job-<n>.md` ("This is job
 * number <n>", every third with the preset id `preset-<n>`, answered "answer for job <n>") sits
 * in the completed folder exactly once, links its one output, and nothing is left anywhere else.
 */
export async function expectEveryJobSettledOnce(
  v: TempVault,
  jobs: number,
  /** Called for each completed job with its id and output file name (extra checks: the ledger). */
  each?: (id: string, output: string) => void,
): Promise<void> {
  // Folders: everything completed, nothing anywhere else, no temp files left behind.
  expect(await v.list('queue')).toEqual([]);
  expect(await v.list('active')).toEqual([]);
  expect(await v.list('failed')).toEqual([]);
  const completed = await v.list('completed');
  expect(completed).toHaveLength(jobs);
  expect((await readdir(v.dir('outputs'))).filter((n) => n.startsWith('.'))).toEqual([]);

  // One completed file per job, each linking to its own output; one output per job id.
  const outputs = await v.list('outputs');
  expect(outputs).toHaveLength(jobs);
  const outputById = new Map<string, string>();
  for (const name of outputs) {
    const doc = frontmatterOf(await v.read('outputs', name));
    const id = String(doc.data.job_id);
    expect(outputById.has(id), `two outputs for job ${id}`).toBe(false);
    outputById.set(id, name);
    const n = Number(/job-(\d+)\.md/.exec(String(doc.data.source))?.[1]);
    expect(doc.content.trim()).toBe(`answer for job ${n}`);
  }
  const seen = new Set<number>();
  for (const name of completed) {
    const text = await v.read('completed', name);
    const doc = frontmatterOf(text);
    const n = Number(/This is job number (\d+)/.exec(doc.content)?.[1]);
    expect(seen.has(n), `job ${n} completed twice`).toBe(false);
    seen.add(n);
    const id = String(doc.data.id);
    if (n % 3 === 0) expect(id).toBe(`preset-${n}`);
    const out = outputById.get(id);
    expect(out, `no output for ${name}`).toBeDefined();
    expect(text).toContain(`[[runner-outputs/${out!.replace(/\.md$/, '')}]]`);
    expect(text).not.toContain('## Duplicate');
    expect(text.match(/## Output/g)).toHaveLength(1);
    each?.(id, out!);
  }
  expect(seen.size).toBe(jobs);
}
