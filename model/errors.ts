import { defineErrors } from '@platform/contract';

/*
 * The model package's error catalogue: a stable code, a message and a hint on how to fix it.
 * Callers switch on `code`; people read `message` and `hint`. A metric outside the catalog is
 * the contract's METRIC_UNKNOWN (`ContractError`).
 */

export const MODEL_ERRORS = {
  MODEL_NOT_FOUND: { message: 'cannot read {file}: {reason}', hint: 'pass the path of a platform.yaml, or run from the repository root' },
  MODEL_INVALID: {
    message: 'the platform model is invalid',
    hint: 'fix each problem at the line and column shown, then run `make render` again',
  },
  RENDER_STALE: { message: 'generated/ is out of date', hint: 'run `make render` and commit generated/' },
  RENDER_FAILED: {
    message: 'generator "{name}" failed: {reason}',
    hint: 'this is a bug in the generator: the model validated, so the generator must handle it',
  },
} as const;

export type ModelErrorCode = keyof typeof MODEL_ERRORS;

export class PlatformError extends defineErrors('PlatformError', MODEL_ERRORS) {}

/** One problem in platform.yaml, located. */
export interface Problem {
  file: string;
  line: number;
  col: number;
  /** Dotted path into the model, e.g. `services.web.host`. */
  path: string;
  message: string;
  fix: string;
}

export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.col} ${p.path || '(top level)'}: ${p.message}\n    fix: ${p.fix}`;
}

/** Every problem found in one pass over the model, reported together. */
export class ModelInvalidError extends PlatformError {
  constructor(readonly problems: readonly Problem[]) {
    const file = problems[0]?.file ?? 'platform.yaml';
    super(
      'MODEL_INVALID',
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${problems.map(formatProblem).join('\n')}`,
    );
  }
}
