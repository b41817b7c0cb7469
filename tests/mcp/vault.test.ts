import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../runtime/src/errors.js';
import { parseJobDocument } from '../../runtime/src/jobs/document.js';
import { VaultAccess, splitFrontmatter } from '../../runtime/src/mcp/index.js';
import { makeVault } from './helpers.js';

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isRuntimeError(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'OK';
}

describe('vault tools stay inside the vault', () => {
  let v: ReturnType<typeof makeVault>;
  let vault: VaultAccess;
  beforeAll(async () => {
    v = makeVault();
    // Links planted by anything that writes the vault (Syncthing from another device).
    symlinkSync(v.outside, join(v.vault, 'notes', 'escape-dir'));
    symlinkSync(join(v.outside, 'secret.md'), join(v.vault, 'notes', 'escape.md'));
    symlinkSync('/etc', join(v.vault, 'inbox', 'etc'));
    symlinkSync(v.outside, join(v.vault, 'research', 'out'));
    symlinkSync(join(v.vault, 'notes', 'tides.md'), join(v.vault, 'notes', 'alias.md'));
    vault = await VaultAccess.open({
      root: v.vault,
      writableFolders: ['inbox', 'research'],
      queueFolders: ['_queue', '_active', '_completed', '_failed'],
      queueFolder: '_queue',
      maxReadBytes: 10_000,
      maxWriteBytes: 1000,
    });
  });

  it.each([
    ['../vault-evil/secret.md', /climbs out/],
    ['notes/../../vault-evil/secret.md', /climbs out/],
    [`${'x'.repeat(0)}/etc/passwd`, /absolute/],
    ['~/secret.md', /absolute/],
    ['notes/tides.md\0.txt', /NUL/],
    ['notes\\..\\..\\x', /backslash/],
    ['.obsidian/app.json', /hidden/],
    ['notes/escape.md', /out of the vault through a symbolic link/],
    ['notes/escape-dir/secret.md', /out of the vault through a symbolic link/],
  ])('refuses to read %j', async (path, why) => {
    const r = await code(vault.read(path));
    expect(r).toMatch(/^VAULT_PATH_REFUSED: /);
    expect(r).toMatch(why);
  });

  it('refuses the prefix sibling (/vault-evil) even as an absolute path built from the root', async () => {
    expect(await code(vault.read(`${v.vault}-evil/secret.md`))).toMatch(/^VAULT_PATH_REFUSED: .*absolute/);
    expect(await code(vault.list('notes/escape-dir'))).toMatch(/^VAULT_PATH_REFUSED/);
  });

  it('reads notes and links that stay inside, with YAML-only frontmatter', async () => {
    const n = await vault.read('notes/alias.md');
    expect(n.frontmatter).toEqual({ title: 'Tide notes', tags: ['ocean', 'biology'] });
    // A `---js` block is not YAML frontmatter and is never evaluated: it stays body text.
    const js = await vault.read('notes/code.md');
    expect(js.frontmatter).toEqual({});
    expect(js.body).toContain('require("child_process")');
    expect(await code(vault.read('notes/missing.md'))).toMatch(/^VAULT_NOT_FOUND/);
    expect(splitFrontmatter('---\n!!js/function "function(){}"\n---\nx').frontmatter).toEqual({});
  });

  it('lists a folder without hidden entries and without links that leave', async () => {
    const { entries } = await vault.list('notes');
    expect(entries.map((e) => e.path)).toEqual(['notes/alias.md', 'notes/bread.md', 'notes/code.md', 'notes/tides.md']);
    const root = (await vault.list('')).entries.map((e) => e.path);
    expect(root).not.toContain('.obsidian');
  });

  it('searches notes by words in title, frontmatter and text, never through links', async () => {
    const { hits } = await vault.search('ocean tide', { limit: 10 });
    expect(hits.map((h) => h.path)).toEqual(['notes/tides.md']);
    expect(hits[0]).toMatchObject({ title: 'Tide notes', tags: ['ocean', 'biology'] });
    expect((await vault.search('secret', { limit: 10 })).hits).toEqual([]);
  });

  it('writes only under allowed folders, never through links, by temp file and rename', async () => {
    expect(await vault.write('inbox/idea.md', '# Idea\n', 'create')).toEqual({ path: 'inbox/idea.md', bytes: 7, result: 'created' });
    expect(await code(vault.write('inbox/idea.md', 'again', 'create'))).toMatch(/already exists/);
    expect((await vault.write('inbox/idea.md', '# Idea 2\n', 'overwrite')).result).toBe('replaced');
    expect(readFileSync(join(v.vault, 'inbox', 'idea.md'), 'utf8')).toBe('# Idea 2\n');
    expect(await vault.write('research/deep/nested/n.md', 'x', 'create')).toMatchObject({ result: 'created' });
    expect(readdirSync(join(v.vault, 'inbox')).filter((n) => n.startsWith('.'))).toEqual([]);

    expect(await code(vault.write('notes/tides.md', 'x', 'overwrite'))).toMatch(/outside the folders notes may be written to/);
    expect(await code(vault.write('inboxer/x.md', 'x', 'create'))).toMatch(/outside the folders/);
    expect(await code(vault.write('_queue/job.md', 'x', 'create'))).toMatch(/inside the job queue/);
    expect(await code(vault.write('inbox/../notes/x.md', 'x', 'create'))).toMatch(/climbs out/);
    expect(await code(vault.write('inbox/etc/passwd.md', 'x', 'create'))).toMatch(/symbolic link/);
    expect(await code(vault.write('research/out/planted.md', 'x', 'create'))).toMatch(/symbolic link/);
    expect(existsSync(join(v.outside, 'planted.md'))).toBe(false);
    expect(await code(vault.write('inbox/x.txt', 'x', 'create'))).toMatch(/not a markdown note/);
    expect(await code(vault.write('inbox/big.md', 'x'.repeat(2000), 'create'))).toMatch(/^MCP_TOOL_INPUT: .*at most 1000/);
  });

  it('refuses to replace a link with a note or write into a file path', async () => {
    symlinkSync(join(v.outside, 'secret.md'), join(v.vault, 'inbox', 'link.md'));
    expect(await code(vault.write('inbox/link.md', 'x', 'overwrite'))).toMatch(/not a regular file/);
    expect(readFileSync(join(v.outside, 'secret.md'), 'utf8')).toBe('the secret outside the vault\n');
    mkdirSync(join(v.vault, 'inbox', 'dir.md'));
    expect(await code(vault.write('inbox/dir.md', 'x', 'overwrite'))).toMatch(/not a regular file/);
    writeFileSync(join(v.vault, 'inbox', 'file'), 'x');
    expect(await code(vault.write('inbox/file/n.md', 'x', 'create'))).toMatch(/is a file, not a folder/);
  });

  it('enqueues job files under fresh names that the worker can parse', async () => {
    const content = '---\ntype: text\n---\n\nWhat is a tide?\n';
    expect(await vault.enqueue('ask', content)).toEqual({ path: '_queue/ask.md' });
    expect(await vault.enqueue('ask', content)).toEqual({ path: '_queue/ask-2.md' });
    const doc = parseJobDocument(readFileSync(join(v.vault, '_queue', 'ask-2.md'), 'utf8'));
    expect(doc.prompt).toBe('What is a tide?');
  });
});
