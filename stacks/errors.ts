import { defineErrors } from '@platform/contract';
import type { Construct } from 'constructs';

/*
 * The stacks package's error catalogue: a stable code, a message and a hint. Construct props that
 * fail validation throw one StackError listing every problem found, named by the construct's path
 * in the app (`edge/tunnel`), so the stack and the construct are plain in the message.
 */

export const STACK_ERRORS = {
  STACK_PROPS_INVALID: {
    message: '{construct} {path}: its props cannot be expressed',
    hint: 'fix the value in platform.yaml that these props come from, then synthesize again',
  },
  DASHBOARD_INVALID: { message: 'dashboard "{name}": {reason}', hint: 'run `make render` to regenerate generated/grafana/dashboards/' },
  SYNTH_FAILED: { message: 'synthesis failed: {reason}', hint: 'fix the setting named in the message, then synthesize again' },
} as const;

export type StackErrorCode = keyof typeof STACK_ERRORS;

export class StackError extends defineErrors('StackError', STACK_ERRORS) {}

/** Collects problems in a construct's props and throws them together, naming the construct's path. */
export function checkProps(construct: Construct, problems: readonly string[]): void {
  if (problems.length === 0) return;
  throw new StackError(
    'STACK_PROPS_INVALID',
    `${construct.constructor.name} ${construct.node.path}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${problems.map((p) => `  - ${p}`).join('\n')}`,
  );
}
