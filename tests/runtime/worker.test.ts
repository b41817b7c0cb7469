import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JobLedger } from '../../runtime/src/jobs/index.js';
import { Router } from '../../runtime/src/router/index.js';
import { runWorker } from '../../runtime/src/worker/index.js';
import { openWorkerParts } from '../../runtime/src/worker/parts.js';
import { testConfig } from '../doubles/config.js';
import { sleep, waitFor, frontmatterOf } from './helpers/vault.js';
import { startHarness, type Harness } from './helpers/worker-harness.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const idOf = (text: string): unknown => (frontmatterOf(text).data as Record<string, unknown>).id;

describe('worker: text jobs', () => {
  it('runs a text job: provider call, output with frontmatter, job file completed with id and link', async () => {
    h = await startHarness();
    await h.start();
    await h.v.drop('Weekly Summary.md', '---\ntitle: Weekly summary\ntags: [a, b]\n---\nSummarise the week.\n');
    const [o] = await h.settled(1);
    expect(o).toMatchObject({ status: 'completed', type: 'text', model: 'qwen2.5:14b' });

    expect(h.ollama.chats).toHaveLength(1);
    expect(h.ollama.chats[0]!.model).toBe('qwen2.5:14b');
    expect(h.ollama.chats[0]!.messages.at(-1)).toEqual({ role: 'user', content: 'Summarise the week.' });

    const outputs = await h.v.list('outputs');
    expect(outputs).toHaveLength(1);
    expect(outputs[0]).toMatch(/^\d{4}-\d{2}-\d{2}-\d{6}-weekly-summary\.md$/);
    const out = frontmatterOf(await h.v.read('outputs', outputs[0]!));
    expect(out.data).toMatchObject({
      job_id: o!.jobId,
      type: 'text',
      model: 'qwen2.5:14b',
      skills: [],
      status: 'completed',
      source: 'Weekly Summary.md',
    });
    expect(out.data.tokens_in).toBeGreaterThan(0);
    expect(out.data.tokens_out).toBe(4); // the double counts words
    expect(typeof out.data.duration_ms).toBe('number');
    expect(out.content.trim()).toBe('echo: Summarise the week.');

    expect(await h.v.list('completed')).toEqual(['Weekly Summary.md']);
    const done = await h.v.read('completed', 'Weekly Summary.md');
    expect(idOf(done)).toBe(o!.jobId);
    expect(done).toContain('title: Weekly summary\ntags: [a, b]\n---\nSummarise the week.\n');
    expect(done).toContain(`[[runner-outputs/${outputs[0]!.replace(/\.md$/, '')}]]`);
    expect(await h.v.list('queue')).toEqual([]);
    expect(await h.v.list('active')).toEqual([]);
    expect(h.notices.completed).toMatchObject([{ name: 'Weekly Summary.md', status: 'completed', jobId: o!.jobId }]);
    expect(h.metrics.value('platform_jobs_total', { type: 'text', outcome: 'completed' })).toBe(1);
    await waitFor(() => h.metrics.value('platform_queue_depth', { folder: 'completed' }) === 1, 'gauge');
  });

  it('writes the id into the file before the provider is called, and keeps an existing id', async () => {
    h = await startHarness();
    let activeAtCall = '';
    h.ollama.answer = async (b) => {
      if (b.messages.at(-1)?.content === 'No frontmatter at all.') activeAtCall = await readFile(join(h.v.dir('active'), 'a.md'), 'utf8');
      return `ok ${b.messages.length}`;
    };
    await h.start();
    await h.v.drop('a.md', 'No frontmatter at all.');
    const [o] = await h.settled(1);
    expect(activeAtCall).toBe(`---\nid: ${o!.jobId}\n---\nNo frontmatter at all.`);
    expect(o!.jobId).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);

    await h.v.drop('b.md', '---\nid: my-own-id\nnotify: false\n---\nHello');
    const [, o2] = await h.settled(2);
    expect(o2!.jobId).toBe('my-own-id');
    expect(h.notices.completed).toHaveLength(1); // notify: false
  });

  it('joins the job system prompt and its skills into the system message', async () => {
    h = await startHarness();
    await mkdir(join(h.v.dir('skills'), 'terse'), { recursive: true });
    await writeFile(
      join(h.v.dir('skills'), 'terse', 'SKILL.md'),
      '---\nname: terse\ndescription: Short answers\n---\nAnswer in one line.\n',
    );
    await h.start();
    await h.v.drop('s.md', '---\nsystem: You are careful.\nskills: [terse]\n---\nWhy?');
    const [o] = await h.settled(1);
    expect(o!.status).toBe('completed');
    const sys = h.ollama.chats[0]!.messages[0]!;
    expect(sys.role).toBe('system');
    expect(sys.content).toBe('You are careful.\n\n## Skill: terse\nShort answers\n\nAnswer in one line.');
    const out = frontmatterOf(await h.v.read('outputs', (await h.v.list('outputs'))[0]!));
    expect(out.data.skills).toEqual(['terse']);
  });
});

