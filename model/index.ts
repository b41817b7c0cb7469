export * from './schema.js';
export * from './errors.js';
export { parsePlatform, loadPlatform, SourceMap } from './load.js';
export * from './views.js';
export { RetrievalSchema, RuntimeConfigSchema, RuntimeScheduleSchema, type RetrievalSettings, type RuntimeConfigFile, type RuntimeRoute, type RuntimeSchedule } from './runtime-config.js';
export { parseCron, isTimeZone } from './validate-schedules.js';
export { METRICS, metric, seriesNames, catalogSeries, type Metric, type MetricName } from './metrics.js';
export { secretKind } from './secrets.js';
