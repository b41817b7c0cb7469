import { createHash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { lstat, readdir, realpath } from 'node:fs/promises';
import { join, posix, relative, sep } from 'node:path';
import { RuntimeError, isRuntimeError } from '../errors.js';
import { parseFrontmatter, readRegularFile } from '../vault/index.js';

/*
 * Reading the vault for indexing. The vault is untrusted (Syncthing writes it from every device):
 * regular files only, no symlink followed, every path confined below the real vault root, sizes
 * bounded, frontmatter parsed as plain YAML only (no engine that evaluates code), and no path
 * built from file content.
 */

export interface WalkOptions {
  /** Top-level folders never indexed (queue folders, skills, outputs unless included). */
  readonly skipFolders: readonly string[];
  readonly maxNoteBytes: number;
}

export interface NoteFile {
  /** Vault-relative, forward slashes. */
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

export interface SkippedFile {
  readonly path: string;
  readonly reason: string;
}

const SYNCTHING = [/^\.syncthing\./, /^~syncthing~/, /\.sync-conflict-/];

export function isSyncthingFile(name: string): boolean {
  return SYNCTHING.some((r) => r.test(name));
}

/** Every markdown note below `root`, sorted by path; what was left out and why in `skipped`. */
export async function walkVault(root: string, opts: WalkOptions): Promise<{ notes: NoteFile[]; skipped: SkippedFile[]; realRoot: string }> {
  const realRoot = await realpath(root).catch((e: unknown) => {
    throw new RuntimeError('RAG_BAD_REQUEST', `the vault ${root} cannot be read: ${(e as Error).message}`, {
      hint: 'set VAULT_DIR to the vault folder',
    });
  });
  const skip = new Set(opts.skipFolders.map((f) => f.replace(/^\/+|\/+$/g, '')));
  const notes: NoteFile[] = [];
  const skipped: SkippedFile[] = [];
  const visit = async (dir: string, rel: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      skipped.push({ path: rel || '.', reason: `unreadable folder: ${(e as Error).message}` });
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const ent of entries) {
      const childRel = rel ? `${rel}/${ent.name}` : ent.name;
      // Dot-folders hold Obsidian's and Syncthing's state (.obsidian, .stfolder, .stversions, .trash).
      if (ent.name.startsWith('.') && !ent.name.startsWith('.syncthing.')) continue;
      if (ent.isSymbolicLink()) {
        skipped.push({ path: childRel, reason: 'symbolic link (never followed)' });
        continue;
      }
      if (ent.isDirectory()) {
        if (skip.has(childRel)) continue;
        await visit(join(dir, ent.name), childRel);
        continue;
      }
      if (!ent.isFile()) continue;
      if (isSyncthingFile(ent.name)) continue;
      if (!ent.name.toLowerCase().endsWith('.md')) continue;
      const st = await lstat(join(dir, ent.name)).catch(() => undefined);
      if (!st?.isFile()) continue;
      if (st.size > opts.maxNoteBytes) {
        skipped.push({ path: childRel, reason: `larger than ${opts.maxNoteBytes} bytes (${st.size})` });
        continue;
      }
      notes.push({ path: childRel, size: st.size, mtimeMs: st.mtimeMs });
    }
  };
  await visit(realRoot, '');
  return { notes, skipped, realRoot };
}

/** Reads one note: no symlink (O_NOFOLLOW), must still be a regular file below the root, bounded. */
export async function readNote(root: string, relPath: string, maxBytes: number, realRootHint?: string): Promise<string> {
  if (relPath.split('/').some((p) => p === '..' || p === '') || relPath.startsWith('/')) {
    throw new RuntimeError('RAG_BAD_REQUEST', `refusing the note path "${relPath}"`, { hint: 'note paths are vault-relative' });
  }
  const realRoot = realRootHint ?? (await realpath(root));
  const abs = join(realRoot, ...relPath.split('/'));
  const parent = await realpath(join(abs, '..'));
  if (parent !== realRoot && !parent.startsWith(realRoot + sep)) {
    throw new RuntimeError('RAG_BAD_REQUEST', `the note "${relPath}" resolves outside the vault`, {
      hint: 'a folder on its path is a symbolic link',
    });
  }
  // The shared reader: no link followed (O_NOFOLLOW), regular single-link files only, bounded.
  return (await readRegularFile(abs, { maxBytes })).toString('utf8');
}

export interface ParsedNote {
  readonly path: string;
  readonly title: string;
  readonly folder: string;
  readonly tags: string[];
  readonly aliases: string[];
  /** Raw wiki-link targets ("Other note", "folder/Note#Heading" -> "folder/Note"). */
  readonly links: string[];
  /** ms since the epoch. */
  readonly date: number;
  /** The body without frontmatter. */
  readonly body: string;
  readonly hash: string;
  /** Why the frontmatter was ignored, when it was. */
  readonly frontmatterError?: string;
}

const FENCE = /^(```|~~~)/;

/**
 * The vault's one YAML-only frontmatter parser (runtime/src/vault): no engine that evaluates
 * code, core schema, bounded aliases. A block it refuses leaves the note indexed as plain text,
 * with the reason kept.
 */
export function splitFrontmatter(text: string): { data: Record<string, unknown>; body: string; error?: string } {
  try {
    const f = parseFrontmatter(text);
    return { data: f.data, body: f.body };
  } catch (e) {
    if (isRuntimeError(e)) return { data: {}, body: text, error: e.message };
    throw e;
  }
}

const strings = (v: unknown): string[] => {
  if (typeof v === 'string') return v.split(/[,\s]+/).filter(Boolean);
  if (Array.isArray(v)) return v.filter((x): x is string | number => typeof x === 'string' || typeof x === 'number').map(String);
  return [];
};

/** Markdown outside fenced code blocks and inline code, for link and tag scanning. */
function proseOnly(body: string): string {
  const out: string[] = [];
  let inFence = false;
  for (const line of body.split('\n')) {
    if (FENCE.test(line.trimStart())) {
      inFence = !inFence;
      continue;
    }
    if (!inFence) out.push(line.replace(/`[^`\n]*`/g, ''));
  }
  return out.join('\n');
}

