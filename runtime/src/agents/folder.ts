import { lstat, mkdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { RuntimeError } from '../errors.js';
import { isErrno } from '../queue/fs-util.js';

/*
 * A folder the model names inside the vault (a briefing's output, the memory agent's notes),
 * made on first use. The name was validated as vault-relative (no "..", no leading "/", no
 * dot-folder); here each segment is made or checked with lstat, so a symbolic link planted
 * anywhere on the way is refused rather than followed out of the vault.
 */

export async function ensureVaultFolder(vaultPath: string, folder: string): Promise<string> {
  const root = await realpath(vaultPath);
  const segments = folder.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..' || s.startsWith('.')) || folder.includes('\\'))
    throw refused(folder, 'is not a vault-relative folder');
  let dir = root;
  for (const seg of segments) {
    dir = join(dir, seg);
    try {
      await mkdir(dir);
    } catch (e) {
      if (!isErrno(e, 'EEXIST')) throw e;
    }
    const st = await lstat(dir);
    if (st.isSymbolicLink()) throw refused(folder, `is reached through a symbolic link (${seg}); links are never followed`);
    if (!st.isDirectory()) throw refused(folder, `has "${seg}", which is not a folder`);
  }
  return dir;
}

function refused(folder: string, why: string): RuntimeError {
  return new RuntimeError('JOB_INVALID', `the output folder "${folder}" ${why}`, {
    hint: 'name a plain folder inside the vault in the job (output:) or the schedule in platform.yaml',
  });
}
