import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ansibleEnv, FIXTURES, recap, REPO, runAsync } from './helpers.js';

/*
 * compose_project pins the runtime image to the digest the deploy passes: it pulls name@digest and
 * writes the compose variable the generated file reads. Real ansible-playbook, the generated
 * contabo vars, a temporary root and the recording docker stand-in.
 */

const vars = parse(readFileSync(join(REPO, 'generated/ansible/host_vars/contabo.yml'), 'utf8')) as Record<string, unknown>;
const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;

describe('compose_project and the runtime image digest', () => {
  let tmp: string;
  let root: string;
  let playbook: string;
  const play = (extra: Record<string, unknown>) =>
    runAsync(
      'ansible-playbook',
      ['-i', 'localhost,', '-e', JSON.stringify({ ...base(), ...extra }), playbook],
      ansibleEnv({ FAKE_DOCKER_LOG: join(tmp, 'docker.log'), FAKE_DOCKER_STATE: join(tmp, 'docker.json') }),
    );
  const base = () => ({
    platform_root: root,
    platform_files_dir: join(tmp, 'files/ansible'),
    ansible_python_interpreter: '/usr/bin/python3',
    docker_bin: join(FIXTURES, 'bin/docker'),
    compose_files: [],
    compose_healthchecked: [],
    compose_health_delay: 0,
  });
  const calls = (): string[][] =>
    existsSync(join(tmp, 'docker.log'))
      ? readFileSync(join(tmp, 'docker.log'), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as string[])
      : [];

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'image-pin-'));
    root = join(tmp, 'root');
    mkdirSync(join(tmp, 'files/ansible'), { recursive: true });
    cpSync(join(REPO, 'generated/hosts/contabo'), join(tmp, 'files/hosts/contabo'), { recursive: true });
    // The Infisical agent's env files, as it would have rendered them.
    for (const f of vars.compose_env_files as string[]) {
      mkdirSync(join(root, 'opt/platform', f, '..'), { recursive: true });
      writeFileSync(join(root, 'opt/platform', f), '# rendered by the agent\n');
    }
    playbook = join(tmp, 'pin.yml');
    writeFileSync(
      playbook,
      [
        '- hosts: localhost',
        '  connection: local',
        '  gather_facts: false',
        '  vars_files:',
        `    - ${join(REPO, 'generated/ansible/host_vars/contabo.yml')}`,
        '  roles:',
        `    - ${join(REPO, 'ansible/roles/compose_project')}`,
        '',
      ].join('\n'),
    );
  });

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('the generated vars name the model image', () => {
    expect(vars).toMatchObject({
      runtime_image_name: 'ghcr.io/davidcockson/platform-runtime',
      runtime_image_tag: '0.1.0',
      runtime_image_var: 'PLATFORM_RUNTIME_IMAGE',
    });
  });

  it('without a digest: no pull, no .env, compose runs the model tag', async () => {
    const r = await play({});
    expect(r.status, r.stdout.slice(-3000)).toBe(0);
    expect(existsSync(join(root, 'opt/platform/.env'))).toBe(false);
    expect(calls().some((a) => a[0] === 'pull')).toBe(false);
  }, 120_000);

  it('with a digest: pulls name@digest, pins it in .env, runs `up`; a second run changes nothing', async () => {
    const before = calls().length;
    const r = await play({ runtime_image_digest: DIGEST });
    expect(r.status, r.stdout.slice(-3000)).toBe(0);
    const ref = `ghcr.io/davidcockson/platform-runtime@${DIGEST}`;
    expect(readFileSync(join(root, 'opt/platform/.env'), 'utf8')).toBe(`PLATFORM_RUNTIME_IMAGE=${ref}\n`);
    const mine = calls().slice(before);
    expect(mine).toContainEqual(['pull', '--quiet', ref]);
    expect(mine.filter((a) => a.includes('up'))).toHaveLength(1);
    const again = await play({ runtime_image_digest: DIGEST });
    expect(recap(again.stdout).changed, again.stdout.slice(-3000)).toBe(0);
  }, 180_000);

  it('refuses a digest that is not sha256:<64 hex>', async () => {
    const r = await play({ runtime_image_digest: '0.1.0' });
    expect(r.status).not.toBe(0);
    expect(r.stdout).toContain('runtime_image_digest must be sha256:<64 hex digits>');
  }, 120_000);
});
