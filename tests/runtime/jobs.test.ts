import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../runtime/src/errors.js';
import {
  APPENDED_MARKER,
  JobLedger,
  appendSection,
  insertId,
  newJobId,
  outputName,
  parseJobDocument,
  renderOutput,
  slugify,
  wikiLink,
} from '../../runtime/src/jobs/index.js';
import { makeVault, type TempVault } from './helpers/vault.js';

function invalid(raw: string): string {
  try {
    parseJobDocument(raw);
  } catch (e) {
    expect(isRuntimeError(e, 'JOB_INVALID')).toBe(true);
    return (e as Error).message;
  }
  throw new Error('expected JOB_INVALID');
}

describe('job documents', () => {
  it('applies the schema defaults', () => {
    const d = parseJobDocument('Just a prompt.');
    expect(d.frontmatter).toMatchObject({ type: 'text', skills: [], notify: true });
    expect(d.frontmatter.id).toBeUndefined();
    expect(d.prompt).toBe('Just a prompt.');
  });

  it('keeps unknown keys and reads every known one', () => {
    const d = parseJobDocument(
      '---\nid: 42\ntype: chain\nmodel: m\nskills: [a]\nsystem: s\nnotify: false\ntags: [x]\nsteps:\n  - prompt: one\n  - prompt: two\n    model: n\n---\nctx',
    );
    expect(d.frontmatter).toMatchObject({ id: '42', type: 'chain', model: 'm', skills: ['a'], system: 's', notify: false, tags: ['x'] });
    expect(d.frontmatter.steps).toEqual([{ prompt: 'one' }, { prompt: 'two', model: 'n' }]);
  });

  it('says what is wrong', () => {
    expect(invalid('---\na: [\n---\nx')).toMatch(/^the frontmatter is not valid YAML/);
    expect(invalid('---\ntype: essay\n---\nx')).toMatch(/type: /);
    expect(invalid('---\nskills: editor\n---\nx')).toMatch(/skills: /);
    expect(invalid('---\ntype: chain\nsteps: []\n---\nx')).toMatch(/a chain job needs `steps`/);
    expect(invalid('---\nsteps:\n  - prompt: a\n---\nx')).toMatch(/only applies to type chain/);
    expect(invalid('---\ntype: chain\nsteps:\n  - prompt: "  "\n---\n')).toMatch(/non-empty prompt/);
    expect(invalid('---\ntitle: t\n---\n   \n')).toMatch(/body is empty/);
    expect(invalid('---\nid: ""\n---\nx')).toMatch(/id: /);
  });

  it('the prompt leaves out what the runtime appended', () => {
    const raw = appendSection('---\nid: X\n---\nThe prompt.\n', 'Failed', '- code: `INTERNAL`');
    expect(raw).toBe(`---\nid: X\n---\nThe prompt.\n\n${APPENDED_MARKER}\n## Failed\n\n- code: \`INTERNAL\`\n`);
    expect(parseJobDocument(raw).prompt).toBe('The prompt.');
  });

  it('inserts an id without touching anything else', () => {
    expect(insertId('---\ntitle: "x" # keep\n---\nbody', 'ID1')).toBe('---\nid: ID1\ntitle: "x" # keep\n---\nbody');
    expect(insertId('---\r\ntitle: x\r\n---\r\nbody', 'ID1')).toBe('---\r\nid: ID1\r\ntitle: x\r\n---\r\nbody');
    expect(insertId('body only', 'ID1')).toBe('---\nid: ID1\n---\nbody only');
    expect(insertId('\uFEFF---\na: 1\n---\nb', 'ID1')).toBe('\uFEFF---\nid: ID1\na: 1\n---\nb');
    expect(parseJobDocument(insertId('---\ntitle: x\n---\nbody', 'ID1')).frontmatter.id).toBe('ID1');
  });

  it('ids are ULIDs that sort by time', () => {
    const a = newJobId(1_700_000_000_000);
    const b = newJobId(1_700_000_000_001);
    expect(a).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(a < b).toBe(true);
  });
});

describe('outputs', () => {
  it('names outputs by UTC time and slug', () => {
    const d = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(outputName(d, 'weekly-summary', 1)).toBe('2026-01-02-030405-weekly-summary.md');
    expect(outputName(d, 'weekly-summary', 3)).toBe('2026-01-02-030405-weekly-summary-3.md');
    expect(slugify('Résumé: Q3 / plans!.md')).toBe('resume-q3-plans');
    expect(slugify('???')).toBe('job');
    expect(slugify('a'.repeat(100)).length).toBe(60);
    expect(wikiLink('runner-outputs/x.md')).toBe('[[runner-outputs/x]]');
  });

  it('renders frontmatter then the answer', () => {
    const text = renderOutput(
      {
        jobId: 'J',
        type: 'text',
        model: 'm',
        skills: ['s'],
        tokensIn: 1,
        tokensOut: 2,
        durationMs: 3,
        source: 'a.md',
        createdAt: new Date(0),
      },
      'The answer.',
    );
    expect(text).toBe(
      "---\njob_id: J\ntype: text\nmodel: m\nskills:\n  - s\ntokens_in: 1\ntokens_out: 2\nduration_ms: 3\nstatus: completed\nsource: a.md\ncreated: '1970-01-01T00:00:00.000Z'\n---\n\nThe answer.\n",
    );
  });
});

describe('JobLedger', () => {
  let v: TempVault;
  beforeEach(async () => {
    v = await makeVault();
  });
  afterEach(async () => {
    await v.cleanup();
  });

  it('records reservations and moves, durably across reopen', () => {
    const path = join(v.dataDir, 'jobs.db');
    const l = new JobLedger(path);
    expect(l.get('A')).toBeUndefined();
    l.reserve('A', 'out/a.md', 'a.md', 100);
    expect(l.outputTaken('out/a.md', 'B')).toBe(true);
    expect(l.outputTaken('out/a.md', 'A')).toBe(false);
    l.markMoved('A', 200);
    l.close();
    const again = new JobLedger(path);
    expect(again.get('A')).toEqual({ id: 'A', output: 'out/a.md', source: 'a.md', reservedAt: 100, movedAt: 200 });
    again.close();
  });

  it('fails with STORE_ERROR when the database cannot be opened', async () => {
    const notADir = join(v.root, 'file');
    await writeFile(notADir, 'x');
    let err: unknown;
    try {
      new JobLedger(join(notADir, 'jobs.db'));
    } catch (e) {
      err = e;
    }
    expect(isRuntimeError(err, 'STORE_ERROR')).toBe(true);
    expect((err as Error).message).toMatch(/cannot open the job ledger/);
  });
});
