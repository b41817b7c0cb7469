export * from './schema.js';
export * from './errors.js';
export { parsePlatform, loadPlatform, SourceMap } from './load.js';
export * from './views.js';
export { RetrievalSchema, RuntimeConfigSchema, type RetrievalSettings, type RuntimeConfigFile, type RuntimeRoute } from '@platform/contract';
export { METRICS, metric, seriesNames, catalogSeries, type Metric, type MetricName } from '@platform/contract';
export { secretKind } from '@platform/contract';
