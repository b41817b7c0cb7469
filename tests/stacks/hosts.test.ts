import { Testing, TerraformStack } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { HostFirewall } from '../../stacks/constructs/host-firewall.js';
import { StackError } from '../../stacks/errors.js';
import { ContaboFirewall } from '../../stacks/providers/contabo.js';
import { MODELS, resourceList, synthFile } from './helpers.js';

describe('hosts stack', () => {
  it('builds the Contabo firewall of the one VPS in the example model from its inbound rules', () => {
    const s = synthFile(MODELS.example);
    const tf = s.json.hosts;
    expect(resourceList(tf, ContaboFirewall.tfResourceType)).toEqual([
      {
        name: 'contabo-inbound',
        description: 'Inbound rules of contabo: ssh',
        status: 'active',
        instance_ids: [202611001],
        rules: [
          { inbound: [{ protocol: 'tcp', action: 'accept', status: 'active', dest_ports: ['22'], src_cidr: [{ ipv4: ['0.0.0.0/0'] }] }] },
        ],
      },
    ]);
    expect(tf.terraform.required_providers).toEqual({ contabo: { source: 'contabo/contabo', version: '~> 0.1.31' } });
    expect(tf.provider).toEqual({ contabo: [{}] });
  });

  it('makes one firewall per VPS, leaves homelab and GPU hosts alone, maps "any" and icmp', () => {
    const s = synthFile(MODELS.alt);
    const fws = Object.fromEntries(resourceList(s.json.hosts, ContaboFirewall.tfResourceType).map((f) => [f.name, f]));
    expect(Object.keys(fws).sort()).toEqual(['front-1-inbound', 'front-2-inbound']);
    expect(fws['front-1-inbound']!.rules).toEqual([
      {
        inbound: [
          {
            protocol: 'tcp',
            action: 'accept',
            status: 'active',
            dest_ports: ['22'],
            src_cidr: [{ ipv4: ['100.64.0.0/10', '198.51.100.0/24'] }],
          },
          { protocol: 'icmp', action: 'accept', status: 'active', dest_ports: [], src_cidr: [{ ipv4: ['0.0.0.0/0'] }] },
        ],
      },
    ]);
    const inbound = (fws['front-2-inbound']!.rules as { inbound: { dest_ports: string[] }[] }[])[0]!.inbound;
    expect(inbound.map((r) => r.dest_ports)).toEqual([['22'], ['1-65535'], ['8000-8100']]);
    expect(fws['front-2-inbound']!.instance_ids).toEqual([5550002]);
  });
});

describe('HostFirewall props', () => {
  it('rejects a non-numeric instance id, a bad CIDR and a bad range together', () => {
    const stack = new TerraformStack(Testing.app(), 'test');
    let caught: unknown;
    try {
      new HostFirewall(stack, 'fw', {
        hostName: 'vps',
        instanceId: 'vmi-12',
        inbound: [{ name: 'ssh', protocol: 'tcp', ports: '90-80', sources: ['10.0.0.0/33'] }],
      });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(StackError);
    expect((caught as StackError).message).toMatch(/instance id "vmi-12"[\s\S]*ports "90-80"[\s\S]*"10\.0\.0\.0\/33"/);
  });
});
