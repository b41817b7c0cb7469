export { openDatabase, type Db } from './db.js';
export {
  UsageStore,
  type CallOutcome,
  type DayTotals,
  type ModelTotals,
  type StatsRange,
  type UsageRecorder,
  type UsageRow,
  type UsageTotals,
} from './usage.js';
