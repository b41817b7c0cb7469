import fc from 'fast-check';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RuntimeError } from '../../runtime/src/errors.js';
import { insertId, parseJobDocument, peekId } from '../../runtime/src/jobs/document.js';
import { frontmatterComplete, parseFrontmatter } from '../../runtime/src/vault/frontmatter.js';
import { startHarness, type Harness } from './helpers/worker-harness.js';

/*
 * Fuzzing the one parser every vault reader shares, then the whole queue: whatever bytes land
 * in the queue, the parser throws nothing but a catalogued RuntimeError (JOB_INVALID), and the
 * worker files every input in exactly one of the completed and failed folders with the
 * author's bytes kept (the worker only inserts an id line and appends).
 */

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const line = fc.oneof(
  fc.constantFrom(
    'id: x',
    'id: ../..',
    'id: "a/.b\\0c"',
    'id: 12',
    'id:',
    'type: chain',
    'type: text',
    'type: research',
    'type: [x]',
    'steps:',
    '  - prompt: a',
    '  - model: m',
    'model: m',
    'skills: [a, b]',
    'skills: 3',
    'notify: false',
    'notify: maybe',
    'a: &x [1, 2]',
    'b: *x',
    'c: *missing',
    'title: !!js/function "function () { return 1 }"',
    '? [a]',
    '- x',
    '{',
    '}',
    '"unterminated',
    'system: |',
    '  multi',
    '---',
    '...',
    'a: 1',
    'a: 2',
    '\t- tab',
    '<<: *x',
  ),
  fc.string({ maxLength: 40 }),
);
const frontmatterDoc = fc
  .tuple(
    fc.boolean(),
    fc.constantFrom('', 'yaml', 'js', 'javascript', 'coffee', 'json', 'toml', ' ', '-', ';;;', 'JS '),
    fc.constantFrom('\n', '\r\n'),
    fc.array(line, { maxLength: 8 }),
    fc.constantFrom('---', '...', '', '----'),
    fc.string({ maxLength: 80 }),
    fc.uint8Array({ maxLength: 12 }),
  )
  .map(([bom, lang, nl, lines, close, body, junk]) =>
    Buffer.concat([
      bom ? BOM : Buffer.alloc(0),
      Buffer.from(`---${lang}${nl}${lines.join(nl)}${nl}${close}${close ? nl : ''}${body}`),
      Buffer.from(junk),
    ]),
  );
const anyBytes = fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a));
const anyText = fc.string({ maxLength: 400 }).map((s) => Buffer.from(s));
const input = fc.oneof(frontmatterDoc, frontmatterDoc, anyBytes, anyText);

function parsesOrJobInvalid(b: Buffer): void {
  try {
    parseJobDocument(b, { maxChainSteps: 20 });
  } catch (e) {
    if (!(e instanceof RuntimeError) || e.code !== 'JOB_INVALID') throw e;
  }
}

describe('frontmatter and job parser (property based)', () => {
  it('throws nothing but JOB_INVALID, and peekId and frontmatterComplete never throw', () => {
    fc.assert(
      fc.property(input, (b) => {
        parsesOrJobInvalid(b);
        peekId(b);
        frontmatterComplete(b);
        try {
          parseFrontmatter(b);
        } catch (e) {
          expect(e instanceof RuntimeError && e.code === 'FRONTMATTER_INVALID').toBe(true);
        }
      }),
      { numRuns: 3_000 },
    );
  });

  it('inserting the id keeps every original byte, in order, and the id reads back', () => {
    fc.assert(
      fc.property(input, (b) => {
        const out = insertId(b, 'FUZZ1');
        const added = out.length - b.length;
        expect(added).toBeGreaterThan(0);
        // The original is the result with one contiguous run of added bytes taken out.
        let i = 0;
        while (i < b.length && out[i] === b[i]) i++;
        expect(Buffer.concat([out.subarray(0, i), out.subarray(i + added)]).equals(b)).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('the queue under fuzzed files', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('every input ends in exactly one of completed and failed, its bytes kept', async () => {
    const inputs = fc.sample(input, { numRuns: 60, seed: 20261202 });
    h = await startHarness();
    await h.start({ incompleteWaitMs: 300, concurrency: 4 });
    for (const [i, b] of inputs.entries()) await h.v.drop(`fuzz-${String(i).padStart(2, '0')}.md`, b as unknown as string);
    const outcomes = await h.settled(inputs.length, 60_000);
    const completed = await readdir(h.v.dir('completed'));
    const failed = await readdir(h.v.dir('failed'));
    expect(await h.v.list('queue')).toEqual([]);
    expect(await h.v.list('active')).toEqual([]);
    for (const [i, original] of inputs.entries()) {
      const name = `fuzz-${String(i).padStart(2, '0')}.md`;
      const places = [completed.includes(name) && 'completed', failed.includes(name) && 'failed'].filter(Boolean);
      expect(places, name).toHaveLength(1);
      const final = await readFile(join(places[0] === 'completed' ? h.v.dir('completed') : h.v.dir('failed'), name));
      const o = outcomes.find((x) => x.name === name)!;
      expect(o.status === 'completed' || o.status === 'failed' || o.status === 'duplicate', `${name}: ${o.status}`).toBe(true);
      // Either the author's bytes, or them with the id line the worker inserted, then appended sections.
      const head = final.subarray(0, original.length).equals(original) ? original : o.jobId ? insertId(original, o.jobId) : original;
      expect(final.subarray(0, head.length).equals(head), `${name} lost bytes`).toBe(true);
      if (o.status === 'failed') expect(o.error?.code, name).not.toBe('INTERNAL');
    }
  }, 90_000);
});
