import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, realpath, rename, unlink } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { RuntimeError } from '../errors.js';
import { TEMP_PREFIX } from '../queue/names.js';
import { parseFrontmatter } from '../vault/index.js';

/*
 * The MCP tools' view of the vault. Every path a caller gives is relative, checked segment by
 * segment (no NUL, no "..", no dot-folders, not absolute) and then confined with realpath, so a
 * sibling such as /vault-evil or a symlink pointing out of the vault is refused. Files are read
 * with O_NOFOLLOW and only when regular; writes go to a temporary file and one rename, and only
 * under the folders the model allows. Frontmatter goes through the vault's YAML-only parser
 * (runtime/src/vault/frontmatter.ts): nothing in a note runs.
 */

export interface VaultAccessOptions {
  /** The vault root (need not be canonical: it is resolved once). */
  root: string;
  /** Folders (relative) writes may go under. */
  writableFolders: readonly string[];
  /** Folders no tool writes into directly (the job queue's), relative. */
  queueFolders: readonly string[];
  /** Where submit_job puts job files. */
  queueFolder: string;
  maxReadBytes: number;
  maxWriteBytes: number;
}

export interface Note {
  path: string;
  frontmatter: Record<string, unknown>;
  body: string;
  bytes: number;
  truncated: boolean;
}

export interface ListEntry {
  path: string;
  type: 'file' | 'folder';
  bytes?: number;
}

export interface SearchHit {
  path: string;
  title: string;
  score: number;
  snippet: string;
  tags: string[];
}

function refused(message: string, hint = 'give a path relative to the vault root, such as "notes/idea.md"'): RuntimeError {
  return new RuntimeError('VAULT_PATH_REFUSED', message, { hint });
}

/** The checked segments of a caller's relative path ("" or "." is the root). */
export function pathSegments(raw: string): string[] {
  if (typeof raw !== 'string') throw refused('the path is not a string');
  if (raw.length > 1024) throw refused('the path is longer than 1024 characters');
  if (raw.includes('\0')) throw refused('the path contains a NUL byte');
  if (raw.includes('\\')) throw refused(`"${raw}" contains a backslash`, 'use "/" between folders');
  if (raw.startsWith('/') || raw.startsWith('~') || /^[a-zA-Z]:/.test(raw))
    throw refused(`"${raw}" is absolute; paths are relative to the vault root`);
  const segments: string[] = [];
  for (const s of raw.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') throw refused(`"${raw}" climbs out with ".."`);
    if (s.startsWith('.'))
      throw refused(
        `"${raw}" names a hidden file or folder ("${s}")`,
        'hidden folders (.obsidian, .stfolder, temporary files) are not notes',
      );
    segments.push(s);
  }
  return segments;
}

/**
 * A note's frontmatter through the vault's shared YAML-only parser. A note whose frontmatter is
 * refused (a `---js` block, broken YAML) is still a note: its whole text is the body.
 */
export function splitFrontmatter(text: string): { frontmatter: Record<string, unknown>; body: string } {
  try {
    const fm = parseFrontmatter(text);
    return { frontmatter: { ...fm.data }, body: fm.body };
  } catch {
    return { frontmatter: {}, body: text };
  }
}

