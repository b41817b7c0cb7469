export type { Claim, ClaimHandler, JobQueue, QueueStats } from './types.js';
export { FolderQueue, type FolderQueueProps } from './folder-queue.js';
export { isJobFileName, isTempFileName, TEMP_PREFIX } from './names.js';
export { exists, freeName, writeFileAtomic } from './fs-util.js';
