import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../runtime/src/errors.js';
import {
  NAME_MAX,
  VaultFileError,
  byteLength,
  idNameHint,
  isInside,
  nameWithSuffix,
  openVaultLayout,
  readRegularFile,
} from '../../runtime/src/vault/files.js';
import { echoAnswer, startOllama, type OllamaDouble } from '../doubles/ollama.js';
import { writeTestConfig } from '../doubles/config.js';
import { FOLDERS, makeVault, waitFor, type TempVault } from './helpers/vault.js';

/* The vault access layer on its own: confinement, names, reads. */

let v: TempVault;
beforeEach(async () => {
  v = await makeVault();
});
afterEach(async () => {
  await v.cleanup();
});

describe('confinement', () => {
  it('a sibling with the vault as a prefix is outside it', () => {
    expect(isInside('/vault', '/vault')).toBe(true);
    expect(isInside('/vault', '/vault/_queue/a.md')).toBe(true);
    expect(isInside('/vault', '/vault-evil')).toBe(false);
    expect(isInside('/vault', '/vault-evil/_queue')).toBe(false);
    expect(isInside('/vault', '/')).toBe(false);
    expect(isInside('/vault', '/vault/../etc')).toBe(false);
    expect(isInside('/vault', '/vault/..x')).toBe(true); // a name that starts with two dots is still inside
  });

  it('a layout folder reached through a link on the way resolves outside and is refused', async () => {
    const outside = join(v.root, 'vault-evil');
    await mkdir(join(outside, '_queue'), { recursive: true });
    await symlink(outside, join(v.vault, 'nested'));
    const err = await openVaultLayout(v.vault, { ...FOLDERS, queue: 'nested/_queue' }).catch((e: unknown) => e);
    expect(isRuntimeError(err, 'VAULT_LAYOUT')).toBe(true);
    expect((err as Error).message).toMatch(/outside the vault/);
  });

  it('missing layout folders are created; a file where a folder should be is refused', async () => {
    const layout = await openVaultLayout(join(v.root, 'fresh'), FOLDERS);
    expect(Object.keys(layout.folders).sort()).toEqual(Object.keys(FOLDERS).sort());
    await writeFile(join(v.root, 'fresh', 'extra'), 'x');
    const err = await openVaultLayout(join(v.root, 'fresh'), { ...FOLDERS, skills: 'extra' }).catch((e: unknown) => e);
    expect(isRuntimeError(err, 'VAULT_LAYOUT')).toBe(true);
  });
});

describe('names', () => {
  it('a suffix never pushes a name over NAME_MAX bytes, and multi-byte characters are not cut', () => {
    const stem = 'é'.repeat(126); // 252 bytes
    const name = nameWithSuffix(stem, '-abc123-2', '.md');
    expect(byteLength(name)).toBeLessThanOrEqual(NAME_MAX);
    expect(name.endsWith('-abc123-2.md')).toBe(true);
    expect(name).not.toContain('\uFFFD');
    expect(nameWithSuffix('short', '-x', '.md')).toBe('short-x.md');
  });

  it('an id reaches a name only as plain characters or a hash', () => {
    expect(idNameHint('01J9ZQ4K7M')).toBe('zq4k7m');
    for (const id of ['../../..', 'a/b', '.hidden', 'x\0y', '..', '/']) {
      expect(idNameHint(id)).toMatch(/^[0-9a-f]{8}$/);
    }
    expect(idNameHint('my-own-id')).toBe('own-id');
  });
});

describe('readRegularFile', () => {
  it('reads a regular file and refuses links, folders and files over the cap', async () => {
    const f = join(v.root, 'f.md');
    await writeFile(f, 'hello');
    expect((await readRegularFile(f, { maxBytes: 10 })).toString()).toBe('hello');
    await symlink(f, join(v.root, 'l.md'));
    const problem = async (p: string, max = 10): Promise<string | undefined> =>
      readRegularFile(p, { maxBytes: max }).then(
        () => undefined,
        (e: unknown) => (e instanceof VaultFileError ? e.problem : String(e)),
      );
    expect(await problem(join(v.root, 'l.md'))).toBe('symlink');
    expect(await problem(v.vault)).toBe('not-regular');
    expect(await problem(f, 4)).toBe('too-large');
  });
});

const BIN = join(import.meta.dirname, '../../runtime/bin/runtime.js');
/** The EACCES test runs the worker as `nobody`: it needs setpriv and a checkout that user can read. */
const nobodyCanRun =
  spawnSync(
    'setpriv',
    [
      '--reuid=nobody',
      '--regid=nogroup',
      '--clear-groups',
      process.execPath,
      '-e',
      `require('fs').accessSync(${JSON.stringify(BIN)}); require('fs').accessSync(${JSON.stringify(join(import.meta.dirname, '../../node_modules/tsx/package.json'))})`,
    ],
    { stdio: 'ignore' },
  ).status === 0;

describe.skipIf(!nobodyCanRun)('a job file the worker may not read', () => {
  let ollama: OllamaDouble | undefined;
  afterEach(async () => {
    await ollama?.close();
    ollama = undefined;
  });

  it('EACCES: a worker running as an unprivileged user files it in failed with the reason, not stuck in active', async () => {
    ollama = await startOllama({ answer: echoAnswer });
    const { env } = await writeTestConfig({
      root: v.root,
      vault: v.vault,
      dataDir: v.dataDir,
      ollamaUrl: ollama.url,
      worker: { mtimeGuardMs: 50 },
    });
    // The vault and data dir writable by `nobody`, the job file readable by no one but root.
    execFileSync('chmod', ['-R', 'a+rwX', v.root]);
    await v.drop('locked.md', 'You cannot read me.');
    await chmod(join(v.dir('queue'), 'locked.md'), 0o000);
    await v.drop('open.md', 'You can read me.');
    execFileSync('chmod', ['a+rw', join(v.dir('queue'), 'open.md')]);
    let out = '';
    const child = spawn('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, BIN, 'worker'], {
      env: { ...process.env, ...env, HOME: v.root, TMPDIR: v.root, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor(
        async () => (await v.list('failed')).includes('locked.md') && (await v.list('completed')).includes('open.md'),
        'both jobs settled',
        60_000,
      ).catch((e: unknown) => {
        throw new Error(`${String(e)}\n${out.slice(-3000)}`);
      });
      expect(await v.list('active')).toEqual([]);
      expect(out).toMatch(/"msg":"job file refused".*"problem":"unreadable"/);
      expect(out).toMatch(/EACCES/);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    }
    await chmod(join(v.dir('failed'), 'locked.md'), 0o644);
    expect(await readFile(join(v.dir('failed'), 'locked.md'), 'utf8')).toBe('You cannot read me.');
  }, 90_000);
});
