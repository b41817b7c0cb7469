import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { link, lstat, mkdir, open, readFile, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isRuntimeError } from '../../runtime/src/errors.js';
import { memoryLogger } from '../../runtime/src/log.js';
import { SkillRegistry } from '../../runtime/src/skills/index.js';
import { parseFrontmatter } from '../../runtime/src/vault/frontmatter.js';
import { sleep, waitFor } from './helpers/vault.js';
import { startHarness, type Harness } from './helpers/worker-harness.js';

/*
 * The vault is untrusted input: every file in it may come from any device Syncthing serves, a
 * careless edit or an attacker. Each test here drops one kind of hostile or broken file and
 * checks the worker refuses it, fails it with a reason, or ignores it with a log line, and that
 * nothing is lost, evaluated, read through a link or run twice.
 */

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const idOf = (text: string): unknown => parseFrontmatter(text).data.id;
const logged = (hh: Harness, re: RegExp): boolean => hh.log.records.some((r) => re.test(r.msg));

describe('frontmatter is YAML only: no code runs from a vault file', () => {
  for (const lang of ['js', 'javascript', 'coffee']) {
    it(`a ---${lang} job fails with JOB_INVALID and leaves no side effect`, async () => {
      h = await startHarness();
      const marker = join(h.v.root, `pwned-${lang}`);
      await h.start();
      const code = `({ x: require('fs').writeFileSync(${JSON.stringify(marker)}, 'pwned') })`;
      await h.v.drop('evil.md', `---${lang}\n${code}\n---\nHello`);
      const [o] = await h.settled(1);
      expect(existsSync(marker)).toBe(false);
      expect(o).toMatchObject({ status: 'failed', error: { code: 'JOB_INVALID' } });
      expect(o!.error!.message).toMatch(/only YAML/);
      expect(await h.v.list('failed')).toEqual(['evil.md']);
      expect(await h.v.read('failed', 'evil.md')).toContain('JOB_INVALID');
      expect(h.ollama.chats).toHaveLength(0);
    });
  }

  it('a ---js skill is ignored with a log line and runs nothing', async () => {
    h = await startHarness();
    const marker = join(h.v.root, 'pwned-skill');
    await mkdir(join(h.v.dir('skills'), 'evil'), { recursive: true });
    await writeFile(
      join(h.v.dir('skills'), 'evil', 'SKILL.md'),
      `---js\n({ description: require('fs').writeFileSync(${JSON.stringify(marker)}, 'x') || 'd' })\n---\nDo it.\n`,
    );
    const log = memoryLogger();
    const reg = new SkillRegistry({ dir: h.v.dir('skills'), log, watch: false });
    await reg.start();
    await reg.stop();
    expect(existsSync(marker)).toBe(false);
    expect(reg.list()).toEqual([]);
    expect(log.records.some((r) => r.level === 'warn' && /skill ignored/.test(r.msg) && /only YAML/.test(JSON.stringify(r)))).toBe(true);
  });

  it('YAML tags that other parsers turn into code stay inert strings', () => {
    const fm = parseFrontmatter('---\nf: !!js/function "function () { return 1 }"\nr: !!js/regexp /x/\n---\nbody');
    expect(typeof fm.data.f).toBe('string');
    expect(fm.body).toBe('body');
  });
});

