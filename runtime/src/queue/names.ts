/*
 * Which file names in a queue folder are jobs. Syncthing writes a file under a temporary name
 * and renames it into place, and leaves conflict copies beside the original: neither is a job.
 */

/** Prefix of the runtime's own temporary files (atomic writes); dotfiles, so never jobs either. */
export const TEMP_PREFIX = '.runtime-tmp-';

export function isJobFileName(name: string): boolean {
  if (name.startsWith('.')) return false; // dotfiles, incl. `.syncthing.*.tmp` and our temp files
  if (name.startsWith('~syncthing~')) return false;
  if (name.includes('.sync-conflict-')) return false;
  return name.toLowerCase().endsWith('.md') && name.length > 3;
}

export function isTempFileName(name: string): boolean {
  return name.startsWith(TEMP_PREFIX);
}
