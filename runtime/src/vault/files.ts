import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { RuntimeError, describeError } from '../errors.js';

/*
 * The vault access layer: every service reads and writes vault files through these, never
 * through a path built from file content.
 *
 * - Files are opened with O_NOFOLLOW (a link is refused by the kernel, not by a check that a
 *   swap could race) and O_NONBLOCK (a FIFO cannot hang the reader), then fstat'ed on the open
 *   descriptor: regular files only, one link only (a hard link to /etc/shadow is not a note),
 *   bounded size.
 * - Folders are confined with realpath: the real path must be the vault's real root or below
 *   it (`/vault-evil` is not inside `/vault`).
 * - Storage faults (disk full, quota, I/O error) become VAULT_IO, an operational error the
 *   worker retries, never "a bug".
 */

export const NAME_MAX = 255;

export type VaultFileProblem = 'symlink' | 'not-regular' | 'hard-link' | 'too-large' | 'outside' | 'unreadable';

/** A vault file the layer refuses; `problem` says why, for callers that map it to their own code. */
export class VaultFileError extends RuntimeError {
  constructor(
    readonly problem: VaultFileProblem,
    message: string,
    opts: { hint?: string; cause?: unknown } = {},
  ) {
    super('VAULT_UNSAFE', message, opts);
  }
}

/** errno codes that say the storage failed, not the file: retry later. */
const OPERATIONAL = new Set([
  'ENOSPC',
  'EDQUOT',
  'EIO',
  'EROFS',
  'EMFILE',
  'ENFILE',
  'EBUSY',
  'EAGAIN',
  'ENOMEM',
  'ESTALE',
  'ETIMEDOUT',
  'EINTR',
]);

