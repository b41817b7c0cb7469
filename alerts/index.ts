export { ALERTMANAGER_SECRETS_DIR, alertmanagerConfig, alertsGenerator, rulesFile, runbooksDoc, testFiles } from './generate.js';
export { expand, humanize, humanizeDuration, humanizePercentage } from './humanize.js';
export {
  alertRules,
  GROUPS,
  healthGatedHosts,
  runbookAnchor,
  runbookUrl,
  type AlertCase,
  type AlertRule,
  type InputSeries,
  type Severity,
} from './rules.js';
