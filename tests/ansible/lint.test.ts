import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES, PLAYBOOKS, run, runAsync } from './helpers.js';

describe("playbooks and roles pass Ansible's own checks", () => {
  for (const pb of ['site.yml', 'restore.yml']) {
    it(`ansible-playbook --syntax-check ${pb}`, () => {
      const r = run('ansible-playbook', ['-i', join(PLAYBOOKS, 'inventory.yml'), '--syntax-check', join(PLAYBOOKS, pb)]);
      expect(r.status, r.stdout + r.stderr).toBe(0);
    });
  }

  it('ansible-playbook --syntax-check on the test playbooks', () => {
    for (const pb of ['converge.yml', 'restore-vault.yml']) {
      const r = run('ansible-playbook', ['-i', 'localhost,', '--syntax-check', join(FIXTURES, pb)]);
      expect(r.status, r.stdout + r.stderr).toBe(0);
    }
  });

  it('ansible-lint (production profile) passes on the playbooks, every role and the test playbooks', async () => {
    const r = await runAsync('ansible-lint', [
      '--nocolor',
      '-q',
      'generated/ansible/site.yml',
      'generated/ansible/restore.yml',
      'ansible/roles',
      'tests/ansible/fixtures/converge.yml',
      'tests/ansible/fixtures/restore-vault.yml',
    ]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  }, 120_000);

  it('restore.yml offers the vault, gitea and dbs restore paths as tags, each also tagged never', () => {
    const r = run('ansible-playbook', ['-i', join(PLAYBOOKS, 'inventory.yml'), '--list-tags', join(PLAYBOOKS, 'restore.yml')]);
    expect(r.status, r.stderr).toBe(0);
    const tags = new Set([...r.stdout.matchAll(/TAGS: \[([^\]]*)\]/g)].flatMap((m) => m[1]!.split(',').map((t) => t.trim())));
    for (const tag of ['never', 'vault', 'gitea', 'dbs']) expect(tags, tag).toContain(tag);
  });
});
