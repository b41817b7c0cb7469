import type { Platform } from '../model/index.js';

/** One generated file: a path under generated/ and its full content. */
export interface Artifact {
  path: string;
  content: string;
}

/** A pure function of the model. No clock, no network, no environment. */
export interface Generator {
  name: string;
  generate(platform: Platform): Artifact[];
}

export const GENERATED_NOTICE = 'generated from platform.yaml by make render, do not edit';

/** The notice as a comment in formats that have comments. */
export function notice(style: '#' | '//' | '<!--'): string {
  return style === '<!--' ? `<!-- ${GENERATED_NOTICE} -->\n` : `${style} ${GENERATED_NOTICE}\n`;
}
