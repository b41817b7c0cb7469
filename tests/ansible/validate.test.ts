import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePlatform } from '../../model/index.js';
import { REPO } from './helpers.js';
import { problems } from '../model/problems.js';

const TEXT = readFileSync(join(REPO, 'platform.yaml'), 'utf8');

/** Replace the first `from` after the line `after` (a unique anchor such as "  davas:"). */
function edit(text: string, after: string, from: string, to: string): string {
  const anchor = text.indexOf(`\n${after}\n`);
  expect(anchor, `anchor "${after}"`).toBeGreaterThanOrEqual(0);
  const at = text.indexOf(from, anchor);
  expect(at, `"${from}" after "${after}"`).toBeGreaterThan(anchor);
  return text.slice(0, at) + to + text.slice(at + from.length);
}

/** The problem at `path`, located on the line where `needle` sits in `text`. */
function expectProblem(text: string, path: string, message: RegExp, needle: string, after: string): void {
  const found = problems(text).filter((p) => p.path === path);
  expect(found.map((p) => p.message).join('\n'), `problems at ${path}`).toMatch(message);
  const lines = text.split('\n');
  const anchorLine = lines.indexOf(after);
  const line = lines.findIndex((l, i) => i > anchorLine && l.includes(needle)) + 1;
  const hit = found.find((p) => message.test(p.message))!;
  expect(hit.file).toBe('platform.yaml');
  expect(hit.line).toBe(line);
  expect(hit.col).toBeGreaterThan(0);
}

describe('the model refuses what the Ansible roles could not apply', () => {
  it('accepts the example platform', () => {
    expect(() => parsePlatform(TEXT)).not.toThrow();
  });

  it('a host without an address', () => {
    const text = edit(TEXT, '  dev-learning:', '    addresses:\n      tailnet: 100.101.30.1\n', '');
    expectProblem(text, 'hosts.dev-learning', /has no address/, 'dev-learning:', 'hosts:');
  });

  it('an Ollama host with no models', () => {
    const text = edit(TEXT, '  davas:', 'models: ["gemma4:27b"]', 'models: []');
    expectProblem(text, 'hosts.davas.hostServices.ollama.models', /./, 'models: []', '  davas:');
  });

  it('a Syncthing host without a vaultPath', () => {
    const text = edit(TEXT, '  prod-services:', '    vaultPath: /srv/obsidian-vault-v2\n', '');
    expectProblem(
      text,
      'hosts.prod-services.hostServices.syncthing',
      /runs Syncthing but has no vaultPath/,
      'syncthing:',
      '  prod-services:',
    );
  });

  it('a vault-snapshots bucket with no vault to snapshot', () => {
    let text = edit(TEXT, '  prod-services:', '    vaultPath: /srv/obsidian-vault-v2\n', '');
    text = edit(text, '  contabo:', '    vaultPath: /srv/obsidian-vault-v2\n', '');
    const found = problems(text);
    expect(found.some((p) => p.path === 'aws.buckets.vault-snapshots' && /nothing to snapshot/.test(p.message))).toBe(true);
  });

  it('a compose host with secrets but no Infisical identity', () => {
    const text = edit(TEXT, 'infisical:', 'hosts: [prod-services, dev-learning, davas]', 'hosts: [dev-learning, davas]');
    expectProblem(text, 'services.gitea.secrets', /no Infisical identity covers host "prod-services"/, 'secrets:', '  gitea:');
    expectProblem(text, 'hosts.prod-services.hostServices.alloy', /runs Alloy/, 'alloy:', '  prod-services:');
  });

  it('a firewall without any SSH rule', () => {
    const text = edit(
      TEXT,
      '  dev-learning:',
      '        - name: ssh\n          protocol: tcp\n          ports: "22"\n',
      '        - name: ssh\n          protocol: tcp\n          ports: "2222"\n',
    );
    expectProblem(text, 'hosts.dev-learning.firewall', /lock out/, 'firewall:', '  dev-learning:');
  });

  it('an SSH rule that shuts out the tailnet Ansible connects over', () => {
    const text = edit(TEXT, '  davas:', 'sources: [100.64.0.0/10]', 'sources: [192.168.1.0/24]');
    expectProblem(text, 'hosts.davas.firewall.inbound.0.sources', /lock Ansible out/, 'sources: [192.168.1.0/24]', '  davas:');
  });

  it('a tailnet address on a host that runs no tailscale', () => {
    const text = edit(TEXT, '  davas:', '      tailscale:\n        kind: tailscale\n', '');
    expectProblem(text, 'hosts.davas.addresses.tailnet', /runs no tailscale/, 'tailnet: 100.101.40.1', '  davas:');
  });

  it('an ICMP rule with ports', () => {
    const text = edit(
      TEXT,
      '  davas:',
      '        - name: ollama\n',
      '        - name: ping\n          protocol: icmp\n          ports: "8"\n          sources: [100.64.0.0/10]\n        - name: ollama\n',
    );
    expectProblem(text, 'hosts.davas.firewall.inbound.1.ports', /ICMP has no ports/, 'ports: "8"', '  davas:');
  });
});
