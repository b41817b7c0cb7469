/*
 * The stacks package's error catalogue: a stable code, a message and a hint. Construct props that
 * fail validation throw one StackError listing every problem found.
 */

export const STACK_ERRORS = {
  STACK_PROPS_INVALID: 'a construct was given props it cannot express',
  DASHBOARD_INVALID: 'a generated dashboard is not valid JSON',
  SYNTH_FAILED: 'synthesis failed',
} as const;

export type StackErrorCode = keyof typeof STACK_ERRORS;

export class StackError extends Error {
  override readonly name = 'StackError';
  constructor(
    readonly code: StackErrorCode,
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

/** Collects problems in a construct's props and throws them together. */
export function checkProps(construct: string, problems: readonly string[]): void {
  if (problems.length === 0) return;
  throw new StackError(
    'STACK_PROPS_INVALID',
    `${construct}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    'fix the value in platform.yaml that these props come from, then synthesize again',
  );
}
