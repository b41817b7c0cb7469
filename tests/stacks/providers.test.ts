import { Testing, TerraformStack } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { AccessGate } from '../../stacks/constructs/access-gate.js';
import { PlatformTunnel } from '../../stacks/constructs/tunnel.js';
import { StackError } from '../../stacks/errors.js';
import { ContaboFirewall, ContaboProvider } from '../../stacks/providers/contabo.js';
import { GrafanaFolder, GrafanaProvider } from '../../stacks/providers/grafana.js';
import { InfisicalIdentity, InfisicalProvider, InfisicalSecret } from '../../stacks/providers/infisical.js';
import type { TfJson } from './helpers.js';

function synth(build: (stack: TerraformStack) => void): TfJson {
  const stack = new TerraformStack(Testing.app(), 'test');
  build(stack);
  return JSON.parse(Testing.synth(stack)) as TfJson;
}

describe('hand-written provider bindings', () => {
  it('declare pinned sources and versions in required_providers', () => {
    const tf = synth((s) => {
      new ContaboProvider(s, 'contabo');
      new InfisicalProvider(s, 'infisical', { host: 'https://eu.infisical.com' });
      new GrafanaProvider(s, 'grafana', { url: 'https://x.grafana.net' });
    });
    expect(tf.terraform.required_providers).toEqual({
      contabo: { source: 'contabo/contabo', version: '~> 0.1.31' },
      infisical: { source: 'infisical/infisical', version: '~> 0.15.47' },
      grafana: { source: 'grafana/grafana', version: '~> 4.10' },
    });
  });

  it('synthesize snake_case attributes and pass meta arguments through', () => {
    const tf = synth((s) => {
      const aliased = new InfisicalProvider(s, 'infisical', { host: 'https://eu.infisical.com', alias: 'eu' });
      const identity = new InfisicalIdentity(s, 'identity', { name: 'n', role: 'no-access', orgId: 'org', provider: aliased });
      new InfisicalSecret(s, 'secret', {
        name: 'S',
        value: identity.id,
        envSlug: 'prod',
        workspaceId: 'w',
        folderPath: '/',
        dependsOn: [identity],
      });
      new ContaboFirewall(s, 'fw', {
        name: 'fw',
        status: 'active',
        instanceIds: [1],
        inbound: [{ protocol: 'tcp', action: 'accept', status: 'active', destPorts: ['22'], srcCidr: { ipv4: ['10.0.0.0/8'] } }],
      });
      new GrafanaFolder(s, 'folder', { title: 'T' });
    });
    expect(tf.provider?.infisical).toEqual([{ host: 'https://eu.infisical.com', alias: 'eu' }]);
    expect(tf.resource?.infisical_identity?.identity).toEqual({ name: 'n', role: 'no-access', org_id: 'org', provider: 'infisical.eu' });
    expect(tf.resource?.infisical_secret?.secret).toEqual({
      name: 'S',
      value: '${infisical_identity.identity.id}',
      env_slug: 'prod',
      workspace_id: 'w',
      folder_path: '/',
      depends_on: ['infisical_identity.identity'],
    });
    expect(tf.resource?.contabo_firewall?.fw).toMatchObject({
      instance_ids: [1],
      rules: [{ inbound: [{ dest_ports: ['22'], src_cidr: [{ ipv4: ['10.0.0.0/8'] }] }] }],
    });
    expect(tf.resource?.grafana_folder?.folder).toEqual({ title: 'T' });
  });
});

describe('edge construct props', () => {
  const stack = (): TerraformStack => new TerraformStack(Testing.app(), 'test');

  it('PlatformTunnel refuses duplicate hostnames and non-URL origins', () => {
    expect(
      () =>
        new PlatformTunnel(stack(), 't', {
          accountId: 'a',
          zoneId: 'z',
          tunnelName: 'tunnel',
          routes: [
            { key: 'a', hostname: 'x.example.com', origin: 'http://web:8000' },
            { key: 'b', hostname: 'x.example.com', origin: 'web:8000' },
          ],
        }),
    ).toThrow(/origin "web:8000"[\s\S]*routed twice/);
  });

  it('AccessGate refuses people access with nobody and durations Access cannot parse', () => {
    let caught: unknown;
    try {
      new AccessGate(stack(), 'g', {
        accountId: 'a',
        hostname: 'x.example.com',
        policyName: 'p',
        rule: { kind: 'people', emails: [] },
        sessionDuration: '7d',
      });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(StackError);
    expect((caught as StackError).message).toMatch(/session duration "7d"[\s\S]*nobody/);
  });
});
