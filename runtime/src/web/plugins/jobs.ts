import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { WebDeps } from '../app.js';
import { JOB_STATES, JobBoard } from '../job-board.js';
import { parse, requireWrite } from '../http.js';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { ScheduleLedger } from '../../schedule/ledger.js';
import { slotFileName, upcomingRuns } from '../../schedule/scheduler.js';

/*
 * The vault queue: list by state (the UI polls it), one job's detail, and submitting a job.
 * The worker picks a submitted file up like any other: it is an ordinary job file.
 */
export const jobsPlugin: FastifyPluginAsync<WebDeps> = async (app, deps) => {
  const board = new JobBoard(deps.config, deps.settings.limits.jobBytes);
  app.addHook('onClose', async () => board.close());
  const L = deps.settings.limits;

  app.get('/api/jobs', async () => board.list());

  // Upcoming scheduled runs, for the queue view: what will land in the queue next, and how the
  // last slot went. The worker writes the schedule ledger (jobs.db on the shared data volume).
  let ledger: ScheduleLedger | undefined;
  app.addHook('onClose', async () => ledger?.close());
  const folders = deps.config.vault.folders;
  /** Where the last slot's job file is now: its outcome as the queue shows it. */
  const outcomeOf = async (name: string, slot: number, status: string): Promise<string> => {
    const file = slotFileName(name, slot);
    for (const [folder, outcome] of [
      [folders.completed, 'completed'],
      [folders.failed, 'failed'],
      [folders.active, 'running'],
      [folders.queue, 'queued'],
    ] as const) {
      const st = await lstat(join(deps.config.vault.path, folder, file)).catch(() => undefined);
      if (st?.isFile()) return outcome;
    }
    return status;
  };
  app.get('/api/schedules', async () => {
    ledger ??= deps.config.schedules.length ? new ScheduleLedger(join(deps.config.dataDir, 'jobs.db')) : undefined;
    const rows = upcomingRuns(deps.config.schedules, { n: 3, from: Date.now(), ...(ledger ? { ledger } : {}) });
    const schedules = await Promise.all(
      rows.map(async (r) => {
        const last = ledger?.last(r.name);
        if (!last || last.status === 'claimed') return r;
        return { ...r, lastOutcome: last.status === 'skipped' ? 'skipped' : await outcomeOf(r.name, last.slot, last.status) };
      }),
    );
    return { schedules };
  });

  app.get('/api/jobs/:state/:name', async (req) => {
    const p = parse(z.strictObject({ state: z.enum(JOB_STATES), name: z.string().min(4).max(255) }), req.params, 'params');
    return board.detail(p.state, p.name);
  });

  app.post('/api/jobs', async (req, reply) => {
    requireWrite(req);
    const b = parse(
      z.strictObject({
        prompt: z.string().max(L.jobBytes),
        title: z.string().trim().min(1).max(L.titleChars).optional(),
        type: z.enum(['text', 'chain', 'research']).optional(),
        model: z.string().min(1).max(200).optional(),
        skills: z.array(z.string().min(1).max(100)).max(32).optional(),
        system: z.string().max(L.systemChars).optional(),
        steps: z
          .array(z.strictObject({ prompt: z.string().min(1).max(L.messageChars), model: z.string().min(1).max(200).optional() }))
          .max(32)
          .optional(),
        notify: z.boolean().optional(),
      }),
      req.body,
      'body',
    );
    if (b.model && !deps.router.models().some((m) => m.id === b.model)) {
      return reply.code(400).send({
        code: 'BAD_REQUEST',
        message: `model "${b.model}" is not in the routing table`,
        hint: `use one of: ${deps.router
          .models()
          .map((m) => m.id)
          .join(', ')}`,
      });
    }
    const r = await board.submit(b);
    deps.log.info('job submitted', { file: r.name, by: req.identity?.id });
    return reply.code(201).send(r);
  });
};
