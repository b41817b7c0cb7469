/*
 * A line diff for research answers: what a re-run of a standing question says that the previous
 * answer did not, and what it no longer says. Longest common subsequence over lines, after a
 * common prefix and suffix are trimmed, so a mostly unchanged answer costs little. Both sides are
 * bounded by the caller (answers are capped by vault.worker.maxAnswerChars); past MAX_CELLS the
 * middle is reported as replaced whole rather than spend quadratic time.
 */

export type DiffLine = { readonly op: ' ' | '+' | '-'; readonly text: string };

const MAX_CELLS = 4_000_000;

export function diffLines(before: string, after: string): DiffLine[] {
  const a = splitLines(before);
  const b = splitLines(after);
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const out: DiffLine[] = a.slice(0, start).map((text) => ({ op: ' ', text }));
  const midA = a.slice(start, endA);
  const midB = b.slice(start, endB);
  if (midA.length * midB.length > MAX_CELLS) {
    for (const text of midA) out.push({ op: '-', text });
    for (const text of midB) out.push({ op: '+', text });
  } else {
    out.push(...lcs(midA, midB));
  }
  for (const text of a.slice(endA)) out.push({ op: ' ', text });
  return out;
}

function splitLines(s: string): string[] {
  if (s === '') return [];
  const lines = s.replace(/\r\n?/g, '\n').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function lcs(a: readonly string[], b: readonly string[]): DiffLine[] {
  const n = a.length;
  const m = b.length;
  // len[i][j]: LCS length of a[i..] and b[j..], one flat array.
  const w = m + 1;
  const len = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      len[i * w + j] = a[i] === b[j] ? len[(i + 1) * w + j + 1]! + 1 : Math.max(len[(i + 1) * w + j]!, len[i * w + j + 1]!);
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push({ op: ' ', text: a[i]! });
      i++;
      j++;
    } else if (len[(i + 1) * w + j]! >= len[i * w + j + 1]!) {
      out.push({ op: '-', text: a[i++]! });
    } else {
      out.push({ op: '+', text: b[j++]! });
    }
  }
  while (i < n) out.push({ op: '-', text: a[i++]! });
  while (j < m) out.push({ op: '+', text: b[j++]! });
  return out;
}

/**
 * The changed lines with `context` unchanged lines around each change, as a fenced `diff` block,
 * or undefined when nothing changed. Blank lines are not worth a hunk of their own.
 */
export function renderChanges(before: string, after: string, context = 1): string | undefined {
  const lines = diffLines(before, after);
  const changed = lines.map((l, i) => (l.op !== ' ' && l.text.trim() !== '' ? i : -1)).filter((i) => i >= 0);
  if (changed.length === 0) return undefined;
  const keep = new Set<number>();
  for (const i of changed) for (let k = Math.max(0, i - context); k <= Math.min(lines.length - 1, i + context); k++) keep.add(k);
  const out: string[] = [];
  let last = -1;
  for (let i = 0; i < lines.length; i++) {
    if (!keep.has(i)) continue;
    if (last >= 0 && i > last + 1) out.push('…');
    const l = lines[i]!;
    out.push(`${l.op} ${l.text}`);
    last = i;
  }
  // A fence longer than any backtick run in the text, so an answer's own code blocks stay inside.
  const longest = Math.max(2, ...[...out.join('\n').matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}diff\n${out.join('\n')}\n${fence}`;
}
