import { ContractError, defineErrors, formatTemplate, metric, sel } from '@platform/contract';
import { describe, expect, expectTypeOf, it } from 'vitest';

const Demo = defineErrors('DemoError', {
  FILE_MISSING: { message: 'cannot read {file}: {reason}', hint: 'pass the path of an existing file', httpStatus: 404 },
  PLAIN: { message: 'something plain went wrong', hint: 'try the other thing' },
});

class DemoWithRetry extends Demo {
  readonly retryAfterMs?: number;
  constructor(code: 'FILE_MISSING' | 'PLAIN', message: string, opts: { hint?: string; retryAfterMs?: number } = {}) {
    super(code, message, opts);
    if (opts.retryAfterMs !== undefined) this.retryAfterMs = opts.retryAfterMs;
  }
}

describe('defineErrors', () => {
  it('fills the template, and the catalogue gives the hint and status', () => {
    const e = Demo.create('FILE_MISSING', { file: 'a.yaml', reason: 'ENOENT' });
    expect(e).toBeInstanceOf(Demo);
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('DemoError');
    expect(e.code).toBe('FILE_MISSING');
    expect(e.message).toBe('cannot read a.yaml: ENOENT');
    expect(e.hint).toBe('pass the path of an existing file');
    expect(e.httpStatus).toBe(404);
    expect(e.toJSON()).toEqual({ code: 'FILE_MISSING', message: 'cannot read a.yaml: ENOENT', hint: 'pass the path of an existing file', httpStatus: 404 });
  });

  it('takes a composed message and a thrower\'s hint; no status where none applies', () => {
    const cause = new Error('low level');
    const e = new Demo('PLAIN', 'three problems:\n  - a\n  - b\n  - c', { hint: 'fix a, b and c', cause });
    expect(e.message).toContain('three problems');
    expect(e.hint).toBe('fix a, b and c');
    expect(e.httpStatus).toBeUndefined();
    expect(e.cause).toBe(cause);
    expect(e.toJSON()).not.toHaveProperty('httpStatus');
    expect(new Demo('PLAIN', 'x').hint).toBe('try the other thing');
  });

  it('create() on a subclass builds the subclass', () => {
    const e = DemoWithRetry.create('PLAIN', {}, { retryAfterMs: 1500 });
    expect(e).toBeInstanceOf(DemoWithRetry);
    expect(e.retryAfterMs).toBe(1500);
    expect(e.message).toBe('something plain went wrong');
  });

  it('refuses a code outside the catalogue at run time as well as in the types', () => {
    // @ts-expect-error: not a code of this catalogue
    expect(() => new Demo('NOPE', 'x')).toThrow(/"NOPE" is not in the catalogue/);
  });

  it('types: a hint is required per code, template params are checked', () => {
    // @ts-expect-error: a catalogue entry without a hint does not compile
    defineErrors('X', { A: { message: 'm' } });
    // @ts-expect-error: the template needs "reason"
    Demo.create('FILE_MISSING', { file: 'a' });
    expectTypeOf(Demo.create('PLAIN').code).toEqualTypeOf<'FILE_MISSING' | 'PLAIN'>();
  });

  it('formatTemplate leaves unknown placeholders as written', () => {
    expect(formatTemplate('{a} and {b}', { a: 1 })).toBe('1 and {b}');
  });

  it('the contract\'s own errors: a metric outside the catalog', () => {
    // @ts-expect-error: not a catalog metric
    expect(() => metric('nope_total')).toThrowError(expect.objectContaining({ name: 'ContractError', code: 'METRIC_UNKNOWN', message: 'metric nope_total is not in the catalog' }));
    expect(() => sel('platform_jobs_total', { outcome: 'exploded' })).toThrow(ContractError);
  });
});