describe('worker: chain jobs', () => {
  it('feeds each step the conversation so far, with a per-step model', async () => {
    h = await startHarness();
    let n = 0;
    h.ollama.answer = () => `answer-${++n}`;
    await h.start();
    await h.v.drop(
      'chain.md',
      [
        '---',
        'type: chain',
        'steps:',
        '  - prompt: Draft an outline.',
        '  - prompt: Expand it.',
        '    model: gemma4:27b',
        '  - prompt: Shorten it.',
        '---',
        'Topic: queues.',
      ].join('\n'),
    );
    const [o] = await h.settled(1);
    expect(o).toMatchObject({ status: 'completed', type: 'chain' });
    const reqs = h.ollama.chats;
    expect(reqs.map((r) => r.model)).toEqual(['qwen2.5:14b', 'gemma4:27b', 'qwen2.5:14b']);
    expect(reqs[0]!.messages).toEqual([{ role: 'user', content: 'Topic: queues.\n\nDraft an outline.' }]);
    expect(reqs[1]!.messages).toEqual([
      { role: 'user', content: 'Topic: queues.\n\nDraft an outline.' },
      { role: 'assistant', content: 'answer-1' },
      { role: 'user', content: 'Expand it.' },
    ]);
    expect(reqs[2]!.messages.map((m) => m.content)).toEqual([
      'Topic: queues.\n\nDraft an outline.',
      'answer-1',
      'Expand it.',
      'answer-2',
      'Shorten it.',
    ]);
    const out = await h.v.read('outputs', (await h.v.list('outputs'))[0]!);
    expect(out).toContain('## Step 1 (qwen2.5:14b)\n\nanswer-1');
    expect(out).toContain('## Step 3 (qwen2.5:14b)\n\nanswer-3');
  });
});

describe('worker: failures', () => {
  it('research jobs fail with MCP_UNAVAILABLE, nothing of the file lost', async () => {
    h = await startHarness();
    await h.start();
    const original = '---\ntype: research\nmodel: qwen2.5:14b\n---\nFind papers on CRDTs.\n';
    await h.v.drop('research.md', original);
    const [o] = await h.settled(1);
    expect(o).toMatchObject({ status: 'failed', error: { code: 'MCP_UNAVAILABLE' } });
    expect(h.ollama.chats).toHaveLength(0);
    const failed = await h.v.read('failed', 'research.md');
    expect(failed).toContain('type: research\nmodel: qwen2.5:14b\n---\nFind papers on CRDTs.\n');
    expect(failed).toContain('## Failed');
    expect(failed).toContain('`MCP_UNAVAILABLE`');
    expect(failed).toContain('the MCP tool server is not available; research jobs need it');
    expect(failed).not.toContain('```'); // expected errors carry no stack
    expect(h.notices.failed).toMatchObject([{ name: 'research.md', error: { code: 'MCP_UNAVAILABLE' } }]);
  });

  it('malformed frontmatter goes to failed with the reason, the original intact', async () => {
    h = await startHarness();
    await h.start();
    const original = '---\ntype: text\nskills: [a, b\n---\nBody stays.\n';
    await h.v.drop('broken.md', original);
    const [o] = await h.settled(1);
    expect(o).toMatchObject({ status: 'failed', error: { code: 'JOB_INVALID' } });
    const failed = await h.v.read('failed', 'broken.md');
    expect(failed.startsWith(original)).toBe(true);
    expect(failed).toMatch(/- code: `JOB_INVALID`\n- message: the frontmatter is not valid YAML: /);
  });

  it('invalid frontmatter values say what is allowed', async () => {
    h = await startHarness();
    await h.start();
    await h.v.drop('bad.md', '---\ntype: poem\nnotify: maybe\n---\nx');
    await h.v.drop('chain.md', '---\ntype: chain\n---\nx');
    await h.settled(2);
    const bad = await h.v.read('failed', 'bad.md');
    expect(bad).toContain('type:');
    expect(bad).toContain('notify:');
    expect(bad).toContain('hint: allowed keys');
    expect(await h.v.read('failed', 'chain.md')).toContain('a chain job needs `steps`');
  });

  it('an unknown skill fails the job with the known ones', async () => {
    h = await startHarness();
    await mkdir(join(h.v.dir('skills'), 'writer'), { recursive: true });
    await writeFile(join(h.v.dir('skills'), 'writer', 'SKILL.md'), '---\nname: writer\ndescription: Writes\n---\nWrite well.');
    await h.start();
    await h.v.drop('s.md', '---\nskills: [writer, poet]\n---\nGo');
    const [o] = await h.settled(1);
    expect(o!.error?.code).toBe('SKILL_UNKNOWN');
    expect(await h.v.read('failed', 's.md')).toContain('unknown skill "poet"; known skills: writer');
  });

  it('a provider error fails the job with its code; the id is kept for a retry', async () => {
    h = await startHarness();
    h.ollama.answer = () => ({ status: 500, error: 'model crashed' });
    await h.start();
    await h.v.drop('p.md', 'Hello');
    const [o] = await h.settled(1);
    expect(o!.status).toBe('failed');
    expect(o!.error?.code).toMatch(/^PROVIDER_/);
    const failed = await h.v.read('failed', 'p.md');
    expect(idOf(failed)).toBe(o!.jobId);

    // Moved back by hand after the fix: runs again with the same id, without the failure text.
    h.ollama.answer = () => 'fine now';
    await h.v.drop('p.md', failed);
    const [, o2] = await h.settled(2);
    expect(o2).toMatchObject({ status: 'completed', jobId: o!.jobId });
    expect(h.ollama.chats.at(-1)!.messages.at(-1)!.content).toBe('Hello');
  });
});

