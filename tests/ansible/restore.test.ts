import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ansibleEnv, FIXTURES, PLAYBOOKS, recap, REPO, runAsync } from './helpers.js';

/*
 * The generated restore.yml, run for real against prod-services mapped to localhost, with a fake
 * docker CLI: the gitea volume path and the dbs path run the right commands in the right order.
 */

describe('restore.yml: service data and databases', () => {
  let tmp: string;
  let root: string;
  let inventory: string;
  let env: NodeJS.ProcessEnv;
  let extra: string;

  const restore = (...args: string[]) =>
    runAsync('ansible-playbook', ['-i', inventory, '-e', extra, ...args, join(PLAYBOOKS, 'restore.yml')], env);
  const dockerCalls = (): string[][] => {
    try {
      return readFileSync(join(tmp, 'docker.log'), 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as string[]);
    } catch {
      return [];
    }
  };

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'restore-'));
    root = join(tmp, 'root');
    mkdirSync(join(root, 'opt/platform'), { recursive: true });
    copyFileSync(join(REPO, 'generated/hosts/prod-services/docker-compose.yml'), join(root, 'opt/platform/docker-compose.yml'));
    // The env files the Infisical agent keeps rendered on a running host.
    mkdirSync(join(root, 'opt/platform/secrets'));
    for (const svc of ['gitea', 'gitea-db', 'searxng']) writeFileSync(join(root, `opt/platform/secrets/${svc}.env`), '');
    mkdirSync(join(tmp, 'backups'));
    writeFileSync(join(tmp, 'backups/gitea-data.tar.gz'), 'archive');
    writeFileSync(join(tmp, 'backups/gitea-db.dump'), 'dump');
    inventory = join(tmp, 'inventory.ini');
    writeFileSync(inventory, 'prod-services ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n');
    env = ansibleEnv({ FAKE_DOCKER_LOG: join(tmp, 'docker.log'), FAKE_DOCKER_STATE: join(tmp, 'docker.json') });
    extra = JSON.stringify({
      platform_root: root,
      ansible_become: false,
      docker_bin: join(FIXTURES, 'bin/docker'),
      restore_dir: join(tmp, 'backups'),
    });
  });

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('restores nothing without a tag', async () => {
    const r = await restore();
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(dockerCalls()).toEqual([]);
  }, 180_000);

  it('--tags gitea: stops gitea, refills its volume from the archive, starts it', async () => {
    const r = await restore('--tags', 'gitea');
    expect(r.status, r.stdout.slice(-3000)).toBe(0);
    expect(recap(r.stdout, 'prod-services').failed).toBe(0);
    const project = join(root, 'opt/platform');
    const calls = dockerCalls();
    expect(calls[0]).toEqual(['compose', '--project-directory', project, 'stop', 'gitea']);
    expect(calls[1]!.slice(0, 7)).toEqual([
      'run',
      '--rm',
      '--volume',
      'platform_gitea-data:/data',
      '--volume',
      `${root}/var/tmp/platform-restore:/backup:ro`,
      'alpine:3.22',
    ]);
    expect(calls[1]!.at(-1)).toContain('tar -xzf /backup/gitea-data.tar.gz -C /data');
    expect(calls[2]).toEqual(['compose', '--project-directory', project, 'up', '--detach', 'gitea']);
  }, 180_000);

  it('--tags dbs: stops the consumers, loads the dump with pg_restore, starts them again', async () => {
    rmSync(join(tmp, 'docker.log'), { force: true });
    const r = await restore('--tags', 'dbs');
    expect(r.status, r.stdout.slice(-3000)).toBe(0);
    const project = join(root, 'opt/platform');
    const calls = dockerCalls();
    expect(calls[0]).toEqual(['compose', '--project-directory', project, 'stop', 'gitea']);
    expect(calls[1]).toEqual(['compose', '--project-directory', project, 'up', '--detach', '--wait', 'gitea-db']);
    expect(calls[2]).toEqual([
      'compose',
      '--project-directory',
      project,
      'exec',
      '-T',
      'gitea-db',
      'pg_restore',
      '--clean',
      '--if-exists',
      '--no-owner',
      '-U',
      'gitea',
      '-d',
      'gitea',
    ]);
    expect(calls[3]).toEqual(['compose', '--project-directory', project, 'up', '--detach', 'gitea']);
  }, 180_000);

  it('refuses to run without restore_dir', async () => {
    const noDir = JSON.stringify({ ...JSON.parse(extra), restore_dir: '' });
    const r = await runAsync('ansible-playbook', ['-i', inventory, '-e', noDir, '--tags', 'gitea', join(PLAYBOOKS, 'restore.yml')], env);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toContain('restore_dir');
  }, 180_000);
});
