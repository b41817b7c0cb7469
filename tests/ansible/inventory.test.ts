import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { composeHosts, connectionAddress, hostServiceOfKind, parsePlatform, type Platform } from '../../model/index.js';
import { ansibleGroups, vaultSnapshotHost } from '../../playbooks-gen/index.js';
import { PLAYBOOKS, REPO, run } from './helpers.js';

interface InventoryList {
  _meta: { hostvars: Record<string, Record<string, unknown>> };
  [group: string]: { hosts?: string[]; children?: string[] } | InventoryList['_meta'];
}

describe('generated inventory, read by ansible-inventory', () => {
  let p: Platform;
  let inv: InventoryList;
  beforeAll(() => {
    p = parsePlatform(readFileSync(join(REPO, 'platform.yaml'), 'utf8'));
    const r = run('ansible-inventory', ['-i', join(PLAYBOOKS, 'inventory.yml'), '--list']);
    expect(r.status, r.stderr).toBe(0);
    inv = JSON.parse(r.stdout) as InventoryList;
  });
  const groupHosts = (g: string): string[] => ((inv[g] as { hosts?: string[] } | undefined)?.hosts ?? []).slice().sort();

  it('has every host of the model, reached at its tailnet address first, as its user', () => {
    const vars = inv._meta.hostvars;
    expect(Object.keys(vars).sort()).toEqual(Object.keys(p.hosts).sort());
    for (const [name, h] of Object.entries(p.hosts)) {
      expect(vars[name]!.ansible_host).toBe(h.addresses.tailnet ?? h.addresses.public);
      expect(vars[name]!.ansible_host).toBe(connectionAddress(h));
      expect(vars[name]!.ansible_user).toBe(h.user);
      expect(vars[name]!.ansible_python_interpreter).toBe('/usr/bin/python3');
    }
  });

  it('groups hosts by kind', () => {
    expect(groupHosts('vps')).toEqual(['contabo']);
    expect(groupHosts('proxmox_vm')).toEqual(['dev-learning', 'prod-services']);
    expect(groupHosts('gpu')).toEqual(['davas']);
  });

  it('groups hosts by role, as the model places services', () => {
    expect(groupHosts('compose_hosts')).toEqual([...composeHosts(p)].sort());
    expect(groupHosts('docker_hosts')).toEqual([...composeHosts(p)].sort());
    expect(groupHosts('ollama_hosts')).toEqual(['contabo', 'davas']);
    expect(groupHosts('syncthing_hosts')).toEqual(['contabo', 'prod-services']);
    expect(groupHosts('alloy_hosts')).toEqual(['davas', 'dev-learning', 'prod-services']);
    expect(groupHosts('tailscale_hosts')).toEqual(Object.keys(p.hosts).sort());
    expect(groupHosts('vault_hosts')).toEqual(['contabo', 'prod-services']);
    expect(groupHosts('vault_snapshot_hosts')).toEqual([vaultSnapshotHost(p)]);
    expect(groupHosts('infisical_hosts')).toEqual(['contabo', 'davas', 'dev-learning', 'prod-services']);
    for (const [g, members] of ansibleGroups(p)) expect(groupHosts(g), g).toEqual([...members].sort());
  });

  it('gives each host the vars its roles need, from group_vars and host_vars', () => {
    const v = inv._meta.hostvars;
    expect(v.contabo!.compose_project_dir).toBe('/opt/platform');
    expect(v.contabo!.compose_file_src).toBe('../hosts/contabo/docker-compose.yml');
    expect(v.contabo!.compose_files).toEqual([{ src: '../hosts/contabo/config.alloy', dest: 'alloy/config.alloy' }]);
    expect(v.contabo!.ollama_listen).toBe('127.0.0.1:11434');
    expect(v.contabo!.ollama_models).toEqual(hostServiceOfKind(p, 'contabo', 'ollama')![1].models);
    expect(v.davas!.ollama_listen).toBe('100.101.40.1:11434');
    expect(v.davas!.alloy_config_src).toBe('../hosts/davas/config.alloy');
    expect(v.contabo!.vault_snapshot_bucket).toBe(p.aws.buckets['vault-snapshots'].name);
    expect(v.contabo!.vault_path).toBe(p.hosts.contabo!.vaultPath);
    expect(v['prod-services']!.firewall_inbound).toEqual(p.hosts['prod-services']!.firewall.inbound);
    expect(v.contabo!.infisical_identity).toBe('contabo-prod');
    expect(v.davas!.infisical_identity).toBe('homelab-prod');
    expect(v.contabo!.infisical_site_url).toBe(p.infisical.siteUrl);
    const web = (v.contabo!.infisical_env_files as Array<{ name: string; dest: string; secrets: string[] }>).find((f) => f.name === 'web')!;
    expect(web.dest).toBe('/opt/platform/secrets/web.env');
    expect(web.secrets).toEqual(p.services.web!.secrets);
  });

  it('never carries a secret value: only names', () => {
    for (const vars of Object.values(inv._meta.hostvars)) {
      const text = JSON.stringify(vars);
      expect(text).not.toMatch(/password\s*[:=]|BEGIN [A-Z ]*PRIVATE KEY/i);
    }
  });
});