describe('symlinks and non-regular files in the vault', () => {
  it('a link in the queue to a file outside the vault is refused, logged and moved to failed as a link', async () => {
    h = await startHarness();
    const secret = join(h.v.root, 'secret.txt');
    await writeFile(secret, 'TOP SECRET VALUE');
    await symlink(secret, join(h.v.dir('queue'), 'steal.md'));
    await symlink('/proc/self/environ', join(h.v.dir('queue'), 'env.md'));
    await h.start();
    await waitFor(async () => (await h!.v.list('failed')).length === 2, 'both links filed');
    for (const name of ['steal.md', 'env.md']) expect((await lstat(join(h.v.dir('failed'), name))).isSymbolicLink()).toBe(true);
    expect(await readFile(secret, 'utf8')).toBe('TOP SECRET VALUE');
    expect(h.ollama.chats).toHaveLength(0);
    expect(await h.v.list('completed')).toEqual([]);
    expect(await h.v.list('outputs')).toEqual([]);
    expect(h.log.records.filter((r) => r.level === 'warn' && /symbolic link/.test(r.msg))).toHaveLength(2);
  });

  it('a FIFO and a folder named like a job go to failed with a log line, nothing blocks', async () => {
    h = await startHarness();
    execFileSync('mkfifo', [join(h.v.dir('queue'), 'pipe.md')]);
    await mkdir(join(h.v.dir('queue'), 'folder.md'));
    await h.start();
    await h.v.drop('ok.md', 'Still runs.');
    await waitFor(async () => (await h!.v.list('failed')).length === 2 && (await h!.v.list('completed')).length === 1, 'settled');
    expect(h.log.records.filter((r) => /not a regular file/.test(r.msg))).toHaveLength(2);
  });

  it('a hard link to a file outside the vault is failed unread', async () => {
    h = await startHarness();
    const secret = join(h.v.root, 'hard-secret.txt');
    await writeFile(secret, 'HARD SECRET');
    await link(secret, join(h.v.dir('queue'), 'hard.md'));
    await h.start();
    const [o] = await h.settled(1);
    expect(o).toMatchObject({ status: 'failed', error: { code: 'VAULT_UNSAFE' } });
    expect(o!.error!.message).toMatch(/hard links/);
    expect(await readFile(secret, 'utf8')).toBe('HARD SECRET');
    expect(h.ollama.chats).toHaveLength(0);
  });

  it('skills behind links (a linked folder, a linked SKILL.md) are ignored with a log line', async () => {
    h = await startHarness();
    const outside = join(h.v.root, 'outside-skill');
    await mkdir(outside);
    await writeFile(join(outside, 'SKILL.md'), '---\ndescription: Outside\n---\nSECRET INSTRUCTIONS');
    await symlink(outside, join(h.v.dir('skills'), 'linked-folder'));
    await mkdir(join(h.v.dir('skills'), 'linked-file'));
    await symlink(join(outside, 'SKILL.md'), join(h.v.dir('skills'), 'linked-file', 'SKILL.md'));
    const log = memoryLogger();
    const reg = new SkillRegistry({ dir: h.v.dir('skills'), log, watch: false });
    await reg.start();
    await reg.stop();
    expect(reg.list()).toEqual([]);
    expect(log.records.filter((r) => r.level === 'warn' && /skill ignored/.test(r.msg))).toHaveLength(2);
  });

  it('a symlinked layout folder stops the worker at start with a clear error', async () => {
    h = await startHarness();
    const elsewhere = join(h.v.root, 'elsewhere');
    await mkdir(elsewhere);
    await rm(h.v.dir('queue'), { recursive: true });
    await symlink(elsewhere, h.v.dir('queue'));
    const err = await h.start().catch((e: unknown) => e);
    expect(isRuntimeError(err, 'VAULT_LAYOUT')).toBe(true);
    expect((err as Error).message).toMatch(/_queue.*symbolic link/);
  });

  it('a job file over the size cap goes to failed with the reason', async () => {
    h = await startHarness();
    await h.start({ maxJobBytes: 4096 });
    await h.v.drop('big.md', `${'x'.repeat(5000)}\n`);
    const [o] = await h.settled(1);
    expect(o).toMatchObject({ status: 'failed', error: { code: 'JOB_INVALID' } });
    expect(o!.error!.message).toMatch(/4096 bytes/);
    expect(await h.v.list('failed')).toEqual(['big.md']);
    expect(await h.v.read('failed', 'big.md')).toContain('## Failed');
    expect(h.ollama.chats).toHaveLength(0);
  });
});

