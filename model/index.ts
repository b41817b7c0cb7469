export * from './schema.js';
export * from './errors.js';
export { parsePlatform, loadPlatform, SourceMap } from './load.js';
export * from './views.js';
export * from './nats.js';
export {
  RetrievalSchema,
  RuntimeConfigSchema,
  RuntimeScheduleSchema,
  type RetrievalSettings,
  type RuntimeConfigFile,
  type RuntimeRoute,
  type RuntimeSchedule,
} from '@platform/contract';
export { parseCron, isTimeZone } from './checks/schedules.js';
export { METRICS, metric, seriesNames, catalogSeries, type Metric, type MetricName } from '@platform/contract';
export { secretKind } from '@platform/contract';
