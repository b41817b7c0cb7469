import { expect } from 'vitest';
import { ModelInvalidError, parsePlatform, type Problem } from '../../model/index.js';

/* The problems a model text is refused with, for the tests that break the example on purpose. */

/** Every problem `parsePlatform` reports; throws when the model is accepted. */
export function problems(text: string): Problem[] {
  try {
    parsePlatform(text);
  } catch (e) {
    if (e instanceof ModelInvalidError) return [...e.problems];
    throw e;
  }
  throw new Error('expected the model to be invalid');
}

/** The one problem the model is refused with (the test fails, listing them, when there are more). */
export function only(text: string): Problem {
  const list = problems(text);
  expect(list, list.map((p) => `${p.path}: ${p.message}`).join('\n')).toHaveLength(1);
  return list[0]!;
}