export function errnoOf(e: unknown): string | undefined {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

export function isOperationalIoError(e: unknown): boolean {
  const code = errnoOf(e);
  return code !== undefined && OPERATIONAL.has(code);
}

/** A storage fault as VAULT_IO (errno in the message); anything else is returned unchanged. */
export function toVaultIoError(e: unknown, what: string): unknown {
  if (e instanceof RuntimeError || !isOperationalIoError(e)) return e;
  return new RuntimeError('VAULT_IO', `${what}: ${errnoOf(e)} (${describeError(e)})`, { cause: e });
}

/** True when `p` is `root` or below it; both absolute and normalised. */
export function isInside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

export interface ReadOptions {
  /** Refuse files larger than this many bytes. */
  readonly maxBytes: number;
}

/** Reads a regular file without following links; throws VaultFileError or VAULT_IO. */
export async function readRegularFile(path: string, opts: ReadOptions): Promise<Buffer> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    throw openError(e, path);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new VaultFileError('not-regular', `${path} is not a regular file`);
    if (st.nlink > 1) throw new VaultFileError('hard-link', `${path} has ${st.nlink} hard links; a vault file has one`);
    if (st.size > opts.maxBytes)
      throw new VaultFileError('too-large', `the file is ${st.size} bytes; at most ${opts.maxBytes} bytes are read`);
    // Read one byte past the cap: a file growing after the fstat is caught too.
    const buf = Buffer.alloc(Math.min(st.size, opts.maxBytes) + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n === buf.length) break;
    }
    if (n > opts.maxBytes)
      throw new VaultFileError('too-large', `the file is over ${opts.maxBytes} bytes; at most ${opts.maxBytes} bytes are read`);
    return buf.subarray(0, n);
  } catch (e) {
    if (e instanceof RuntimeError) throw e;
    throw toVaultIoError(e, `cannot read ${path}`);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

function openError(e: unknown, path: string): unknown {
  const code = errnoOf(e);
  if (code === 'ELOOP') return new VaultFileError('symlink', `${path} is a symbolic link; links are never followed`, { cause: e });
  if (code === 'EACCES' || code === 'EPERM')
    return new VaultFileError('unreadable', `${path} cannot be read: ${code}`, {
      cause: e,
      hint: 'give the worker read and write access to the file',
    });
  return toVaultIoError(e, `cannot open ${path}`);
}

/** Appends bytes to a regular file in place (O_APPEND, no link followed); for files too large to rewrite. */
export async function appendToRegularFile(path: string, bytes: Buffer): Promise<void> {
  let fh;
  try {
    fh = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    throw openError(e, path);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new VaultFileError('not-regular', `${path} is not a regular file`);
    await fh.write(bytes);
  } catch (e) {
    if (e instanceof RuntimeError) throw e;
    throw toVaultIoError(e, `cannot append to ${path}`);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

export interface VaultLayout {
  /** The vault's real path. */
  readonly root: string;
  /** Layout folder name → its real absolute path, inside the root. */
  readonly folders: Readonly<Record<string, string>>;
}

/**
 * Checks the vault root and its layout folders at start-up: each exists (or is created), is a
 * real folder, is not a link, and resolves inside the vault. Throws VAULT_LAYOUT.
 */
export async function openVaultLayout(vaultPath: string, folders: Readonly<Record<string, string>>): Promise<VaultLayout> {
  const layout = (message: string, cause?: unknown): RuntimeError =>
    new RuntimeError('VAULT_LAYOUT', message, cause === undefined ? {} : { cause });
  let root: string;
  try {
    await mkdir(vaultPath, { recursive: true });
    root = await realpath(vaultPath);
  } catch (e) {
    throw layout(`the vault ${vaultPath} cannot be opened: ${describeError(e)}`, e);
  }
  const out: Record<string, string> = {};
  for (const [key, folder] of Object.entries(folders)) {
    const path = isAbsolute(folder) ? resolve(folder) : join(root, folder);
    if (!isInside(root, path) || path === root) throw layout(`vault folder ${key} (${folder}) is not a folder inside the vault ${root}`);
    let st = await lstat(path).catch((e: unknown) =>
      errnoOf(e) === 'ENOENT' ? undefined : Promise.reject(layout(`vault folder ${folder}: ${describeError(e)}`, e)),
    );
    if (!st) {
      try {
        await mkdir(path, { recursive: true });
        st = await lstat(path);
      } catch (e) {
        throw layout(`vault folder ${folder} cannot be created: ${describeError(e)}`, e);
      }
    }
    if (st.isSymbolicLink())
      throw layout(`vault folder ${folder} (${path}) is a symbolic link; layout folders must be real folders inside the vault`);
    if (!st.isDirectory()) throw layout(`vault folder ${folder} (${path}) is not a folder`);
    const real = await realpath(path);
    if (!isInside(root, real)) throw layout(`vault folder ${folder} resolves to ${real}, outside the vault ${root} (a link on the way)`);
    out[key] = real;
  }
  return { root, folders: out };
}

/** Bytes of a UTF-8 string. */
export function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** The longest prefix of `s` that fits in `max` UTF-8 bytes, never cutting a character. */
export function truncateBytes(s: string, max: number): string {
  if (byteLength(s) <= max) return s;
  let out = '';
  let used = 0;
  for (const ch of s) {
    const b = byteLength(ch);
    if (used + b > max) break;
    out += ch;
    used += b;
  }
  return out;
}

/**
 * `<stem><suffix><ext>` within NAME_MAX bytes: the stem is shortened (deterministically, at a
 * character boundary) when the suffix would push the name over.
 */
export function nameWithSuffix(stem: string, suffix: string, ext: string): string {
  const room = NAME_MAX - byteLength(suffix) - byteLength(ext);
  return `${truncateBytes(stem, Math.max(1, room))}${suffix}${ext}`;
}

/**
 * A short name fragment from an id written in a file: the id's last 6 characters when it is
 * plain (letters, digits, `_`, `-`), else a hash of it, so `/`, `..`, NUL or a leading dot in
 * an id never reach a file name.
 */
export function idNameHint(id: string): string {
  if (/^[A-Za-z0-9_-]{1,200}$/.test(id))
    return (
      id
        .slice(-6)
        .toLowerCase()
        .replace(/^[-_]+/, '') || 'id'
    );
  return createHash('sha256').update(id).digest('hex').slice(0, 8);
}
