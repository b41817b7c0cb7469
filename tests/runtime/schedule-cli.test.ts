import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../runtime/src/cli.js';
import { writeTestConfig } from '../doubles/config.js';
import { makeVault, type TempVault } from './helpers/vault.js';

/* `runtime schedule ...` against the committed runtime.json (the example's briefing, memory, reindex and research). */

let v: TempVault | undefined;
afterEach(async () => {
  await v?.cleanup();
  v = undefined;
});

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  v ??= await makeVault();
  const { env } = await writeTestConfig({ root: v.root, vault: v.vault, dataDir: v.dataDir, ollamaUrl: 'http://127.0.0.1:9' });
  let out = '';
  let err = '';
  const code = await main(['schedule', ...args], { ...env, LOG_LEVEL: 'warn' }, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

const RUN = /^ {2}\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z \(\d{4}-\d\d-\d\d \d\d:\d\d Europe\/London\)$/;

describe('runtime schedule', () => {
  it('list shows every schedule with its last and next run', async () => {
    const r = await cli(['list']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('briefing  0 7 * * *  Europe/London  enabled  catch-up once\n  last: never\n  next: ');
    expect(r.out).toContain('research  30 6 * * 1  Europe/London  disabled  catch-up skip\n  last: never\n  next: -\n');
    expect(r.out).toContain('memory  30 2 * * *  Europe/London  enabled  catch-up once\n  last: never\n  next: ');
    expect(r.out).toContain('reindex  0 3 * * *  Europe/London  enabled  catch-up once\n  last: never\n  next: ');
  });

  it('next prints the next runs in UTC and local time, 07:00 in London', async () => {
    const r = await cli(['next', 'briefing', '4']);
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toBe('briefing');
    expect(lines.slice(1)).toHaveLength(4);
    for (const l of lines.slice(1)) {
      expect(l).toMatch(RUN);
      expect(l).toContain(' 07:00 Europe/London)');
    }
  });

  it('run enqueues the job now; unknown names and verbs are usage errors', async () => {
    const r = await cli(['run', 'research']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^enqueued _queue\/research-manual-\d{8}T\d{6}Z\.md\n$/);
    expect((await readdir(join(v!.vault, '_queue'))).filter((n) => n.startsWith('research-manual-'))).toHaveLength(1);
    const bad = await cli(['run', 'nope']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('no schedule named "nope" (schedules: briefing, memory, reindex, research)');
    expect((await cli(['frobnicate'])).code).toBe(2);
  });

  it('run enqueues a reindex job with no prompt and a memory job with its folder and window', async () => {
    const r = await cli(['run', 'reindex']);
    expect(r.code).toBe(0);
    const [file] = (await readdir(join(v!.vault, '_queue'))).filter((n) => n.startsWith('reindex-manual-'));
    const text = await readFile(join(v!.vault, '_queue', file!), 'utf8');
    expect(text).toMatch(/^---\nid: sched-reindex-manual-\d{8}T\d{6}Z\ntype: reindex\ntitle: "Nightly re-index"\nschedule: "reindex"\n/);
    const m = await cli(['run', 'memory']);
    expect(m.code).toBe(0);
    const [mem] = (await readdir(join(v!.vault, '_queue'))).filter((n) => n.startsWith('memory-manual-'));
    const memText = await readFile(join(v!.vault, '_queue', mem!), 'utf8');
    expect(memText).toContain('type: memory\n');
    expect(memText).toContain('output: "memory"\n');
    // Never run before: the last day.
    expect(memText).toMatch(/\nsince: "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"\n/);
  });
});
