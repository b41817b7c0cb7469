import { spawn, spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const PLAYBOOKS = join(REPO, 'generated/ansible');
export const FIXTURES = join(REPO, 'tests/ansible/fixtures');

/** The environment every Ansible command here runs with: the repo's config, no colour, no cows. */
export function ansibleEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ANSIBLE_CONFIG: join(REPO, 'ansible/ansible.cfg'),
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_FORCE_COLOR: '0',
    ANSIBLE_GATHERING: 'explicit',
    ANSIBLE_LOCALHOST_WARNING: 'false',
    ANSIBLE_INVENTORY_UNPARSED_WARNING: 'false',
    NO_COLOR: '1',
    ...extra,
  };
}

export interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = ansibleEnv(), cwd = REPO): Run {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The PLAY RECAP counters of one host, e.g. { ok: 40, changed: 0, failed: 0, ... }. */
export function recap(stdout: string, host = 'localhost'): Record<string, number> {
  const line = stdout.split('\n').find((l) => l.startsWith(`${host} `) && l.includes('changed='));
  if (!line) throw new Error(`no PLAY RECAP line for ${host} in:\n${stdout.slice(-2000)}`);
  return Object.fromEntries([...line.matchAll(/(\w+)=(\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
}

/** As `run`, without blocking the test worker's event loop during long playbook runs. */
export function runAsync(cmd: string, args: string[], env: NodeJS.ProcessEnv = ansibleEnv(), cwd = REPO): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ status: code ?? -1, stdout, stderr }));
  });
}
