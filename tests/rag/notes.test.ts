import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../runtime/src/errors.js';
import { chunkMarkdown } from '../../runtime/src/rag/chunker.js';
import { LinkResolver, parseNote, readNote, splitFrontmatter, walkVault } from '../../runtime/src/rag/notes.js';
import { tempDir } from '../helpers.js';

describe('frontmatter', () => {
  it('is plain YAML only: a ---js block is not code, custom tags are refused', () => {
    const js = splitFrontmatter('---js\n{ title: (function(){ globalThis.pwned = 1; return "x" })() }\n---\nbody');
    expect(js.data).toEqual({});
    expect((globalThis as { pwned?: number }).pwned).toBeUndefined();
    // An unknown tag is never constructed: at most an inert string, or the block is refused.
    const tagged = splitFrontmatter('---\ntitle: !!js/function "function(){}"\n---\nbody');
    expect(['undefined', 'string']).toContain(typeof tagged.data.title);
    const ok = splitFrontmatter('---\ntitle: Hello\ntags: [a, b]\n---\n# Body\n');
    expect(ok).toEqual({ data: { title: 'Hello', tags: ['a', 'b'] }, body: '# Body\n' });
    expect(splitFrontmatter('---\n- a list\n---\nx').error).toMatch(/not a mapping/);
  });

  it('reads title, tags (frontmatter and inline), aliases, links and date; links in code are not links', () => {
    const n = parseNote(
      'a/b/Note.md',
      '---\ntags: [Project]\naliases: [Nb]\ndate: 2025-03-04\n---\n# The Note\n\nSee [[Other]] and [[Deep/Thing#Part|label]] #inline-tag.\n\n```\n[[NotALink]] #nottag\n```\n',
      0,
    );
    expect(n).toMatchObject({
      title: 'The Note',
      folder: 'a/b',
      tags: ['inline-tag', 'project'],
      aliases: ['Nb'],
      links: ['Other', 'Deep/Thing'],
      date: Date.UTC(2025, 2, 4),
    });
  });

  it('resolves links by path, then file name, then alias', () => {
    const r = new LinkResolver([{ path: 'x/Other.md' }, { path: 'Deep/Thing.md' }, { path: 'y/Third.md', aliases: ['Tres'] }]);
    expect(r.resolve('Other')).toBe('x/Other.md');
    expect(r.resolve('deep/thing')).toBe('Deep/Thing.md');
    expect(r.resolve('Tres')).toBe('y/Third.md');
    expect(r.resolve('Missing')).toBeUndefined();
  });
});

describe('chunking', () => {
  it('splits by heading, keeps the heading path, never splits a code block or a table, overlaps prose', () => {
    const code = `\`\`\`ts\n${Array.from({ length: 40 }, (_, i) => `const v${i} = ${i};`).join('\n')}\n\`\`\``;
    const table = `| a | b |\n|---|---|\n${Array.from({ length: 30 }, (_, i) => `| ${i} | ${i * 2} |`).join('\n')}`;
    const prose = Array.from({ length: 12 }, (_, i) => `Sentence number ${i} talks about the plan in some detail.`).join(' ');
    const body = `# Top\n\nIntro.\n\n## Code\n\n${code}\n\n## Data\n\n### Table\n\n${table}\n\n## Prose\n\n${prose}\n`;
    const chunks = chunkMarkdown(body, { maxChars: 300, overlapChars: 60 });
    expect(chunks[0]).toEqual({ headings: ['Top'], text: 'Intro.' });
    expect(chunks.find((c) => c.text.startsWith('```ts'))).toEqual({ headings: ['Top', 'Code'], text: code });
    expect(chunks.find((c) => c.text.startsWith('| a | b |'))).toEqual({ headings: ['Top', 'Data', 'Table'], text: table });
    const proseChunks = chunks.filter((c) => c.headings.at(-1) === 'Prose');
    expect(proseChunks.length).toBeGreaterThan(1);
    for (const c of proseChunks) expect(c.text.length).toBeLessThanOrEqual(300);
    // The next chunk starts with the tail of the previous one.
    const tail = proseChunks[0]!.text.slice(-20);
    expect(proseChunks[1]!.text).toContain(tail);
  });
});

describe('reading the vault', () => {
  it('never follows a symlink, refuses paths out of the root, bounds sizes', async () => {
    const root = tempDir('rag-notes-');
    mkdirSync(join(root, 'a'));
    writeFileSync(join(root, 'a/ok.md'), '# ok');
    writeFileSync(join(root, 'a/big.md'), 'x'.repeat(5000));
    symlinkSync('/etc/passwd', join(root, 'a/link.md'));
    mkdirSync(join(root, 'real'));
    writeFileSync(join(root, 'real/in.md'), '# in');
    const outside = tempDir('rag-outside-');
    writeFileSync(join(outside, 'in.md'), '# outside');
    symlinkSync(outside, join(root, 'dirlink'));
    const { notes, skipped } = await walkVault(root, { skipFolders: [], maxNoteBytes: 1000 });
    expect(notes.map((n) => n.path)).toEqual(['a/ok.md', 'real/in.md']);
    expect(skipped.map((s) => s.path).sort()).toEqual(['a/big.md', 'a/link.md', 'dirlink']);
    await expect(readNote(root, 'a/link.md', 1000)).rejects.toThrow(/ELOOP|symbolic/);
    await expect(readNote(root, 'dirlink/in.md', 1000)).rejects.toSatisfy((e: unknown) => isRuntimeError(e, 'RAG_BAD_REQUEST'));
    await expect(readNote(root, '../etc/passwd', 1000)).rejects.toSatisfy((e: unknown) => isRuntimeError(e, 'RAG_BAD_REQUEST'));
    await expect(readNote(root, 'a/big.md', 1000)).rejects.toSatisfy((e: unknown) => isRuntimeError(e));
    expect(await readNote(root, 'a/ok.md', 1000)).toBe('# ok');
  });
});
