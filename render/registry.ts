import { alertsGenerator } from '../alerts/generate.js';
import { alloyGenerator } from '../alloy/config.js';
import { dashboardsGenerator } from '../dashboards/generate.js';
import { composeGenerator } from '../compose.js';
import { platformSchemaGenerator } from './generators/platform-schema.js';
import { natsConfigGenerator } from './generators/nats-config.js';
import { runtimeConfigGenerator } from './generators/runtime-config.js';
import { systemMapGenerator } from './generators/system-map.js';
import { ansibleGenerator } from '../playbooks-gen/index.js';
import type { Generator } from './types.js';

/** Every generator `make render` runs. A new generator is one import and one entry here. */
export const GENERATORS: readonly Generator[] = [
  composeGenerator,
  platformSchemaGenerator,
  runtimeConfigGenerator,
  natsConfigGenerator,
  systemMapGenerator,
  ansibleGenerator,
  alloyGenerator,
  alertsGenerator,
  dashboardsGenerator,
];
