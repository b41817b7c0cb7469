import { readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorker, type Worker } from '../../runtime/src/worker/index.js';
import { openWorkerParts } from '../../runtime/src/worker/parts.js';
import { waitFor } from '../helpers/wait.js';
import { startWeb, type WebHarness } from './harness.js';

/* The queue views and job submission, with the real worker running on the same vault. */

let h: WebHarness;
let worker: Worker;

beforeAll(async () => {
  h = await startWeb();
});
afterAll(async () => {
  await worker?.stop();
  await h.close();
});

interface Listing {
  queued: { name: string; title: string | null }[];
  active: { name: string }[];
  completed: { name: string; id: string | null }[];
  failed: { name: string }[];
  counts: Record<string, number>;
}

const list = async (): Promise<Listing> => (await h.app.inject({ method: 'GET', url: '/api/jobs' })).json() as Listing;

/** The listing once `ok` holds for it. */
const listingWhen = (ok: (l: Listing) => boolean, what: string): Promise<Listing> =>
  waitFor(
    async () => {
      const l = await list();
      return ok(l) ? l : undefined;
    },
    what,
    20_000,
    100,
  );

describe('jobs', () => {
  it('submits a job atomically, lists it, and shows it completed with its output once the worker ran it', async () => {
    h.ollama!.chat.fallback = { chunks: ['The ', 'summary.'], promptEvalCount: 7, evalCount: 2 };
    const r = await h.app.inject({
      method: 'POST',
      url: '/api/jobs',
      payload: { prompt: 'Summarise the week.', title: 'Weekly summary', model: 'qwen2.5:14b' },
    });
    expect(r.statusCode).toBe(201);
    const { name } = r.json() as { name: string };
    expect(name).toMatch(/^\d{4}-\d{2}-\d{2}-\d{6}-weekly-summary\.md$/);
    const queueDir = join(h.vault, '_queue');
    expect(readdirSync(queueDir)).toEqual([name]);
    expect(readFileSync(join(queueDir, name), 'utf8')).toBe('---\ntitle: Weekly summary\nmodel: qwen2.5:14b\n---\n\nSummarise the week.\n');
    expect((await list()).queued.map((j) => [j.name, j.title])).toEqual([[name, 'Weekly summary']]);

    worker = createWorker({
      config: h.config,
      router: h.router,
      ...(await openWorkerParts(h.config, { log: h.log, watch: false })),
      log: h.log,
    });
    await worker.start();
    const done = await listingWhen((l) => l.completed.some((j) => j.name === name), 'the job to complete');
    expect(done.queued).toEqual([]);
    const d = await h.app.inject({ method: 'GET', url: `/api/jobs/completed/${name}` });
    expect(d.statusCode).toBe(200);
    const detail = d.json() as {
      id: string;
      prompt: string;
      sections: { heading: string }[];
      output: { markdown: string; meta: Record<string, unknown> };
      failureReason: null;
    };
    expect(detail.prompt).toBe('Summarise the week.');
    expect(detail.sections.map((s) => s.heading)).toEqual(['Output']);
    expect(detail.output.markdown).toBe('The summary.');
    expect(detail.output.meta).toMatchObject({ job_id: detail.id, model: 'qwen2.5:14b', tokens_in: 7, tokens_out: 2, status: 'completed' });
    expect(detail.failureReason).toBeNull();
  });

  it('shows a failed job with the reason the worker gave', async () => {
    const r = await h.app.inject({
      method: 'POST',
      url: '/api/jobs',
      payload: { prompt: 'Use a skill.', title: 'needs a skill', skills: ['no-such-skill'] },
    });
    expect(r.statusCode).toBe(201);
    const { name } = r.json() as { name: string };
    await listingWhen((l) => l.failed.some((j) => j.name === name), 'the job to fail');
    const detail = (await h.app.inject({ method: 'GET', url: `/api/jobs/failed/${name}` })).json() as {
      failureReason: string;
      output: null;
    };
    expect(detail.failureReason).toMatch(/no-such-skill/);
    expect(detail.output).toBeNull();
  });

  it('refuses bad submissions and bad names with 4xx, and never follows a symlink', async () => {
    const bad: [unknown, number, string][] = [
      [{ prompt: '' }, 400, 'JOB_INVALID'],
      [{ prompt: 'x', type: 'chain' }, 400, 'JOB_INVALID'],
      [{ prompt: 'x', steps: [{ prompt: 'a' }] }, 400, 'JOB_INVALID'],
      [{ prompt: 'x', model: 'nope' }, 400, 'BAD_REQUEST'],
      [{ prompt: 'x', extra: 1 }, 400, 'BAD_REQUEST'],
      [{}, 400, 'BAD_REQUEST'],
    ];
    for (const [payload, status, code] of bad) {
      const r = await h.app.inject({ method: 'POST', url: '/api/jobs', payload: payload as object });
      expect(r.statusCode, JSON.stringify(payload)).toBe(status);
      expect(r.json().code, JSON.stringify(payload)).toBe(code);
    }
    writeFileSync(join(h.dir, 'secret.md'), 'secret');
    symlinkSync(join(h.dir, 'secret.md'), join(h.vault, '_failed', 'link.md'));
    const link = await h.app.inject({ method: 'GET', url: '/api/jobs/failed/link.md' });
    expect(link.statusCode).toBe(400);
    expect(link.body).not.toContain('secret');
    expect((await list()).failed.map((j) => j.name)).not.toContain('link.md');
    for (const [url, status] of [
      ['/api/jobs/failed/..%2F..%2Fsecret.md', 400],
      ['/api/jobs/failed/notes.txt', 400],
      ['/api/jobs/failed/.hidden.md', 400],
      ['/api/jobs/elsewhere/x.md', 400],
      ['/api/jobs/failed/missing.md', 404],
    ] as const) {
      const r = await h.app.inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(status);
      expect(typeof r.json().code).toBe('string');
    }
  });
});
