import { randomBytes } from 'node:crypto';
import { lstat, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { TEMP_PREFIX } from './names.js';

/*
 * File operations the queue and the job runner share. Every visible change is one rename on
 * one filesystem, so a reader (Obsidian, Syncthing, a restarted worker) sees the old file or
 * the new one, never half of either. No fsync: the worker guards against a killed process,
 * and SQLite in WAL mode with synchronous=NORMAL gives the same guarantee for the ledger.
 */

export function isErrno(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return false;
    throw e;
  }
}

export function tempPathFor(path: string): string {
  return join(dirname(path), `${TEMP_PREFIX}${randomBytes(6).toString('hex')}-${basename(path)}`);
}

/** Replaces `path` with `content` via a temporary file in the same folder and one rename. */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    await writeFile(tmp, content, 'utf8');
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/**
 * A free name for `name` in `dir`: the name itself, then `<stem>-<hint>.md`, then numbered.
 * Only another writer in the same folder between the check and the rename can collide, and
 * the worker is the only writer of the folders it moves into.
 */
export async function freeName(dir: string, name: string, hint?: string): Promise<string> {
  if (!(await exists(join(dir, name)))) return name;
  const ext = extname(name);
  const stem = name.slice(0, name.length - ext.length);
  if (hint) {
    const hinted = `${stem}-${hint}${ext}`;
    if (!(await exists(join(dir, hinted)))) return hinted;
  }
  for (let n = 2; ; n++) {
    const numbered = `${stem}-${hint ? `${hint}-` : ''}${n}${ext}`;
    if (!(await exists(join(dir, numbered)))) return numbered;
  }
}
