import { stringify } from 'yaml';
import { notice } from './types.js';

/** YAML as the generators write it: notice first, key order as given, no line folding. */
export function toYaml(value: unknown, withNotice = true): string {
  const body = stringify(value, { lineWidth: 0, indent: 2, aliasDuplicateObjects: false });
  return withNotice ? `${notice('#')}${body}` : body;
}

/** JSON with stable formatting and a trailing newline (JSON has no comments). */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
