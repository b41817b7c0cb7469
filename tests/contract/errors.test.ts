import { ContractError, defineErrors, formatTemplate, metric, sel, type ErrorSpec } from '@platform/contract';
import { Testing, TerraformStack } from 'cdktf';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { PlatformError } from '../../model/errors.js';
import { RuntimeError } from '../../runtime/src/errors.js';
import { HostFirewall } from '../../stacks/constructs/host-firewall.js';
import { StackError } from '../../stacks/errors.js';

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
    expect(e.toJSON()).toEqual({
      code: 'FILE_MISSING',
      message: 'cannot read a.yaml: ENOENT',
      hint: 'pass the path of an existing file',
      httpStatus: 404,
    });
  });

  it("takes a composed message and a thrower's hint; no status where none applies", () => {
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

  it("the contract's own errors: a metric outside the catalog", () => {
    // @ts-expect-error: not a catalog metric
    expect(() => metric('nope_total')).toThrowError(
      expect.objectContaining({ name: 'ContractError', code: 'METRIC_UNKNOWN', message: 'metric nope_total is not in the catalog' }),
    );
    expect(() => sel('platform_jobs_total', { outcome: 'exploded' })).toThrow(ContractError);
  });
});

describe('the catalogues built with defineErrors', () => {
  const catalogues: Array<[string, Readonly<Record<string, ErrorSpec>>]> = [
    ['ContractError', ContractError.catalog],
    ['PlatformError', PlatformError.catalog],
    ['StackError', StackError.catalog],
    ['RuntimeError', RuntimeError.catalog],
  ];

  it('give every code a message and a hint, and every runtime code an HTTP status', () => {
    for (const [name, catalog] of catalogues) {
      for (const [code, spec] of Object.entries(catalog)) {
        expect(spec.message.length, `${name}.${code}`).toBeGreaterThan(0);
        expect(spec.hint.length, `${name}.${code}`).toBeGreaterThan(10);
      }
    }
    for (const [code, spec] of Object.entries(RuntimeError.catalog)) expect(spec.httpStatus, code).toBeGreaterThanOrEqual(400);
  });

  it('a runtime error thrown without a hint still carries one, and keeps its status and retry hint', () => {
    const e = new RuntimeError('QUEUE_IO', 'rename failed');
    expect(e.hint).toBe('check that the vault is mounted, writable and not full');
    expect(e.httpStatus).toBe(500);
    const limited = new RuntimeError('PROVIDER_RATE_LIMITED', 'slow down', { retryAfterMs: 2000, httpStatus: 503 });
    expect(limited.toJSON()).toEqual({
      code: 'PROVIDER_RATE_LIMITED',
      message: 'slow down',
      hint: 'retry later, or pick a model on another provider',
      httpStatus: 503,
      retryAfterMs: 2000,
    });
  });

  it('construct errors name the construct by its path in the app', () => {
    const stack = new TerraformStack(Testing.app(), 'hosts');
    let caught: unknown;
    try {
      new HostFirewall(stack, 'contabo-fw', { hostName: 'contabo', instanceId: 'x', inbound: [] });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(StackError);
    expect((caught as StackError).code).toBe('STACK_PROPS_INVALID');
    expect((caught as StackError).message).toMatch(/^HostFirewall hosts\/contabo-fw: 2 problems\n {2}- instance id "x"/);
    expect((caught as StackError).hint).toBe('fix the value in platform.yaml that these props come from, then synthesize again');
  });
});