function isErrno(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

export class VaultAccess {
  private constructor(
    readonly root: string,
    private readonly opts: VaultAccessOptions,
  ) {}

  static async open(opts: VaultAccessOptions): Promise<VaultAccess> {
    let root: string;
    try {
      root = await realpath(opts.root);
    } catch (e) {
      throw new RuntimeError('CONFIG_INVALID', `the vault ${opts.root} cannot be opened: ${(e as Error).message}`, {
        hint: 'set VAULT_DIR or vault.path to the mounted vault',
      });
    }
    return new VaultAccess(root, opts);
  }

  private inside(abs: string): boolean {
    return abs === this.root || abs.startsWith(this.root + sep);
  }

  /** Absolute path of an existing entry, every symlink resolved and confined. */
  private async existing(raw: string): Promise<{ abs: string; rel: string }> {
    const segs = pathSegments(raw);
    const rel = segs.join('/');
    let abs: string;
    try {
      abs = await realpath(join(this.root, ...segs));
    } catch (e) {
      if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR'))
        throw new RuntimeError('VAULT_NOT_FOUND', `"${rel}" does not exist in the vault`, {
          hint: 'use vault_list or vault_search to find the note',
        });
      throw refused(`"${rel}" cannot be resolved: ${(e as Error).message}`);
    }
    if (!this.inside(abs))
      throw refused(`"${rel}" leads out of the vault through a symbolic link`, 'links out of the vault are never followed');
    return { abs, rel };
  }

  private isQueueInternal(segs: readonly string[]): boolean {
    const rel = segs.join('/');
    return this.opts.queueFolders.some((q) => rel === q || rel.startsWith(`${q}/`));
  }

  async read(raw: string): Promise<Note> {
    const { abs, rel } = await this.existing(raw);
    const fh = await open(abs, constants.O_RDONLY | constants.O_NOFOLLOW).catch((e: unknown) => {
      throw refused(`"${rel}" cannot be opened: ${(e as Error).message}`);
    });
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw refused(`"${rel}" is not a file`, 'use vault_list for folders');
      const size = Math.min(st.size, this.opts.maxReadBytes);
      const buf = Buffer.alloc(size);
      const { bytesRead } = await fh.read(buf, 0, size, 0);
      const text = buf.subarray(0, bytesRead).toString('utf8');
      const { frontmatter, body } = splitFrontmatter(text);
      return { path: rel, frontmatter, body, bytes: st.size, truncated: st.size > this.opts.maxReadBytes };
    } finally {
      await fh.close();
    }
  }

  async list(raw: string, limit = 500): Promise<{ entries: ListEntry[]; truncated: boolean }> {
    const { abs, rel } = await this.existing(raw);
    const st = await lstat(abs);
    if (!st.isDirectory()) throw refused(`"${rel}" is not a folder`, 'use vault_read for notes');
    const names = (await readdir(abs, { withFileTypes: true }))
      .filter((d) => !d.name.startsWith('.'))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    const entries: ListEntry[] = [];
    for (const d of names) {
      if (entries.length >= limit) break;
      const childRel = rel ? `${rel}/${d.name}` : d.name;
      // Symlinks are listed only when they stay inside; a dangling or escaping link is left out.
      let type: 'file' | 'folder' | undefined;
      let bytes: number | undefined;
      if (d.isSymbolicLink()) {
        try {
          const target = await realpath(join(abs, d.name));
          if (!this.inside(target)) continue;
          const ts = await lstat(target);
          type = ts.isDirectory() ? 'folder' : ts.isFile() ? 'file' : undefined;
          bytes = ts.isFile() ? ts.size : undefined;
        } catch {
          continue;
        }
      } else if (d.isDirectory()) type = 'folder';
      else if (d.isFile()) {
        type = 'file';
        bytes = (await lstat(join(abs, d.name))).size;
      }
      if (type) entries.push({ path: childRel, type, ...(bytes !== undefined ? { bytes } : {}) });
    }
    return { entries, truncated: names.length > entries.length };
  }

  /**
   * Full-text search over markdown notes: every query term must occur in the title, the
   * frontmatter (tags, aliases, any string) or the body. Symlinks are not walked.
   */
  async search(
    query: string,
    opts: { limit: number; folder?: string; maxFiles?: number },
  ): Promise<{ hits: SearchHit[]; scanned: number }> {
    const terms = query
      .toLowerCase()
      .split(/\s+/)
      .filter((t) => t.length > 0)
      .slice(0, 16);
    if (terms.length === 0) throw new RuntimeError('MCP_TOOL_INPUT', 'the query has no words', { hint: 'search for one or more words' });
    const start = opts.folder ? await this.existing(opts.folder) : { abs: this.root, rel: '' };
    const maxFiles = opts.maxFiles ?? 20_000;
    const hits: SearchHit[] = [];
    let scanned = 0;
    const walk = async (dir: string, rel: string): Promise<void> => {
      if (scanned >= maxFiles) return;
      const ents = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const d of ents) {
        if (d.name.startsWith('.') || scanned >= maxFiles) continue;
        const childRel = rel ? `${rel}/${d.name}` : d.name;
        if (d.isDirectory()) await walk(join(dir, d.name), childRel);
        else if (d.isFile() && d.name.toLowerCase().endsWith('.md')) {
          scanned++;
          const hit = await this.scoreFile(join(dir, d.name), childRel, terms);
          if (hit) hits.push(hit);
        }
      }
    };
    await walk(start.abs, start.rel);
    hits.sort((a, b) => b.score - a.score || (a.path < b.path ? -1 : 1));
    return { hits: hits.slice(0, opts.limit), scanned };
  }

  private async scoreFile(abs: string, rel: string, terms: string[]): Promise<SearchHit | undefined> {
    let text: string;
    try {
      const fh = await open(abs, constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        const buf = Buffer.alloc(Math.min((await fh.stat()).size, this.opts.maxReadBytes));
        const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
        text = buf.subarray(0, bytesRead).toString('utf8');
      } finally {
        await fh.close();
      }
    } catch {
      return undefined;
    }
    const { frontmatter, body } = splitFrontmatter(text);
    const fmTitle = typeof frontmatter.title === 'string' ? frontmatter.title : undefined;
    const title = fmTitle ?? /^#\s+(.+)$/m.exec(body)?.[1]?.trim() ?? rel.split('/').pop()!.replace(/\.md$/i, '');
    const rawTags = frontmatter.tags;
    const tags = (Array.isArray(rawTags) ? rawTags : typeof rawTags === 'string' ? rawTags.split(/[,\s]+/) : []).filter(
      (t): t is string => typeof t === 'string' && t !== '',
    );
    const fmText = JSON.stringify(frontmatter).toLowerCase();
    const lowerTitle = `${title} ${rel}`.toLowerCase();
    const lowerBody = body.toLowerCase();
    let score = 0;
    for (const t of terms) {
      const inTitle = lowerTitle.includes(t);
      const inFm = fmText.includes(t);
      let count = 0;
      for (let i = lowerBody.indexOf(t); i !== -1 && count < 50; i = lowerBody.indexOf(t, i + t.length)) count++;
      if (!inTitle && !inFm && count === 0) return undefined;
      score += (inTitle ? 5 : 0) + (inFm ? 3 : 0) + Math.log2(1 + count);
    }
    const first = lowerBody.indexOf(terms[0]!);
    const from = Math.max(0, first - 80);
    const snippet = first === -1 ? body.slice(0, 200) : `${from > 0 ? '…' : ''}${body.slice(from, first + 160)}`;
    return { path: rel, title, score: Math.round(score * 100) / 100, snippet: snippet.replace(/\s+/g, ' ').trim(), tags };
  }

  /** Creates the folders of `segs` one level at a time, refusing any symlink on the way. */
  private async ensureDir(segs: readonly string[]): Promise<string> {
    let dir = this.root;
    for (const s of segs) {
      dir = join(dir, s);
      try {
        const st = await lstat(dir);
        if (st.isSymbolicLink()) throw refused(`"${segs.join('/')}" passes through a symbolic link ("${s}")`, 'writes never follow links');
        if (!st.isDirectory()) throw refused(`"${s}" in "${segs.join('/')}" is a file, not a folder`);
      } catch (e) {
        if (!isErrno(e, 'ENOENT')) throw e;
        await mkdir(dir).catch((err: unknown) => {
          if (!isErrno(err, 'EEXIST')) throw err;
        });
      }
    }
    const real = await realpath(dir);
    if (!this.inside(real)) throw refused(`"${segs.join('/')}" leads out of the vault`, 'writes stay inside the vault');
    return real;
  }

  private async writeAtomic(dir: string, name: string, content: string, mode: 'create' | 'overwrite'): Promise<'created' | 'replaced'> {
    const target = join(dir, name);
    let existed = false;
    try {
      const st = await lstat(target);
      if (!st.isFile()) throw refused(`"${name}" exists and is not a regular file`, 'choose another name');
      existed = true;
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
    }
    if (existed && mode === 'create')
      throw refused(`"${name}" already exists`, 'pass mode "overwrite" to replace it, or choose another name');
    const tmp = join(dir, `${TEMP_PREFIX}${randomBytes(6).toString('hex')}-${name}`);
    try {
      const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
      try {
        await fh.writeFile(content, 'utf8');
      } finally {
        await fh.close();
      }
      if (mode === 'create') {
        // A create never replaces: link-free check again right before the rename.
        try {
          await lstat(target);
          throw refused(`"${name}" appeared while writing`, 'choose another name');
        } catch (e) {
          if (!isErrno(e, 'ENOENT')) throw e;
        }
      }
      await rename(tmp, target);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    return existed ? 'replaced' : 'created';
  }

  async write(
    raw: string,
    content: string,
    mode: 'create' | 'overwrite',
  ): Promise<{ path: string; bytes: number; result: 'created' | 'replaced' }> {
    const segs = pathSegments(raw);
    const rel = segs.join('/');
    if (segs.length === 0) throw refused('the path is empty');
    if (!rel.toLowerCase().endsWith('.md')) throw refused(`"${rel}" is not a markdown note`, 'notes end in .md');
    if (this.isQueueInternal(segs)) throw refused(`"${rel}" is inside the job queue`, 'submit jobs with the submit_job tool');
    const folder = this.opts.writableFolders.find((f) => rel.startsWith(`${f}/`));
    if (folder === undefined) {
      throw refused(
        `"${rel}" is outside the folders notes may be written to`,
        `write under ${this.opts.writableFolders.map((f) => `"${f}/"`).join(', ') || '(no folder is writable)'}`,
      );
    }
    const bytes = Buffer.byteLength(content, 'utf8');
    if (bytes > this.opts.maxWriteBytes)
      throw new RuntimeError('MCP_TOOL_INPUT', `the note is ${bytes} bytes; at most ${this.opts.maxWriteBytes} are written`, {
        hint: 'split it into smaller notes',
      });
    if (content.includes('\0')) throw new RuntimeError('MCP_TOOL_INPUT', 'the content contains a NUL byte', { hint: 'write text only' });
    const dir = await this.ensureDir(segs.slice(0, -1));
    const result = await this.writeAtomic(dir, segs[segs.length - 1]!, content, mode);
    return { path: rel, bytes, result };
  }

  /** Puts a job file into the queue under a fresh name (never replaces one). */
  async enqueue(name: string, content: string): Promise<{ path: string }> {
    const dir = await this.ensureDir(pathSegments(this.opts.queueFolder));
    let file = `${name}.md`;
    for (let n = 2; n < 1000; n++) {
      try {
        await this.writeAtomic(dir, file, content, 'create');
        return { path: `${this.opts.queueFolder}/${file}` };
      } catch (e) {
        if (!(e instanceof RuntimeError && /already exists|appeared/.test(e.message))) throw e;
        file = `${name}-${n}.md`;
      }
    }
    throw refused(`no free name for job "${name}" in the queue`, 'choose another job name');
  }
}
