import type { z } from 'zod';

type Def = { type: string; [k: string]: unknown };
const defOf = (s: unknown): Def => (s as { _zod: { def: Def } })._zod.def;

/** Strip wrappers (optional, default, pipe, ...) down to the schema that holds the shape. */
function unwrap(schema: unknown, value: unknown): unknown {
  let s = schema;
  for (;;) {
    const def = defOf(s);
    if (def.type === 'optional' || def.type === 'default' || def.type === 'nullable' || def.type === 'prefault' || def.type === 'readonly')
      s = def['innerType'];
    else if (def.type === 'pipe') s = def['in'];
    else if (def.type === 'union' && typeof def['discriminator'] === 'string' && value && typeof value === 'object') {
      const tag = (value as Record<string, unknown>)[def['discriminator']];
      const match = (def['options'] as unknown[]).find((o) => {
        const shape = defOf(unwrap(o, undefined))['shape'] as Record<string, unknown> | undefined;
        const lit = shape?.[def['discriminator'] as string];
        return lit !== undefined && (defOf(lit)['values'] as unknown[] | undefined)?.includes(tag);
      });
      if (!match) return s;
      s = match;
    } else return s;
  }
}

/** The keys an object in the model may have at `path`, for "did you mean" hints. */
export function allowedKeys(root: z.ZodType, path: ReadonlyArray<string | number>, data: unknown): string[] | undefined {
  let schema: unknown = root;
  let value: unknown = data;
  for (const seg of path) {
    const s = unwrap(schema, value);
    const def = defOf(s);
    value = value && typeof value === 'object' ? (value as Record<string | number, unknown>)[seg] : undefined;
    if (def.type === 'object') schema = (def['shape'] as Record<string, unknown>)[String(seg)];
    else if (def.type === 'record') schema = def['valueType'];
    else if (def.type === 'array') schema = def['element'];
    else return undefined;
    if (schema === undefined) return undefined;
  }
  const def = defOf(unwrap(schema, value));
  return def.type === 'object' ? Object.keys(def['shape'] as object) : undefined;
}
