import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { diffLines, renderChanges } from '../../runtime/src/agents/line-diff.js';

/* The line diff research answers gain against their previous answer. */

const side = (lines: ReturnType<typeof diffLines>, keep: ' ' | '+' | '-'): string[] =>
  lines.filter((l) => l.op === ' ' || l.op === keep).map((l) => l.text);

describe('diffLines', () => {
  it('marks removed and added lines around what stayed', () => {
    expect(diffLines('a\nb\nc\n', 'a\nB\nc\nd\n')).toEqual([
      { op: ' ', text: 'a' },
      { op: '-', text: 'b' },
      { op: '+', text: 'B' },
      { op: ' ', text: 'c' },
      { op: '+', text: 'd' },
    ]);
    expect(diffLines('', 'x')).toEqual([{ op: '+', text: 'x' }]);
    expect(diffLines('x\r\ny', 'x\ny')).toEqual([
      { op: ' ', text: 'x' },
      { op: ' ', text: 'y' },
    ]);
  });

  it('rebuilds both sides and keeps a longest common subsequence (property)', () => {
    const text = fc.array(fc.constantFrom('a', 'b', 'c', 'd', ''), { maxLength: 30 }).map((l) => l.join('\n'));
    fc.assert(
      fc.property(text, text, (a, b) => {
        const d = diffLines(a, b);
        const lines = (s: string): string[] => (s === '' ? [] : s.split('\n'));
        const trim = (l: string[]): string[] => (l.length && l[l.length - 1] === '' ? l.slice(0, -1) : l);
        expect(side(d, '-')).toEqual(trim(lines(a)));
        expect(side(d, '+')).toEqual(trim(lines(b)));
        // Minimal: the kept lines are as many as an LCS has.
        const x = trim(lines(a));
        const y = trim(lines(b));
        const L = Array.from({ length: x.length + 1 }, () => new Array<number>(y.length + 1).fill(0));
        for (let i = x.length - 1; i >= 0; i--)
          for (let j = y.length - 1; j >= 0; j--) L[i]![j] = x[i] === y[j] ? L[i + 1]![j + 1]! + 1 : Math.max(L[i + 1]![j]!, L[i]![j + 1]!);
        expect(d.filter((l) => l.op === ' ')).toHaveLength(L[0]![0]!);
      }),
      { numRuns: 300 },
    );
  });
});

describe('renderChanges', () => {
  it('shows the changes with a line of context in a fenced diff, or nothing when nothing changed', () => {
    const before = [
      '# Serving',
      '',
      'Ollama 0.17 is current.',
      'vLLM 0.9 adds tool calls.',
      'TGI is archived.',
      'llama.cpp is steady.',
      '',
    ].join('\n');
    const after = [
      '# Serving',
      '',
      'Ollama 0.18 is current.',
      'vLLM 0.9 adds tool calls.',
      'TGI is archived.',
      'llama.cpp is steady.',
      'SGLang joined.',
    ].join('\n');
    expect(renderChanges(before, after)).toBe(
      [
        '```diff',
        '  ',
        '- Ollama 0.17 is current.',
        '+ Ollama 0.18 is current.',
        '  vLLM 0.9 adds tool calls.',
        '…',
        '  llama.cpp is steady.',
        '+ SGLang joined.',
        '```',
      ].join('\n'),
    );
    expect(renderChanges(before, before)).toBeUndefined();
    // Only blank lines moved: no change worth showing.
    expect(renderChanges('a\n\nb', 'a\nb')).toBeUndefined();
  });

  it('fences an answer that holds a code block with a longer fence', () => {
    const out = renderChanges('x', 'x\n```js\ncode\n```')!;
    expect(out.startsWith('````diff\n')).toBe(true);
    expect(out.endsWith('\n````')).toBe(true);
  });
});
