import { Construct } from 'constructs';
import { CidrSchema, NameSchema, PortRangeSchema } from '../../model/schema.js';
import { checkProps } from '../errors.js';
import { ContaboFirewall, type ContaboFirewallInboundRule } from '../providers/contabo.js';

export interface InboundRule {
  readonly name: string;
  readonly protocol: 'tcp' | 'udp' | 'icmp';
  /** "22", "80-443" or "any". */
  readonly ports: string;
  readonly sources: readonly string[];
}

export interface HostFirewallProps {
  readonly hostName: string;
  /** The Contabo instance id (numeric). */
  readonly instanceId: string;
  readonly inbound: readonly InboundRule[];
}

/** Every TCP/UDP port, for rules whose model ports are "any". */
const ALL_PORTS = '1-65535';

/**
 * The Contabo cloud firewall of one VPS: inbound rules only (Contabo allows all outbound), each
 * rule's protocol, destination ports and source CIDRs straight from the model, attached to the
 * instance by id.
 */
export class HostFirewall extends Construct {
  readonly firewall: ContaboFirewall;

  constructor(scope: Construct, id: string, props: HostFirewallProps) {
    super(scope, id);
    const problems: string[] = [];
    if (!NameSchema.safeParse(props.hostName).success) problems.push(`host name "${props.hostName}" is not a lower-case name`);
    if (!/^\d+$/.test(props.instanceId)) problems.push(`instance id "${props.instanceId}" is not the numeric id Contabo uses`);
    if (props.inbound.length === 0) problems.push('no inbound rules: the firewall would shut the host off, SSH included');
    for (const r of props.inbound) {
      if (!PortRangeSchema.safeParse(r.ports).success)
        problems.push(`rule "${r.name}": ports "${r.ports}" is not a port, a low-high range or "any"`);
      if (r.sources.length === 0) problems.push(`rule "${r.name}" has no sources`);
      problems.push(
        ...r.sources.filter((s) => !CidrSchema.safeParse(s).success).map((s) => `rule "${r.name}": "${s}" is not an IPv4 CIDR`),
      );
    }
    checkProps(this, problems);

    const inbound: ContaboFirewallInboundRule[] = props.inbound.map((r) => ({
      protocol: r.protocol,
      action: 'accept',
      status: 'active',
      destPorts: r.protocol === 'icmp' ? [] : [r.ports === 'any' ? ALL_PORTS : r.ports],
      srcCidr: { ipv4: [...r.sources] },
    }));
    this.firewall = new ContaboFirewall(this, 'firewall', {
      name: `${props.hostName}-inbound`,
      description: `Inbound rules of ${props.hostName}: ${props.inbound.map((r) => r.name).join(', ')}`,
      status: 'active',
      instanceIds: [Number(props.instanceId)],
      inbound,
    });
  }
}
