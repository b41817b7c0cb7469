import { DataCloudflareZeroTrustTunnelCloudflaredToken } from '@cdktf/provider-cloudflare/lib/data-cloudflare-zero-trust-tunnel-cloudflared-token/index.js';
import { DnsRecord } from '@cdktf/provider-cloudflare/lib/dns-record/index.js';
import { ZeroTrustTunnelCloudflared } from '@cdktf/provider-cloudflare/lib/zero-trust-tunnel-cloudflared/index.js';
import { ZeroTrustTunnelCloudflaredConfigA } from '@cdktf/provider-cloudflare/lib/zero-trust-tunnel-cloudflared-config/index.js';
import { Construct } from 'constructs';
import { HostnameSchema, NameSchema } from '../../model/schema.js';
import { checkProps } from '../errors.js';

/** The last ingress rule: anything no hostname matched gets a 404 from cloudflared itself. */
export const CATCH_ALL = 'http_status:404';

export interface TunnelRoute {
  /** Stable construct key for the route (not the hostname, so renaming a host updates in place). */
  readonly key: string;
  readonly hostname: string;
  /** Where cloudflared sends the traffic, e.g. http://web:8000. */
  readonly origin: string;
}

export interface PlatformTunnelProps {
  readonly accountId: string;
  readonly zoneId: string;
  readonly tunnelName: string;
  readonly routes: readonly TunnelRoute[];
}

/**
 * One remotely-managed Cloudflare Tunnel (config_src = cloudflare): its ingress rules, one per
 * route plus the 404 catch-all, and a proxied CNAME per hostname to `<tunnel id>.cfargotunnel.com`.
 * No tunnel secret is generated here: Cloudflare makes it, and the connector token is read back
 * through the provider's token data source.
 */
export class PlatformTunnel extends Construct {
  readonly tunnel: ZeroTrustTunnelCloudflared;
  readonly config: ZeroTrustTunnelCloudflaredConfigA;
  readonly records: ReadonlyMap<string, DnsRecord>;
  private readonly tokenSource: DataCloudflareZeroTrustTunnelCloudflaredToken;

  constructor(scope: Construct, id: string, props: PlatformTunnelProps) {
    super(scope, id);
    const problems: string[] = [];
    if (!NameSchema.safeParse(props.tunnelName).success) problems.push(`tunnel name "${props.tunnelName}" is not a lower-case name`);
    const seenHosts = new Set<string>();
    const seenKeys = new Set<string>();
    for (const r of props.routes) {
      if (!HostnameSchema.safeParse(r.hostname).success) problems.push(`hostname "${r.hostname}" is not a DNS name`);
      if (!/^https?:\/\/[^/\s]+$/.test(r.origin)) problems.push(`origin "${r.origin}" of ${r.hostname} is not an http(s)://host:port URL`);
      if (seenHosts.has(r.hostname)) problems.push(`hostname "${r.hostname}" is routed twice`);
      if (seenKeys.has(r.key)) problems.push(`route key "${r.key}" is used twice`);
      seenHosts.add(r.hostname);
      seenKeys.add(r.key);
    }
    checkProps(this, problems);

    this.tunnel = new ZeroTrustTunnelCloudflared(this, 'tunnel', {
      accountId: props.accountId,
      name: props.tunnelName,
      configSrc: 'cloudflare',
    });
    this.config = new ZeroTrustTunnelCloudflaredConfigA(this, 'ingress', {
      accountId: props.accountId,
      tunnelId: this.tunnel.id,
      config: {
        ingress: [...props.routes.map((r) => ({ hostname: r.hostname, service: r.origin })), { service: CATCH_ALL }],
      },
    });
    const records = new Map<string, DnsRecord>();
    for (const r of props.routes) {
      records.set(
        r.hostname,
        new DnsRecord(this, `dns-${r.key}`, {
          zoneId: props.zoneId,
          name: r.hostname,
          type: 'CNAME',
          content: `${this.tunnel.id}.cfargotunnel.com`,
          proxied: true,
          // 1 means "automatic", the only TTL a proxied record has.
          ttl: 1,
          comment: `Cloudflare Tunnel ${props.tunnelName}`,
        }),
      );
    }
    this.records = records;
    this.tokenSource = new DataCloudflareZeroTrustTunnelCloudflaredToken(this, 'token', {
      accountId: props.accountId,
      tunnelId: this.tunnel.id,
    });
  }

  /** The connector token (sensitive): only ever handed to a secret store. */
  get token(): string {
    return this.tokenSource.token;
  }
}
