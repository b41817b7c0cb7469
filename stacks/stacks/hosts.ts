import { TerraformStack } from 'cdktf';
import type { Construct } from 'constructs';
import type { Platform } from '../../model/schema.js';
import { platformBackend } from '../backend.js';
import { HostFirewall } from '../constructs/host-firewall.js';
import { ContaboProvider } from '../providers/contabo.js';

export interface HostsStackProps {
  readonly platform: Platform;
}

/** Hosts whose provider firewall this stack manages: the VPSes with an instance id. */
export function firewalledHosts(p: Platform): string[] {
  return Object.entries(p.hosts)
    .filter(([, h]) => h.kind === 'vps' && h.instanceId !== undefined)
    .map(([name]) => name);
}

/** Cloud firewalls in front of the VPSes (homelab hosts sit behind their own network). */
export class HostsStack extends TerraformStack {
  readonly firewalls: ReadonlyMap<string, HostFirewall>;

  constructor(scope: Construct, id: string, props: HostsStackProps) {
    super(scope, id);
    const p = props.platform;
    platformBackend(this, p, 'hosts');
    new ContaboProvider(this, 'contabo');
    const firewalls = new Map<string, HostFirewall>();
    for (const name of firewalledHosts(p)) {
      const h = p.hosts[name]!;
      firewalls.set(
        name,
        new HostFirewall(this, `firewall-${name}`, { hostName: name, instanceId: h.instanceId!, inbound: h.firewall.inbound }),
      );
    }
    this.firewalls = firewalls;
  }
}
