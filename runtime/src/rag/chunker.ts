/*
 * Markdown-aware chunking: sections by heading (the heading path travels with each chunk as
 * context), blocks packed up to `maxChars`, fenced code blocks and tables never split (a longer
 * one becomes a chunk of its own), long prose split at sentence ends, and the tail of one prose
 * chunk repeated at the head of the next within a section (`overlapChars`).
 */

export interface ChunkOptions {
  readonly maxChars: number;
  readonly overlapChars: number;
}

export interface RawChunk {
  readonly headings: string[];
  readonly text: string;
}

interface Block {
  readonly text: string;
  /** Code and tables are atomic. */
  readonly atomic: boolean;
}

interface Section {
  readonly headings: string[];
  readonly blocks: Block[];
}

const FENCE = /^\s{0,3}(```+|~~~+)/;
const HEADING = /^(#{1,6})\s+(.*?)\s*#*\s*$/;
const TABLE_LINE = /^\s*\|/;

function sections(body: string): Section[] {
  const out: Section[] = [];
  const path: { level: number; text: string }[] = [];
  let current: Section = { headings: [], blocks: [] };
  let para: string[] = [];
  const flush = (): void => {
    const t = para.join('\n').trim();
    if (t) current.blocks.push({ text: t, atomic: false });
    para = [];
  };
  const lines = body.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const fence = FENCE.exec(line);
    if (fence) {
      flush();
      const marker = fence[1]!;
      const buf = [line];
      i++;
      while (i < lines.length) {
        buf.push(lines[i]!);
        if (lines[i]!.trimStart().startsWith(marker.slice(0, 3)) && lines[i]!.trim().replace(/[`~]/g, '') === '') break;
        i++;
      }
      current.blocks.push({ text: buf.join('\n'), atomic: true });
      continue;
    }
    if (TABLE_LINE.test(line)) {
      flush();
      const buf = [line];
      while (i + 1 < lines.length && TABLE_LINE.test(lines[i + 1]!)) buf.push(lines[++i]!);
      current.blocks.push({ text: buf.join('\n'), atomic: true });
      continue;
    }
    const h = HEADING.exec(line);
    if (h) {
      flush();
      if (current.blocks.length) out.push(current);
      const level = h[1]!.length;
      while (path.length && path[path.length - 1]!.level >= level) path.pop();
      path.push({ level, text: h[2]! });
      current = { headings: path.map((p) => p.text), blocks: [] };
      continue;
    }
    if (!line.trim()) {
      flush();
      continue;
    }
    para.push(line);
  }
  flush();
  if (current.blocks.length) out.push(current);
  return out;
}

/** Prose longer than max: at sentence ends, then at spaces, then hard. */
function splitProse(text: string, max: number): string[] {
  if (text.length <= max) return [text];
  const sentences = text.match(/[^.!?\n]+(?:[.!?]+|\n|$)\s*/g) ?? [text];
  const out: string[] = [];
  let cur = '';
  for (const s of sentences) {
    if (cur && cur.length + s.length > max) {
      out.push(cur.trim());
      cur = '';
    }
    if (s.length > max) {
      for (let i = 0; i < s.length; i += max) out.push(s.slice(i, i + max).trim());
      continue;
    }
    cur += s;
  }
  if (cur.trim()) out.push(cur.trim());
  return out.filter(Boolean);
}

function tail(text: string, n: number): string {
  if (n <= 0 || text.length <= n) return n <= 0 ? '' : text;
  const t = text.slice(-n);
  const sp = t.indexOf(' ');
  return sp >= 0 ? t.slice(sp + 1) : t;
}

export function chunkMarkdown(body: string, opts: ChunkOptions): RawChunk[] {
  const out: RawChunk[] = [];
  for (const sec of sections(body)) {
    let parts: string[] = [];
    let size = 0;
    let lastProse = '';
    const emit = (): void => {
      if (!parts.length) return;
      out.push({ headings: sec.headings, text: parts.join('\n\n') });
      parts = [];
      size = 0;
    };
    for (const b of sec.blocks) {
      const pieces = b.atomic ? [b.text] : splitProse(b.text, opts.maxChars);
      for (const p of pieces) {
        if (size > 0 && size + p.length + 2 > opts.maxChars) {
          emit();
          const overlap = tail(lastProse, opts.overlapChars);
          if (overlap && !b.atomic && overlap.length + p.length + 2 <= opts.maxChars) {
            parts.push(overlap);
            size = overlap.length;
          }
        }
        parts.push(p);
        size += p.length + 2;
        if (!b.atomic) lastProse = p;
      }
    }
    emit();
  }
  return out;
}
