import { z } from 'zod';
import { PlatformSchema } from '../../model/index.js';
import type { Generator } from '../types.js';
import { toJson } from '../yaml.js';

/** JSON Schema for platform.yaml, for editor completion (yaml-language-server). */
export function platformJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(PlatformSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    ...schema,
    title: 'platform.yaml',
    description: 'The platform model: hosts, services, edge, secrets by name, routing, observability, vault.',
  };
}

export const platformSchemaGenerator: Generator = {
  name: 'platform-schema',
  generate: () => [{ path: 'platform.schema.json', content: toJson(platformJsonSchema()) }],
};
