export * from './contabo.js';
export * from './grafana.js';
export * from './infisical.js';
export { CONTABO, GRAFANA, INFISICAL, type PinnedProvider } from './meta.js';
