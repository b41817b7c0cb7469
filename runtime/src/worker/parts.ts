import { resolve } from 'node:path';
import { JobLedger } from '../jobs/ledger.js';
import type { Logger } from '../log.js';
import { FolderQueue } from '../queue/folder-queue.js';
import { SkillRegistry } from '../skills/registry.js';
import { openVaultLayout } from '../vault/files.js';
import { QueueLease } from '../vault/lease.js';
import type { WorkerConfig, WorkerParts } from './index.js';

/*
 * The worker's parts over the vault: the folder queue, its lease, the job ledger (SQLite) and the
 * skill registry. Nothing is started here (the worker starts them in order); only the ledger
 * opens its file, so a ledger that cannot be opened fails before anything else runs.
 */

export interface WorkerPartsOptions {
  readonly log: Logger;
  /** Ledger location; `<dataDir>/jobs.db` by default. */
  readonly ledgerPath?: string;
  /** Watch the queue folder (fs.watch) and the skills folder (chokidar); default true. Rescans run either way. */
  readonly watch?: boolean;
  /** Files claimed at once; vault.worker.concurrency by default (the JetStream gateway holds more). */
  readonly concurrency?: number;
}

export async function openWorkerParts(config: WorkerConfig, opts: WorkerPartsOptions): Promise<WorkerParts> {
  const { vault } = config;
  const { log } = opts;
  const w = vault.worker;
  // Every layout folder is a real folder inside the vault before anything reads or moves files.
  const layout = await openVaultLayout(resolve(vault.path), vault.folders);
  const folder = (f: keyof typeof vault.folders): string => layout.folders[f]!;
  const watch = opts.watch !== false;
  const ledger = new JobLedger(opts.ledgerPath ?? resolve(config.dataDir, 'jobs.db'));
  const skills = new SkillRegistry({ dir: folder('skills'), log: log.child({ component: 'skills' }), watch, maxBytes: w.maxJobBytes });
  const queue = new FolderQueue({
    folders: {
      queue: folder('queue'),
      active: folder('active'),
      completed: folder('completed'),
      failed: folder('failed'),
    },
    maxFileBytes: w.maxJobBytes,
    incompleteWaitMs: w.incompleteWaitMs,
    concurrency: opts.concurrency ?? w.concurrency,
    mtimeGuardMs: w.mtimeGuardMs,
    rescanMs: w.rescanMs,
    log: log.child({ component: 'queue' }),
    watch,
  });
  const lease = new QueueLease({
    dir: layout.root,
    queue: vault.folders.queue,
    heartbeatMs: w.leaseHeartbeatMs,
    staleBeats: w.leaseStaleHeartbeats,
    log: log.child({ component: 'lease' }),
    // A lost lease means another worker may claim: stop claiming at once.
    onLost: () => void queue.stop(),
  });
  return { vaultRoot: layout.root, queue, ledger, skills, lease };
}
