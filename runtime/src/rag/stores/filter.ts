import type { Chunk, SearchFilter } from '../types.js';

/** The same filter semantics for every store: folder prefix, every tag, inclusive date range. */
export function matchesFilter(c: Pick<Chunk, 'folder' | 'tags' | 'date'>, f: SearchFilter | undefined): boolean {
  if (!f) return true;
  if (f.folders?.length && !f.folders.some((p) => inFolder(c.folder, p))) return false;
  if (f.tags?.length && !f.tags.every((t) => c.tags.includes(t.toLowerCase().replace(/^#/, '')))) return false;
  if (f.dateFrom !== undefined && c.date < f.dateFrom) return false;
  if (f.dateTo !== undefined && c.date > f.dateTo) return false;
  return true;
}

export function inFolder(folder: string, prefix: string): boolean {
  const p = prefix.replace(/^\/+|\/+$/g, '');
  return p === '' || folder === p || folder.startsWith(`${p}/`);
}

export const isEmptyFilter = (f: SearchFilter | undefined): boolean =>
  !f || (!f.folders?.length && !f.tags?.length && f.dateFrom === undefined && f.dateTo === undefined);