describe('worker: exactly once', () => {
  it('a completed job that comes back is not run again and is marked a duplicate', async () => {
    h = await startHarness();
    await h.start();
    await h.v.drop('once.md', 'Run me once');
    const [o] = await h.settled(1);
    const completed = await h.v.read('completed', 'once.md');
    // Syncthing resurrects the file (with its id) in the queue.
    await h.v.drop('once.md', `---\nid: ${o!.jobId}\n---\nRun me once`);
    const [, dup] = await h.settled(2);
    expect(dup).toMatchObject({ status: 'duplicate', jobId: o!.jobId });
    expect(h.ollama.chats).toHaveLength(1);
    expect(await h.v.list('outputs')).toHaveLength(1);
    const names = await h.v.list('completed');
    expect(names).toHaveLength(2);
    expect(await h.v.read('completed', 'once.md')).toBe(completed);
    const copy = await h.v.read(
      'completed',
      names.find((n) => n !== 'once.md')!,
    );
    expect(copy).toContain('## Duplicate');
    expect(copy).toContain(`Not run again: job ${o!.jobId} already completed`);
    expect(h.notices.completed).toHaveLength(1);
  });

  it('killed after the output write but before the move: moved on restart, not run again', async () => {
    h = await startHarness();
    // The state a kill leaves: ledger row, output written, job file still in active.
    const ledger = new JobLedger(join(h.v.dataDir, 'jobs.db'));
    ledger.reserve('JOB1', 'runner-outputs/2026-01-01-000000-k.md', 'k.md', Date.now());
    ledger.close();
    await writeFile(join(h.v.dir('outputs'), '2026-01-01-000000-k.md'), '---\njob_id: JOB1\n---\nanswer\n');
    await writeFile(join(h.v.dir('outputs'), '.runtime-tmp-abcdef-x.md'), 'half');
    await writeFile(join(h.v.dir('active'), 'k.md'), '---\nid: JOB1\n---\nPrompt');
    await h.start();
    const [o] = await h.settled(1);
    expect(o).toMatchObject({ status: 'completed', jobId: 'JOB1', output: 'runner-outputs/2026-01-01-000000-k.md' });
    expect(h.ollama.chats).toHaveLength(0);
    expect(await readdir(h.v.dir('outputs'))).toEqual(['2026-01-01-000000-k.md']);
    const done = await h.v.read('completed', 'k.md');
    expect(done).toContain('[[runner-outputs/2026-01-01-000000-k]]');
    expect(done).not.toContain('Duplicate');
  });

  it('killed after the link was appended: the link is not appended twice', async () => {
    h = await startHarness();
    const ledger = new JobLedger(join(h.v.dataDir, 'jobs.db'));
    ledger.reserve('JOB2', 'runner-outputs/2026-01-01-000000-l.md', 'l.md', Date.now());
    ledger.close();
    await writeFile(join(h.v.dir('outputs'), '2026-01-01-000000-l.md'), 'answer');
    const withLink = '---\nid: JOB2\n---\nPrompt\n\n<!-- runtime:appended -->\n## Output\n\n[[runner-outputs/2026-01-01-000000-l]]\n';
    await writeFile(join(h.v.dir('active'), 'l.md'), withLink);
    await h.start();
    await h.settled(1);
    expect(await h.v.read('completed', 'l.md')).toBe(withLink);
    expect(h.ollama.chats).toHaveLength(0);
  });

  it('killed after the ledger row but before the output: runs again into the reserved path', async () => {
    h = await startHarness();
    const ledger = new JobLedger(join(h.v.dataDir, 'jobs.db'));
    ledger.reserve('JOB3', 'runner-outputs/2026-01-01-000000-m.md', 'm.md', Date.now());
    ledger.close();
    await writeFile(join(h.v.dir('active'), 'm.md'), '---\nid: JOB3\n---\nPrompt');
    await h.start();
    const [o] = await h.settled(1);
    expect(o).toMatchObject({ status: 'completed', output: 'runner-outputs/2026-01-01-000000-m.md' });
    expect(h.ollama.chats).toHaveLength(1);
    expect(await h.v.list('outputs')).toEqual(['2026-01-01-000000-m.md']);
  });

  it('two files with the same id at once: one runs, the other waits and is a duplicate', async () => {
    h = await startHarness({ concurrency: 2 });
    h.ollama.answer = async () => {
      await sleep(200);
      return 'once';
    };
    await h.start();
    await h.v.drop('copy-1.md', '---\nid: SAME\n---\nq');
    await h.v.drop('copy-2.md', '---\nid: SAME\n---\nq');
    const outcomes = await h.settled(2);
    expect(outcomes.map((o) => o.status).sort()).toEqual(['completed', 'duplicate']);
    expect(h.ollama.chats).toHaveLength(1);
    expect(await h.v.list('outputs')).toHaveLength(1);
  });

  it('two jobs with the same title in the same second get distinct outputs', async () => {
    h = await startHarness({ concurrency: 4 });
    await h.start();
    for (let i = 0; i < 4; i++) await h.v.drop(`same-${i}.md`, `---\ntitle: Same\n---\nq${i}`);
    await h.settled(4);
    const outs = await h.v.list('outputs');
    expect(new Set(outs).size).toBe(4);
    expect(outs.every((n) => /-same(-\d)?\.md$/.test(n))).toBe(true);
  });
});

