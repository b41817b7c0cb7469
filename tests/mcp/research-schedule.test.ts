import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { researchSettings } from '../../runtime/src/cli.js';
import type { JobOutcome } from '../../runtime/src/jobs/index.js';
import { silentLogger } from '../../runtime/src/log.js';
import { Router } from '../../runtime/src/router/index.js';
import { ScheduleLedger } from '../../runtime/src/schedule/index.js';
import { createWorker, type Worker } from '../../runtime/src/worker/index.js';
import { openWorkerParts } from '../../runtime/src/worker/parts.js';
import { startOllama, type OllamaDouble } from '../doubles/ollama.js';
import { frontmatterOf, waitFor } from '../runtime/helpers/vault.js';
import { configFor, startHarness, type Harness } from './helpers.js';

/*
 * A standing research question on a schedule: each slot runs a research job through the real MCP
 * server, with the previous answer in its prompt; the new answer lands in the folder the model
 * names, with a line diff against the previous answer appended.
 */

let h: Harness | undefined;
let ollama: OllamaDouble | undefined;
let worker: Worker | undefined;
afterEach(async () => {
  await worker?.stop();
  await ollama?.close();
  await h?.close();
  worker = ollama = h = undefined;
});

describe('a scheduled research question', () => {
  it('re-runs with its previous answer as context and records what changed', async () => {
    h = await startHarness();
    ollama = await startOllama();
    const url = ollama.url;
    const dataDir = join(h.vault.root, 'data');
    const config = {
      ...configFor(
        h.vault.root,
        h.vault.vault,
        (c) => {
          for (const host of Object.keys(c.ollamaHosts)) c.ollamaHosts[host] = url;
          c.vault.worker = { ...c.vault.worker, concurrency: 1, mtimeGuardMs: 0, rescanMs: 100, graceMs: 1000 };
          c.services.mcpUrl = new URL(h!.server.url).origin;
          c.mcp.research = { maxSteps: 4, timeoutMs: 20_000, maxTokens: 100_000 };
        },
        { DATA_DIR: dataDir },
      ),
    };
    const withSchedule = {
      ...config,
      schedules: [
        {
          name: 'serving',
          cron: '0 * * * *',
          timezone: 'UTC',
          enabled: true,
          catchUp: 'skip' as const,
          job: {
            type: 'research' as const,
            model: 'qwen2.5:14b',
            skills: [],
            title: 'Serving news',
            output: 'research',
            prompt: 'What changed in LLM serving?\n\nYour previous answer:\n\n{{previous_output}}\n',
          },
        },
      ],
    };
    const seen = new ScheduleLedger(join(dataDir, 'jobs.db'));
    seen.firstSeen('serving', Date.parse('2026-12-01T09:30:00Z'));
    seen.close();
    const outcomes: JobOutcome[] = [];
    const run = async (at: string, answer: string): Promise<JobOutcome> => {
      ollama!.chat.enqueue({ chunks: [answer], promptEvalCount: 20, evalCount: 5 });
      const before = outcomes.length;
      // A worker per slot: each start ticks the scheduler at its (virtual) now.
      worker = createWorker({
        config: withSchedule,
        router: new Router({ config: withSchedule, log: silentLogger }),
        ...(await openWorkerParts(withSchedule, { log: silentLogger, watch: false })),
        log: silentLogger,
        research: researchSettings(withSchedule),
        now: () => Date.parse(at),
        onOutcome: (o) => outcomes.push(o),
      });
      await worker.start();
      await waitFor(() => outcomes.length > before, `the research job at ${at}`, 30_000);
      await worker.stop();
      worker = undefined;
      return outcomes[before]!;
    };

    const first = await run('2026-12-01T10:00:02Z', 'Ollama 0.17 is current.\nvLLM adds tool calls.\nTGI is archived.');
    expect(first).toMatchObject({ status: 'completed', type: 'research', jobId: 'sched-serving-20261201T1000Z' });
    expect(first.output).toMatch(/^research\/\d{4}-\d\d-\d\d-\d{6}-serving-news\.md$/);
    const firstText = readFileSync(join(h.vault.vault, first.output!), 'utf8');
    expect(firstText).not.toContain('## Changes since the previous answer');
    expect(readdirSync(join(h.vault.vault, 'runner-outputs'))).toEqual([]);

    const second = await run('2026-12-01T11:00:02Z', 'Ollama 0.18 is current.\nvLLM adds tool calls.\nTGI is archived.\nSGLang joined.');
    expect(second).toMatchObject({ status: 'completed', jobId: 'sched-serving-20261201T1100Z' });
    // The job named its previous answer, and the model was given it.
    const job = frontmatterOf(readFileSync(join(h.vault.vault, '_completed', 'serving-20261201T1100Z.md'), 'utf8'));
    expect(job.data.previous_output).toBe(first.output);
    const chat = JSON.stringify(ollama.chats.at(-1));
    expect(chat).toContain('Your previous answer:');
    expect(chat).toContain('Ollama 0.17 is current.');
    const out = frontmatterOf(readFileSync(join(h.vault.vault, second.output!), 'utf8')).content;
    const diff = out.slice(out.indexOf('## Changes since the previous answer'));
    expect(diff).toContain(`Against [[${first.output!.replace(/\.md$/, '')}]]`);
    expect(diff).toContain('- Ollama 0.17 is current.\n+ Ollama 0.18 is current.\n  vLLM adds tool calls.');
    expect(diff).toContain('  TGI is archived.\n+ SGLang joined.');
    // The previous answer's frontmatter is not part of the comparison.
    expect(diff).not.toContain('job_id');
  }, 60_000);
});
