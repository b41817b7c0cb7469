export { JobFrontmatterSchema, ChainStepSchema, JOB_TYPES, type JobFrontmatter, type JobType, type ChainStep } from './schema.js';
export { APPENDED_MARKER, appendSection, insertId, parseJobDocument, stripAppended, type JobDocument } from './document.js';
export { executeJob, JobAbortedError, type ChatRouter, type ExecutionResult, type StepResult } from './execute.js';
export { JobLedger, type LedgerEntry } from './ledger.js';
export { outputName, renderOutput, slugify, timestampName, wikiLink, type OutputMeta } from './output.js';
export { JobProcessor, type JobOutcome, type JobProcessorProps, type JobStatus } from './process.js';
export { newJobId } from './ids.js';
export { JobRunner, outputBody, systemPrompt, type RunRequest, type RunResult } from './run.js';
export type { JobExecutor, PreparedJob } from './process.js';