describe('job files are kept byte for byte', () => {
  it('invalid UTF-8 and a BOM survive: the worker only inserts the id line and appends', async () => {
    h = await startHarness();
    await h.start();
    const head = Buffer.from('\uFEFF---\n', 'utf8');
    const rest = Buffer.concat([Buffer.from('title: bytes\n---\nHello '), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from(' world\r\n')]);
    await h.v.drop('bytes.md', Buffer.concat([head, rest]) as unknown as string);
    const [o] = await h.settled(1);
    expect(o!.status).toBe('completed');
    const done = await readFile(join(h.v.dir('completed'), 'bytes.md'));
    const idLine = Buffer.from(`id: ${o!.jobId}\n`);
    expect(done.subarray(0, head.length + idLine.length + rest.length).equals(Buffer.concat([head, idLine, rest]))).toBe(true);
    expect(done.subarray(head.length + idLine.length + rest.length).toString('utf8')).toMatch(/^\n<!-- runtime:appended -->\n## Output/);
  });
});

describe('names and ids from the vault', () => {
  it('a 250-byte name completes (temporary names stay under NAME_MAX)', async () => {
    h = await startHarness();
    await h.start();
    const name = `${'é'.repeat(123)}abcd.md`; // 246 + 4 + 3 = 253 bytes
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
    await h.v.drop(name, 'Long name.');
    const [o] = await h.settled(1);
    expect(o!.status).toBe('completed');
    expect(await h.v.list('completed')).toEqual([name]);
  });

  it('a name collision with a long name gets a suffix that still fits in 255 bytes', async () => {
    h = await startHarness();
    await h.start();
    const name = `${'a'.repeat(249)}.md`;
    await h.v.drop(name, '---\nid: one\n---\nFirst.');
    await h.settled(1);
    await h.v.drop(name, '---\nid: two\n---\nSecond.');
    const [, o2] = await h.settled(2);
    expect(o2!.status).toBe('completed');
    const done = await h.v.list('completed');
    expect(done).toHaveLength(2);
    for (const n of done) expect(Buffer.byteLength(n)).toBeLessThanOrEqual(255);
  });

  it('an id with slashes, dots or a NUL is never used raw in a file name', async () => {
    h = await startHarness();
    await h.start();
    await h.v.drop('c.md', '---\nid: first\n---\nOne.');
    await h.settled(1);
    await h.v.drop('c.md', '---\nid: ../../..\n---\nTwo.');
    await h.settled(2);
    await h.v.drop('c.md', '---\nid: "a/.b\\0c"\n---\nThree.');
    const outcomes = await h.settled(3);
    expect(outcomes.map((o) => o.status)).toEqual(['completed', 'completed', 'completed']);
    const names = await readdir(h.v.dir('completed'));
    expect(names).toHaveLength(3);
    for (const n of names) expect(n).toMatch(/^c(-[a-z0-9-]+)?\.md$/);
    expect(await readdir(h.v.vault)).toEqual(expect.not.arrayContaining(['...md']));
  });
});

describe('completion is recorded by id', () => {
  it('a resurrected job whose output was moved elsewhere is not run again', async () => {
    h = await startHarness();
    await h.start();
    await h.v.drop('once.md', 'Run me once.');
    const [o] = await h.settled(1);
    expect(o!.status).toBe('completed');
    const [out] = await h.v.list('outputs');
    await mkdir(join(h.v.vault, 'Archive'), { recursive: true });
    await rename(join(h.v.dir('outputs'), out!), join(h.v.vault, 'Archive', out!));
    // Syncthing brings the job file back into the queue from a device that had not seen it move.
    const copy = await readFile(join(h.v.dir('completed'), 'once.md'));
    await rm(join(h.v.dir('completed'), 'once.md'));
    await h.v.drop('once.md', copy as unknown as string);
    const [, o2] = await h.settled(2);
    expect(o2!.status).toBe('duplicate');
    expect(h.ollama.chats).toHaveLength(1);
    expect(await h.v.list('outputs')).toEqual([]);
    expect(idOf(await h.v.read('completed', 'once.md'))).toBe(o!.jobId);
  });
});

describe('the Ollama stream', () => {
  it('a malformed NDJSON line fails the job with PROVIDER_ERROR, logged as JSON, nothing on stderr', async () => {
    h = await startHarness();
    const warn = vi.spyOn(console, 'warn');
    const stderr = vi.spyOn(process.stderr, 'write');
    h.ollama.answer = (b) => ({
      lines: [
        JSON.stringify({ model: b.model, message: { role: 'assistant', content: 'half ' }, done: false }),
        '{"model": "x", "message": {"content": "trunc',
        JSON.stringify({ model: b.model, message: { role: 'assistant', content: 'answer' }, done: false }),
        JSON.stringify({
          model: b.model,
          message: { role: 'assistant', content: '' },
          done: true,
          done_reason: 'stop',
          prompt_eval_count: 1,
          eval_count: 2,
        }),
      ],
    });
    await h.start();
    await h.v.drop('bad-stream.md', 'Hello');
    const [o] = await h.settled(1);
    try {
      expect(o).toMatchObject({ status: 'failed', error: { code: 'PROVIDER_ERROR' } });
      expect(o!.error!.message).toMatch(/not valid JSON/);
      expect(await h.v.list('outputs')).toEqual([]);
      expect(warn).not.toHaveBeenCalled();
      expect(stderr).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
      stderr.mockRestore();
    }
  });
});

describe('the Ollama stream, cut short', () => {
  it('a stream that ends before its final line fails the job instead of completing half an answer', async () => {
    h = await startHarness();
    h.ollama.answer = (b) => ({
      lines: [JSON.stringify({ model: b.model, message: { role: 'assistant', content: 'half an ' }, done: false })],
    });
    await h.start();
    await h.v.drop('cut.md', 'Hello');
    const [o] = await h.settled(1);
    expect(o).toMatchObject({ status: 'failed', error: { code: 'PROVIDER_ERROR' } });
    expect(o!.error!.message).toMatch(/before its final line/);
    expect(await h.v.list('outputs')).toEqual([]);
  });
});

describe('bounded answers, steps and times', () => {
  it('a flooding provider is cut at the answer cap: the job fails with the reason', async () => {
    h = await startHarness();
    h.ollama.answer = () => ({ flood: 'x'.repeat(1000), count: 200_000 });
    await h.start({ maxAnswerChars: 20_000 });
    await h.v.drop('flood.md', 'Flood me.');
    const [o] = await h.settled(1, 30_000);
    expect(o).toMatchObject({ status: 'failed', error: { code: 'ANSWER_TOO_LARGE' } });
    expect(o!.error!.message).toMatch(/20000 characters/);
    expect(await h.v.list('outputs')).toEqual([]);
  });

  it('a provider that never sends a first token frees its slot at the first-token timeout', async () => {
    h = await startHarness();
    h.ollama.answer = () => ({ hang: true });
    await h.start({ firstTokenTimeoutMs: 500 });
    await h.v.drop('hang.md', 'Hang.');
    const [o] = await h.settled(1, 10_000);
    expect(o).toMatchObject({ status: 'failed', error: { code: 'PROVIDER_TIMEOUT' } });
    expect(o!.error!.message).toMatch(/first token/);
  });

  it('a provider that stalls mid-answer frees its slot at the idle timeout', async () => {
    h = await startHarness();
    h.ollama.answer = (b) => ({
      lines: [JSON.stringify({ model: b.model, message: { role: 'assistant', content: 'start ' }, done: false })],
      thenHang: true,
    });
    await h.start({ idleTimeoutMs: 500 });
    await h.v.drop('stall.md', 'Stall.');
    const [o] = await h.settled(1, 10_000);
    expect(o).toMatchObject({ status: 'failed', error: { code: 'PROVIDER_TIMEOUT' } });
    expect(o!.error!.message).toMatch(/idle|no data/);
  });

  it('a chain longer than the step cap is invalid', async () => {
    h = await startHarness();
    await h.start({ maxChainSteps: 3 });
    const steps = [1, 2, 3, 4].map((i) => `  - prompt: step ${i}`).join('\n');
    await h.v.drop('long-chain.md', `---\ntype: chain\nsteps:\n${steps}\n---\n`);
    const [o] = await h.settled(1);
    expect(o).toMatchObject({ status: 'failed', error: { code: 'JOB_INVALID' } });
    expect(o!.error!.message).toMatch(/at most 3 steps/);
    expect(h.ollama.chats).toHaveLength(0);
  });
});

describe('the queue folder and slow writers', () => {
  it('survives the queue folder being deleted and recreated: the watch is re-armed', async () => {
    h = await startHarness();
    await h.start({ rescanMs: 60_000 });
    await rm(h.v.dir('queue'), { recursive: true });
    await sleep(100);
    await mkdir(h.v.dir('queue'));
    await waitFor(() => logged(h!, /watch re-armed/), 'the re-arm log line', 5_000);
    await h.v.drop('after.md', 'After the folder came back.');
    const [o] = await h.settled(1, 5_000);
    expect(o!.status).toBe('completed');
  });

  it('a writer that pauses mid-frontmatter is not run half-written', async () => {
    h = await startHarness();
    await h.start();
    const path = join(h.v.dir('queue'), 'slow.md');
    const fh = await open(path, 'w');
    await fh.write('---\nmodel: qwen2.5:14b\n');
    await sleep(1_500); // well past the 200 ms settle time of the test config
    await fh.write('title: slow\n---\nThe whole prompt.\n');
    await fh.close();
    const [o] = await h.settled(1);
    expect(o!.status).toBe('completed');
    expect(h.ollama.chats[0]!.messages.at(-1)!.content).toBe('The whole prompt.');
  });
});

/** A tiny tmpfs over the outputs folder, filled up: real ENOSPC. Needs root and mount (CI runs as root). */
function mountFull(dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return false;
  }
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${join(dir, '.filler')}`, 'bs=4k'], { stdio: 'ignore' });
  } catch {
    // dd stops with "No space left on device": that is the point
  }
  return true;
}
const canMount = ((): boolean => {
  const probe = join(process.env.TMPDIR ?? '/tmp', `mount-probe-${process.pid}`);
  try {
    execFileSync('mkdir', ['-p', probe]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4k', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe]);
    return true;
  } catch {
    return false;
  } finally {
    execFileSync('rm', ['-rf', probe]);
  }
})();

describe.skipIf(!canMount)('storage faults (a full disk under the outputs folder)', () => {
  let mounted: string | undefined;
  afterEach(() => {
    if (mounted) execFileSync('umount', ['-l', mounted]);
    mounted = undefined;
  });

  it('disk full is VAULT_IO: the job goes back to the queue with backoff and completes once space is freed', async () => {
    h = await startHarness();
    expect(mountFull(h.v.dir('outputs'))).toBe(true);
    mounted = h.v.dir('outputs');
    await h.start({ ioRetries: 5, ioRetryBackoffMs: 300 });
    await h.v.drop('full.md', 'Write me when there is room.');
    const retry = await waitFor(() => h!.outcomes.find((o) => o.status === 'requeued'), 'a retry');
    expect(retry.error?.code).toBe('VAULT_IO');
    expect(retry.error?.message).toMatch(/ENOSPC/);
    expect(h.log.records.some((r) => r.level === 'warn' && /storage fault: job returned to the queue/.test(r.msg))).toBe(true);
    await rm(join(h.v.dir('outputs'), '.filler'));
    const done = await waitFor(() => h!.outcomes.find((o) => o.status === 'completed'), 'the job to complete', 15_000);
    expect(done.name).toBe('full.md');
    expect(await h.v.list('completed')).toEqual(['full.md']);
    expect(await h.v.list('outputs')).toHaveLength(1);
    expect(h.outcomes.filter((o) => o.status === 'failed')).toEqual([]);
  });

  it('after the last retry the job fails with VAULT_IO and the reason, never as a bug in the worker', async () => {
    h = await startHarness();
    expect(mountFull(h.v.dir('outputs'))).toBe(true);
    mounted = h.v.dir('outputs');
    await h.start({ ioRetries: 2, ioRetryBackoffMs: 100 });
    await h.v.drop('never.md', 'No room ever.');
    const failed = await waitFor(() => h!.outcomes.find((o) => o.status === 'failed'), 'the job to fail', 15_000);
    expect(failed.error?.code).toBe('VAULT_IO');
    expect(h.outcomes.filter((o) => o.status === 'requeued')).toHaveLength(2);
    const text = await h.v.read('failed', 'never.md');
    expect(text).toContain('`VAULT_IO`');
    expect(text).toMatch(/ENOSPC/);
    expect(text).not.toMatch(/bug in the worker/);
  });
});
