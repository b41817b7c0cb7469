/*
 * One way to declare an error catalogue, in the style of fastify's `createError`: per code a
 * message template, the HTTP status where the error can reach HTTP, and a hint on how to fix it.
 * The hint is required by the type, so no code can be declared without one. Callers switch on
 * `code`; people read `message` and `hint`.
 */

export interface ErrorSpec {
  /** The message `create()` fills in: `{name}` placeholders take the params of the same name. */
  readonly message: string;
  /** How to fix it, in words a person can act on. A thrower may give a more precise one. */
  readonly hint: string;
  /** What an HTTP service answers with; absent for errors that never reach HTTP. */
  readonly httpStatus?: number;
}

export type ErrorCatalog = Readonly<Record<string, ErrorSpec>>;

export interface CatalogErrorOptions {
  /** Replaces the catalogue's hint when the thrower knows better (the key to set, the file to fix). */
  hint?: string;
  /** Replaces the catalogue's status, e.g. a 503 for an overloaded provider. */
  httpStatus?: number;
  cause?: unknown;
}

/** The placeholder names in a message template: `"cannot read {file}"` gives `"file"`. */
export type Placeholders<T extends string> = T extends `${string}{${infer P}}${infer Rest}` ? P | Placeholders<Rest> : never;

/** The params a template needs; none for a template without placeholders. */
export type TemplateArgs<T extends string, O> = [Placeholders<T>] extends [never]
  ? [params?: Record<string, never>, opts?: O]
  : [params: { readonly [K in Placeholders<T>]: string | number }, opts?: O];

/** Fills `{name}` placeholders; a placeholder without a param is left as written. */
export function formatTemplate(template: string, params: Readonly<Record<string, string | number>> = {}): string {
  return template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, name: string) =>
    Object.hasOwn(params, name) ? String(params[name]) : whole,
  );
}

export interface ErrorJson<Code extends string> {
  code: Code;
  message: string;
  hint: string;
  httpStatus?: number;
}

/**
 * The error class of one catalogue. `new E(code, message, opts)` takes a message composed by the
 * thrower (a list of problems, a provider's own words); `E.create(code, params, opts)` fills the
 * catalogue's template. Either way the error carries a hint: the thrower's, or the catalogue's.
 * Subclass it to add fields (the runtime's `retryAfterMs`).
 */
export function defineErrors<const C extends ErrorCatalog>(errorName: string, catalog: C) {
  type Code = keyof C & string;

  class CatalogError extends Error {
    static readonly catalog: C = catalog;
    readonly code: Code;
    readonly hint: string;
    readonly httpStatus: number | undefined;

    constructor(code: Code, message: string, opts: CatalogErrorOptions = {}) {
      super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
      const spec = catalog[code];
      if (spec === undefined) throw new TypeError(`${errorName}: "${code}" is not in the catalogue`);
      this.name = errorName;
      this.code = code;
      this.hint = opts.hint ?? spec.hint;
      this.httpStatus = opts.httpStatus ?? spec.httpStatus;
    }

    /** An error whose message is the catalogue's template for `code`, filled with `params`. */
    static create<T, K extends Code, O extends CatalogErrorOptions>(
      this: new (code: K, message: string, opts?: O) => T,
      code: K,
      ...[params, opts]: TemplateArgs<C[K]['message'], O>
    ): T {
      return new this(code, formatTemplate(catalog[code]!.message, params as Record<string, string | number> | undefined), opts);
    }

    /** A plain object for logs and JSON answers. */
    toJSON(): ErrorJson<Code> {
      return {
        code: this.code,
        message: this.message,
        hint: this.hint,
        ...(this.httpStatus !== undefined ? { httpStatus: this.httpStatus } : {}),
      };
    }
  }
  return CatalogError;
}

/** The errors of the contract itself: a query or instrument that names a metric outside the catalog. */
export class ContractError extends defineErrors('ContractError', {
  METRIC_UNKNOWN: { message: 'metric {name} is not in the catalog', hint: 'add it to METRICS in packages/contract/src/metrics.ts' },
}) {}
