export {
  buildDashboard,
  dashboardUid,
  DATASOURCE_VARIABLE,
  type DashboardSpec,
  type PanelSpec,
  type RowSpec,
  type Target,
  type VariableSpec,
} from './build.js';
export { dashboardsGenerator } from './generate.js';
export { gauge, increase, quantile, rate } from './query.js';
export { dashboardSpecs, extraPanel } from './specs.js';
