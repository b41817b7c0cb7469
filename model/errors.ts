/*
 * The model package's error catalogue: a stable code, a message and a hint on how to fix it.
 * Callers switch on `code`; people read `message` and `hint`.
 */

export const MODEL_ERRORS = {
  MODEL_NOT_FOUND: 'the platform file could not be read',
  MODEL_INVALID: 'the platform model is invalid',
  METRIC_UNKNOWN: 'a metric is not in the catalog',
  RENDER_STALE: 'generated/ is out of date',
  RENDER_FAILED: 'a generator failed',
} as const;

export type ModelErrorCode = keyof typeof MODEL_ERRORS;

export class PlatformError extends Error {
  override readonly name = 'PlatformError';
  constructor(
    readonly code: ModelErrorCode,
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

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
      'fix each problem at the line and column shown, then run `make render` again',
    );
  }
}
