import type { Platform } from '../schema.js';
import { checkAws } from './aws.js';
import { checkCloudflare } from './cloudflare.js';
import { checkHosts } from './hosts.js';
import { checkInfisical } from './infisical.js';
import { checkMcp } from './mcp.js';
import { checkNats } from './nats.js';
import { checkObservability } from './observability.js';
import type { RawProblem } from './problems.js';
import { checkRouting } from './routing.js';
import { checkSchedules } from './schedules.js';
import { checkServices } from './services.js';

export type { RawProblem } from './problems.js';

/**
 * Checks across the model that a schema cannot express: references between sections, cycles,
 * collisions, duplicates. One file per model section; returns every problem, never throws.
 */
export function crossCheck(p: Platform): RawProblem[] {
  return [
    ...[
      checkHosts,
      checkServices,
      checkMcp,
      checkCloudflare,
      checkInfisical,
      checkAws,
      checkRouting,
      checkObservability,
      checkNats,
    ].flatMap((check) => check(p)),
    // The clock only feeds the next-run times an error shows; no generator reads it.
    ...checkSchedules(p, new Date()),
  ];
}
