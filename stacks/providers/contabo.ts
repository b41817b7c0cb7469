import { TerraformResource, type TerraformMetaArguments } from 'cdktf';
import type { Construct } from 'constructs';
import { compact, CONTABO, PinnedTerraformProvider, resourceConfig } from './meta.js';

/*
 * Typed binding for the contabo/contabo provider: only the provider and `contabo_firewall`.
 * Credentials are read by the provider from CNTB_OAUTH2_CLIENT_ID, CNTB_OAUTH2_CLIENT_SECRET,
 * CNTB_OAUTH2_USER and CNTB_OAUTH2_PASS, so the provider block carries none.
 */

export interface ContaboProviderConfig {
  /** API endpoint; the provider defaults to https://api.contabo.com. */
  readonly api?: string;
  readonly alias?: string;
}

export class ContaboProvider extends PinnedTerraformProvider {
  constructor(
    scope: Construct,
    id: string,
    private readonly config: ContaboProviderConfig = {},
  ) {
    super(scope, id, CONTABO, config.alias);
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return compact({ api: this.config.api });
  }
}

export interface ContaboFirewallInboundRule {
  readonly protocol: 'tcp' | 'udp' | 'icmp';
  readonly action: 'accept';
  readonly status: 'active' | 'inactive';
  /** Ports ("22") or ranges ("80-443"); empty for every port. */
  readonly destPorts: readonly string[];
  readonly srcCidr: { readonly ipv4: readonly string[]; readonly ipv6?: readonly string[] };
}

export interface ContaboFirewallConfig extends TerraformMetaArguments {
  readonly name: string;
  readonly description?: string;
  readonly status: 'active' | 'inactive';
  readonly instanceIds: readonly number[];
  readonly inbound: readonly ContaboFirewallInboundRule[];
}

export class ContaboFirewall extends TerraformResource {
  static readonly tfResourceType = 'contabo_firewall';

  constructor(
    scope: Construct,
    id: string,
    private readonly config: ContaboFirewallConfig,
  ) {
    super(scope, id, resourceConfig(ContaboFirewall.tfResourceType, CONTABO, config));
  }

  get id(): string {
    return this.getStringAttribute('id');
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return compact({
      name: this.config.name,
      description: this.config.description,
      status: this.config.status,
      instance_ids: [...this.config.instanceIds],
      rules: [
        {
          inbound: this.config.inbound.map((r) => ({
            protocol: r.protocol,
            action: r.action,
            status: r.status,
            dest_ports: [...r.destPorts],
            src_cidr: [compact({ ipv4: [...r.srcCidr.ipv4], ipv6: r.srcCidr.ipv6 ? [...r.srcCidr.ipv6] : undefined })],
          })),
        },
      ],
    });
  }
}
