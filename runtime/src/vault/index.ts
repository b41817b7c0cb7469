export { parseFrontmatter, frontmatterComplete, MAX_FRONTMATTER_CHARS, type Frontmatter } from './frontmatter.js';
export {
  NAME_MAX,
  VaultFileError,
  appendToRegularFile,
  byteLength,
  errnoOf,
  idNameHint,
  isInside,
  isOperationalIoError,
  nameWithSuffix,
  openVaultLayout,
  readRegularFile,
  toVaultIoError,
  truncateBytes,
  type VaultFileProblem,
  type VaultLayout,
} from './files.js';
export { leaseFileName, QueueLease, type LeaseOwner, type QueueLeaseProps } from './lease.js';