export function parseNote(path: string, text: string, mtimeMs: number): ParsedNote {
  const { data, body, error } = splitFrontmatter(text);
  const prose = proseOnly(body);
  const tags = new Set<string>();
  for (const t of strings(data.tags)) tags.add(t.replace(/^#/, '').toLowerCase());
  for (const m of prose.matchAll(/(?:^|\s)#([A-Za-z][\w/-]{0,63})/g)) tags.add(m[1]!.toLowerCase());
  const links = new Set<string>();
  for (const m of prose.matchAll(/!?\[\[([^\]|#\n]{1,200})(?:#[^\]|\n]*)?(?:\|[^\]\n]*)?\]\]/g)) links.add(m[1]!.trim());
  const h1 = /^#\s+(.+)$/m.exec(prose)?.[1]?.trim();
  const base = posix.basename(path).replace(/\.md$/i, '');
  const title = typeof data.title === 'string' && data.title.trim() ? data.title.trim() : (h1 ?? base);
  let date = mtimeMs;
  const d = data.date ?? data.created;
  if (typeof d === 'string' || d instanceof Date) {
    const ms = new Date(d).getTime();
    if (Number.isFinite(ms)) date = ms;
  }
  const folder = posix.dirname(path) === '.' ? '' : posix.dirname(path);
  return {
    path,
    title,
    folder,
    tags: [...tags].sort(),
    aliases: strings(data.aliases ?? data.alias).filter((a) => a.length <= 200),
    links: [...links],
    date,
    body,
    hash: createHash('sha256').update(text).digest('hex'),
    ...(error ? { frontmatterError: error } : {}),
  };
}

/** Resolves wiki-link targets the way Obsidian does: exact path, then basename, then alias. */
export class LinkResolver {
  private readonly byPath = new Map<string, string>();
  private readonly byName = new Map<string, string>();
  private readonly byAlias = new Map<string, string>();

  constructor(notes: readonly { path: string; aliases?: readonly string[] }[]) {
    // Shortest path wins for a shared basename, as in Obsidian.
    const sorted = [...notes].sort((a, b) => a.path.length - b.path.length || (a.path < b.path ? -1 : 1));
    for (const n of sorted) {
      const noExt = n.path.replace(/\.md$/i, '').toLowerCase();
      this.byPath.set(noExt, n.path);
      const name = posix.basename(noExt);
      if (!this.byName.has(name)) this.byName.set(name, n.path);
      for (const a of n.aliases ?? []) if (!this.byAlias.has(a.toLowerCase())) this.byAlias.set(a.toLowerCase(), n.path);
    }
  }

  resolve(target: string): string | undefined {
    const t = target.replace(/\.md$/i, '').replace(/^\/+/, '').toLowerCase();
    return this.byPath.get(t) ?? this.byName.get(posix.basename(t)) ?? this.byAlias.get(t);
  }
}

export const toVaultPath = (root: string, abs: string): string => relative(root, abs).split(sep).join('/');
