import { connectionAddress, hostNames, type Platform } from '../model/index.js';
import type { Artifact, Generator } from '../render/types.js';
import { toYaml } from '../render/yaml.js';
import { ansibleGroups } from './groups.js';
import { restorePlaybook, sitePlaybook } from './playbooks.js';
import { groupVars, hostVars } from './vars.js';

/*
 * Ansible inventory, group and host vars, site.yml and restore.yml under generated/ansible/.
 * The roles they name are hand-written in ansible/roles/ (see ansible/ansible.cfg).
 */

export const ANSIBLE_DIR = 'ansible';

export function inventory(p: Platform): Record<string, unknown> {
  const hosts = Object.fromEntries(
    hostNames(p).map((h) => {
      const host = p.hosts[h]!;
      // validate.ts rejects a host without an address, so connectionAddress is defined here.
      return [h, { ansible_host: connectionAddress(host)!, ansible_user: host.user }];
    }),
  );
  const children = Object.fromEntries(
    ansibleGroups(p).map(([g, members]) => [g, { hosts: Object.fromEntries(members.map((m) => [m, {}])) }]),
  );
  return { all: { vars: { ansible_python_interpreter: '/usr/bin/python3' }, hosts, children } };
}

export const ansibleGenerator: Generator = {
  name: 'ansible',
  generate(p): Artifact[] {
    const file = (path: string, value: unknown): Artifact => ({ path: `${ANSIBLE_DIR}/${path}`, content: toYaml(value) });
    return [
      file('inventory.yml', inventory(p)),
      file('group_vars/all.yml', groupVars(p)),
      ...hostNames(p).map((h) => file(`host_vars/${h}.yml`, hostVars(p, h))),
      file('site.yml', sitePlaybook(p)),
      file('restore.yml', restorePlaybook(p)),
    ];
  },
};

export { ansibleGroups, envFilesOn, vaultSnapshotHost } from './groups.js';
export { groupVars, hostVars } from './vars.js';
export { restorePlaybook, sitePlaybook } from './playbooks.js';
