import { composeHosts, servicesOn, type Platform } from '../model/index.js';
import { ansibleGroups } from './groups.js';
import { databaseOf } from './vars.js';

/*
 * site.yml maps groups to roles; restore.yml holds the restore paths, each behind a tag that is
 * also tagged `never`, so a bare `ansible-playbook restore.yml` restores nothing.
 */

/** Group -> role, in the order a fresh host needs them (the vault folder before the containers that mount it). */
const SITE: ReadonlyArray<{ group: string; role: string; name: string }> = [
  { group: 'all', role: 'base', name: 'Base system: packages, unattended upgrades, time sync' },
  { group: 'tailscale_hosts', role: 'tailscale', name: 'Join the tailnet' },
  { group: 'all', role: 'firewall', name: 'Default-deny inbound firewall from the model' },
  { group: 'docker_hosts', role: 'docker', name: 'Docker engine and compose plugin' },
  { group: 'ollama_hosts', role: 'ollama', name: 'Ollama and its models' },
  { group: 'syncthing_hosts', role: 'syncthing', name: 'Syncthing and the vault folder' },
  { group: 'infisical_hosts', role: 'infisical_agent', name: 'Infisical agent rendering the env files' },
  { group: 'compose_hosts', role: 'compose_project', name: 'Compose project' },
  { group: 'alloy_hosts', role: 'alloy', name: 'Grafana Alloy on the host' },
  { group: 'vault_snapshot_hosts', role: 'vault_snapshot', name: 'Nightly vault snapshot to S3' },
];

export function sitePlaybook(p: Platform): Array<Record<string, unknown>> {
  const present = new Set(['all', ...ansibleGroups(p).map(([g]) => g)]);
  return SITE.filter((s) => present.has(s.group)).map((s) => ({
    name: s.name,
    hosts: s.group,
    become: true,
    roles: [s.role],
  }));
}

export function restorePlaybook(p: Platform): Array<Record<string, unknown>> {
  const plays: Array<Record<string, unknown>> = [];
  if (ansibleGroups(p).some(([g]) => g === 'vault_snapshot_hosts')) {
    plays.push({
      name: 'Restore the vault from a snapshot in the vault-snapshots bucket',
      hosts: 'vault_snapshot_hosts',
      become: true,
      gather_facts: false,
      tags: ['never', 'vault'],
      tasks: [{ name: 'Restore the vault', 'ansible.builtin.import_role': { name: 'vault_snapshot', tasks_from: 'restore' } }],
    });
  }
  for (const host of composeHosts(p)) {
    const services = servicesOn(p, host);
    for (const [name, s] of services) {
      const volumes = [...new Set(s.volumes.flatMap((v) => (v.type === 'volume' ? [v.source] : [])))].sort();
      if (volumes.length === 0) continue;
      // Every container that mounts one of these volumes stops while it is restored.
      const stop = services.filter(([, o]) => o.volumes.some((v) => v.type === 'volume' && volumes.includes(v.source))).map(([n]) => n);
      plays.push({
        name: `Restore the data volumes of ${name} on ${host}`,
        hosts: host,
        become: true,
        gather_facts: false,
        tags: ['never', name],
        tasks: [
          {
            name: `Restore ${volumes.join(', ')} from restore_dir`,
            'ansible.builtin.import_role': { name: 'service_restore', tasks_from: 'volumes' },
            vars: { restore_volumes: volumes, restore_stop: stop },
          },
        ],
      });
    }
  }
  for (const host of composeHosts(p)) {
    const services = servicesOn(p, host);
    const dbs = services.flatMap(([n, s]) => {
      const db = databaseOf(n, s);
      if (!db) return [];
      const consumers = services.filter(([, o]) => n in o.dependsOn).map(([c]) => c);
      return [{ ...db, consumers }];
    });
    if (dbs.length === 0) continue;
    plays.push({
      name: `Restore the databases on ${host} from dumps`,
      hosts: host,
      become: true,
      gather_facts: false,
      tags: ['never', 'dbs'],
      tasks: [
        {
          name: `Load ${dbs.map((d) => d.service).join(', ')} from restore_dir`,
          'ansible.builtin.import_role': { name: 'service_restore', tasks_from: 'databases' },
          vars: { restore_databases: dbs },
        },
      ],
    });
  }
  return plays;
}