describe('worker: start-up', () => {
  it('a ledger that cannot be opened fails the start with STORE_ERROR', async () => {
    h = await startHarness();
    const config = await testConfig({ root: h.v.root, vault: h.v.vault, dataDir: h.v.dataDir, ollamaUrl: h.ollama.url });
    await writeFile(join(h.v.root, 'not-a-dir'), 'x');
    await expect(openWorkerParts(config, { log: h.log, ledgerPath: join(h.v.root, 'not-a-dir', 'jobs.db') })).rejects.toMatchObject({
      code: 'STORE_ERROR',
    });
  });
});

describe('worker: shutdown', () => {
  it('lets a running job finish within the grace period', async () => {
    h = await startHarness({ graceMs: 5_000 });
    h.ollama.answer = async () => {
      await sleep(400);
      return 'slow but done';
    };
    await h.start();
    await h.v.drop('g.md', 'x');
    await waitFor(() => h.ollama.chats.length === 1, 'the call');
    await h.worker.stop();
    expect(await h.v.list('completed')).toEqual(['g.md']);
  });

  it('SIGTERM: stops claiming, aborts after grace, returns the file to the queue, resolves', async () => {
    h = await startHarness({ graceMs: 300 });
    h.ollama.answer = () => ({ hang: true });
    const config = await testConfig({
      root: h.v.root,
      vault: h.v.vault,
      dataDir: h.v.dataDir,
      ollamaUrl: h.ollama.url,
      worker: { graceMs: 300, concurrency: 1 },
    });
    const router = new Router({ config, log: h.log });
    const done = runWorker({ config, router, ...(await openWorkerParts(config, { log: h.log })), log: h.log });
    await h.v.drop('hang.md', 'wait forever');
    await h.v.drop('next.md', 'never claimed');
    await waitFor(() => h.ollama.chats.length === 1, 'the call');
    const t0 = Date.now();
    process.emit('SIGTERM');
    await done;
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(280);
    expect(took).toBeLessThan(3_000);
    expect(await h.v.list('queue')).toEqual(['hang.md', 'next.md']);
    expect(await h.v.list('active')).toEqual([]);
    expect(await h.v.list('failed')).toEqual([]);
    expect(idOf(await h.v.read('queue', 'hang.md'))).toBeTruthy();
    expect(h.ollama.chats).toHaveLength(1);
  });
});
