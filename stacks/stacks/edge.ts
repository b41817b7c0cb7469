import { CloudflareProvider } from '@cdktf/provider-cloudflare/lib/provider/index.js';
import { DataCloudflareZone } from '@cdktf/provider-cloudflare/lib/data-cloudflare-zone/index.js';
import { TerraformOutput, TerraformStack, TerraformVariable } from 'cdktf';
import type { Construct } from 'constructs';
import type { Platform } from '../../model/schema.js';
import { publicEndpoints } from '../../model/views.js';
import { platformBackend } from '../backend.js';
import { literal } from '../literal.js';
import { AccessGate } from '../constructs/access-gate.js';
import { PlatformTunnel } from '../constructs/tunnel.js';
import { goDuration, slug } from '../naming.js';
import { DataInfisicalProjects, InfisicalProvider, InfisicalSecret } from '../providers/infisical.js';

export interface EdgeStackProps {
  readonly platform: Platform;
}

/** Terraform variable holding the Cloudflare account id: the model's `accountIdEnv`, lower-cased. */
export function accountIdVariable(p: Platform): string {
  return p.cloudflare.accountIdEnv.toLowerCase();
}

/**
 * Route keys stable under a hostname change: the target ("web", "davas-ollama"), numbered when two
 * hostnames share one.
 */
export function routeKeys(targets: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return targets.map((t) => {
    const base = slug(t);
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base}-${n}`;
  });
}

/**
 * Cloudflare: the tunnel, its ingress and DNS, Access in front of protected hostnames; and the
 * tunnel token and Access service tokens written straight into Infisical.
 */
export class EdgeStack extends TerraformStack {
  readonly tunnel: PlatformTunnel;
  readonly gates: ReadonlyMap<string, AccessGate>;

  constructor(scope: Construct, id: string, props: EdgeStackProps) {
    super(scope, id);
    const p = props.platform;
    platformBackend(this, p, 'edge');
    // Both providers take their credentials from the environment (CLOUDFLARE_API_TOKEN,
    // INFISICAL_UNIVERSAL_AUTH_CLIENT_ID / _SECRET).
    new CloudflareProvider(this, 'cloudflare', {});
    new InfisicalProvider(this, 'infisical', { host: literal(p.infisical.siteUrl) });

    const accountId = new TerraformVariable(this, accountIdVariable(p), {
      type: 'string',
      description: `Cloudflare account id (set TF_VAR_${accountIdVariable(p)} from $${p.cloudflare.accountIdEnv})`,
      nullable: false,
    });
    const zone = new DataCloudflareZone(this, 'zone', { filter: { name: p.cloudflare.zone, account: { id: accountId.stringValue } } });
    const project = new DataInfisicalProjects(this, 'project', { slug: p.infisical.project });

    const endpoints = publicEndpoints(p);
    const keys = routeKeys(endpoints.map((e) => (e.target.kind === 'service' ? e.target.service : `${e.target.host}/${e.target.service}`)));
    this.tunnel = new PlatformTunnel(this, 'tunnel', {
      accountId: accountId.stringValue,
      zoneId: zone.id,
      tunnelName: p.cloudflare.tunnel.name,
      routes: endpoints.map((e, i) => ({ key: keys[i]!, hostname: e.hostname, origin: e.origin })),
    });

    const secret = (constructId: string, name: string, value: string): InfisicalSecret =>
      new InfisicalSecret(this, constructId, { name, value, envSlug: p.infisical.env, workspaceId: project.id, folderPath: '/' });
    secret('tunnel-token-secret', p.cloudflare.tunnel.tokenSecret, this.tunnel.token);

    const gates = new Map<string, AccessGate>();
    endpoints.forEach((e, i) => {
      const a = e.access;
      if (!a) return;
      const key = keys[i]!;
      const gate = new AccessGate(this, `access-${key}`, {
        accountId: accountId.stringValue,
        hostname: e.hostname,
        policyName: `${p.name} ${key} ${a.policy}`,
        rule: a.policy === 'people' ? { kind: 'people', emails: a.emails } : { kind: 'service-token', tokenName: a.serviceToken },
        sessionDuration: goDuration(a.sessionDuration),
      });
      gates.set(e.hostname, gate);
      // Cloudflare mints the audience tag; a service that checks Access JWTs reads it from Infisical.
      if (a.policy === 'people' && a.audienceSecret) secret(`access-${key}-aud`, a.audienceSecret, gate.application.aud);
      if (a.policy === 'service-token' && gate.serviceToken) {
        secret(`access-${key}-client-id`, a.clientIdSecret, gate.serviceToken.clientId);
        secret(`access-${key}-client-secret`, a.clientSecretSecret, gate.serviceToken.clientSecret);
      }
    });
    this.gates = gates;

    new TerraformOutput(this, 'tunnel_id', {
      value: this.tunnel.tunnel.id,
      description: 'not a secret: the connector token is in Infisical',
    });
  }
}
