import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parsePlatform } from '../../model/index.js';
import { ansibleGenerator } from '../../playbooks-gen/index.js';
import { GENERATED_NOTICE } from '../../render/types.js';
import { REPO } from './helpers.js';

const platform = parsePlatform(readFileSync(join(REPO, 'platform.yaml'), 'utf8'));

describe('generated/ansible golden files', () => {
  const artifacts = ansibleGenerator.generate(platform);

  it('writes the inventory, group and host vars and both playbooks', () => {
    expect(artifacts.map((a) => a.path)).toEqual([
      'ansible/inventory.yml',
      'ansible/group_vars/all.yml',
      ...Object.keys(platform.hosts).map((h) => `ansible/host_vars/${h}.yml`),
      'ansible/site.yml',
      'ansible/restore.yml',
    ]);
  });

  for (const a of artifacts) {
    it(`${a.path} equals the committed file`, () => {
      expect(a.content.startsWith(`# ${GENERATED_NOTICE}\n`)).toBe(true);
      expect(readFileSync(join(REPO, 'generated', a.path), 'utf8')).toBe(a.content);
    });
  }

  it('is deterministic', () => {
    expect(ansibleGenerator.generate(platform)).toEqual(artifacts);
  });

  it('ships only files that some generator writes', () => {
    for (const a of artifacts.filter((x) => x.path.startsWith('ansible/host_vars/'))) {
      const vars = parse(a.content) as { compose_file_src?: string; compose_files?: Array<{ src: string }>; alloy_config_src?: string };
      const srcs = [vars.compose_file_src, vars.alloy_config_src, ...(vars.compose_files ?? []).map((f) => f.src)].filter(
        (x): x is string => x !== undefined,
      );
      for (const src of srcs) expect(existsSync(join(REPO, 'generated/ansible', src)), `${a.path}: ${src}`).toBe(true);
    }
  });

  it('maps every group to its role in site.yml', () => {
    const site = parse(artifacts.find((a) => a.path === 'ansible/site.yml')!.content) as Array<{ hosts: string; roles: string[] }>;
    expect(site.map((play) => `${play.hosts}:${play.roles.join(',')}`)).toEqual([
      'all:base',
      'tailscale_hosts:tailscale',
      'all:firewall',
      'docker_hosts:docker',
      'ollama_hosts:ollama',
      'syncthing_hosts:syncthing',
      'infisical_hosts:infisical_agent',
      'compose_hosts:compose_project',
      'alloy_hosts:alloy',
      'vault_snapshot_hosts:vault_snapshot',
    ]);
  });
});
