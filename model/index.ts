export * from './schema.js';
export * from './errors.js';
export { parsePlatform, loadPlatform, SourceMap } from './load.js';
export * from './views.js';
export { RetrievalSchema, RuntimeConfigSchema, type RetrievalSettings, type RuntimeConfigFile, type RuntimeRoute } from './runtime-config.js';
export { METRICS, metric, seriesNames, catalogSeries, type Metric, type MetricName } from './metrics.js';
export { secretKind } from './secrets.js';
