import { createHash, randomBytes } from 'node:crypto';
import { lstat, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname, extname, join } from 'node:path';
import { nameWithSuffix } from '../vault/files.js';
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

/** A temporary name beside `path`; short and fixed-length, so a long name never pushes it over NAME_MAX. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `${TEMP_PREFIX}${randomBytes(8).toString('hex')}.tmp`);
}

/**
 * Replaces `path` with `content` via a temporary file in the same folder and one rename.
 * Bytes are written as given; a string is encoded as UTF-8. The temp file is created
 * exclusively (`wx`), so a link planted under its name is never written through.
 */
export async function writeFileAtomic(path: string, content: string | Buffer): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    await writeFile(tmp, content, { flag: 'wx' });
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
  // A hint is a name fragment, never a path: anything but [a-z0-9-] is hashed.
  const safe =
    hint === undefined || /^[a-z0-9][a-z0-9-]{0,31}$/.test(hint) ? hint : createHash('sha256').update(hint).digest('hex').slice(0, 8);
  if (safe) {
    const hinted = nameWithSuffix(stem, `-${safe}`, ext);
    if (!(await exists(join(dir, hinted)))) return hinted;
  }
  for (let n = 2; ; n++) {
    const numbered = nameWithSuffix(stem, `-${safe ? `${safe}-` : ''}${n}`, ext);
    if (!(await exists(join(dir, numbered)))) return numbered;
  }
}
