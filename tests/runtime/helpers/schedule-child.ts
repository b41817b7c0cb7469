import { ScheduleLedger, Scheduler } from '../../../runtime/src/schedule/index.js';
import { memoryLogger } from '../../../runtime/src/log.js';

/*
 * One scheduler process for the two-workers test: walks a fake clock minute by minute over the
 * range given and prints its slot events as JSON lines. Two of these run at once on one vault.
 */

const [vault, db, from, to] = process.argv.slice(2) as [string, string, string, string];
let t = Date.parse(from);
const ledger = new ScheduleLedger(db);
const s = new Scheduler({
  schedules: [
    { name: 'brief', cron: '*/5 * * * *', timezone: 'UTC', enabled: true, catchUp: 'skip', job: { type: 'text', skills: [], prompt: 'p' } },
  ],
  vaultPath: vault,
  folders: { queue: '_queue', active: '_active', completed: '_completed', failed: '_failed' },
  ledger,
  log: memoryLogger(),
  now: () => t,
});
for (; t <= Date.parse(to); t += 60_000) {
  for (const e of await s.tick()) process.stdout.write(`${JSON.stringify(e)}\n`);
}
ledger.close();
