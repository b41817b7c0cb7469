import type { Platform } from '../schema.js';
import { dupes, problems, type RawProblem } from './problems.js';

/* aws: bucket names are global, and the snapshot bucket needs a vault to snapshot. */
export function checkAws(p: Platform): RawProblem[] {
  const { list, add } = problems();
  const buckets = Object.entries(p.aws.buckets);
  dupes(buckets.map(([, b]) => b.name)).forEach((i) =>
    add(
      ['aws', 'buckets', buckets[i]![0], 'name'],
      `bucket name "${buckets[i]![1].name}" is used twice`,
      'bucket names are global: give each its own',
    ),
  );
  if (!Object.values(p.hosts).some((h) => h.vaultPath)) {
    add(
      ['aws', 'buckets', 'vault-snapshots'],
      'the vault-snapshots bucket has nothing to snapshot: no host has a vaultPath',
      'add "vaultPath:" to the host that holds the vault (the runtime host)',
      true,
    );
  }
  return list;
}
