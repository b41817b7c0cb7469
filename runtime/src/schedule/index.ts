export {
  Scheduler,
  upcomingRuns,
  slotFileName,
  slotJobId,
  slotStamp,
  type SchedulerProps,
  type SlotEvent,
  type UpcomingRuns,
} from './scheduler.js';
export { ScheduleLedger, type SlotRow, type SlotStatus } from './ledger.js';
export { compileCron, slotsBetween, nextSlots, inWindow } from './cron.js';
