import { Testing } from 'cdktf';
import { DnsRecord } from '@cdktf/provider-cloudflare/lib/dns-record/index.js';
import { ZeroTrustAccessApplication } from '@cdktf/provider-cloudflare/lib/zero-trust-access-application/index.js';
import { ZeroTrustAccessPolicy } from '@cdktf/provider-cloudflare/lib/zero-trust-access-policy/index.js';
import { ZeroTrustAccessServiceToken } from '@cdktf/provider-cloudflare/lib/zero-trust-access-service-token/index.js';
import { ZeroTrustTunnelCloudflared } from '@cdktf/provider-cloudflare/lib/zero-trust-tunnel-cloudflared/index.js';
import { ZeroTrustTunnelCloudflaredConfigA } from '@cdktf/provider-cloudflare/lib/zero-trust-tunnel-cloudflared-config/index.js';
import { describe, expect, it } from 'vitest';
import { InfisicalSecret } from '../../stacks/providers/infisical.js';
import { routeKeys } from '../../stacks/stacks/edge.js';
import { MODELS, resourceList, synthFile } from './helpers.js';

const TUNNEL_ID = /^\$\{cloudflare_zero_trust_tunnel_cloudflared\.tunnel_[A-F0-9]+\.id\}$/;

describe('edge stack (example model)', () => {
  const s = synthFile(MODELS.example);
  const tf = s.json.edge;
  const text = s.text.edge;

  it('takes the account id from a variable named after the model env var', () => {
    expect(tf.variable).toEqual({
      cloudflare_account_id: { type: 'string', nullable: false, description: expect.stringContaining('TF_VAR_cloudflare_account_id') },
    });
    expect(
      Testing.toHaveDataSourceWithProperties(text, 'cloudflare_zone', {
        filter: { name: 'davidcockson.com', account: { id: '${var.cloudflare_account_id}' } },
      }),
    ).toBe(true);
  });

  it('makes one remotely-managed tunnel with no secret in the config', () => {
    const tunnels = resourceList(tf, ZeroTrustTunnelCloudflared.tfResourceType);
    expect(tunnels).toEqual([{ account_id: '${var.cloudflare_account_id}', name: 'davidcockson-platform', config_src: 'cloudflare' }]);
  });

  it('routes each public hostname to its origin, then 404s everything else', () => {
    const [config] = resourceList(tf, ZeroTrustTunnelCloudflaredConfigA.tfResourceType);
    expect(config!.tunnel_id).toMatch(TUNNEL_ID);
    expect(config!.config).toEqual({
      ingress: [
        { hostname: 'control.davidcockson.com', service: 'http://web:8000' },
        { hostname: 'davas-ollama.davidcockson.com', service: 'http://100.101.40.1:11434' },
        { service: 'http_status:404' },
      ],
    });
  });

  it('points a proxied CNAME per hostname at the tunnel', () => {
    const records = resourceList(tf, DnsRecord.tfResourceType);
    expect(records.map((r) => r.name).sort()).toEqual(['control.davidcockson.com', 'davas-ollama.davidcockson.com']);
    for (const r of records) {
      expect(r).toMatchObject({ type: 'CNAME', proxied: true, ttl: 1, zone_id: '${data.cloudflare_zone.zone.id}' });
      expect(r.content).toMatch(/^\$\{cloudflare_zero_trust_tunnel_cloudflared\.tunnel_[A-F0-9]+\.id\}\.cfargotunnel\.com$/);
    }
  });

  it('puts people-only Access on control.', () => {
    expect(
      Testing.toHaveResourceWithProperties(text, ZeroTrustAccessPolicy.tfResourceType, {
        decision: 'allow',
        include: [{ email: { email: 'david@davidcockson.com' } }],
        session_duration: '24h',
      }),
    ).toBe(true);
    expect(
      Testing.toHaveResourceWithProperties(text, ZeroTrustAccessApplication.tfResourceType, {
        name: 'control.davidcockson.com',
        domain: 'control.davidcockson.com',
        type: 'self_hosted',
        destinations: [{ type: 'public', uri: 'control.davidcockson.com' }],
      }),
    ).toBe(true);
    const app = resourceList(tf, ZeroTrustAccessApplication.tfResourceType).find((a) => a.domain === 'control.davidcockson.com');
    expect(app!.policies).toEqual([
      { id: expect.stringMatching(/^\$\{cloudflare_zero_trust_access_policy\.access-web_policy_[A-F0-9]+\.id\}$/), precedence: 1 },
    ]);
  });

  it('puts a service token with a non_identity policy on davas-ollama.', () => {
    expect(Testing.toHaveResourceWithProperties(text, ZeroTrustAccessServiceToken.tfResourceType, { name: 'davas-ollama-client' })).toBe(
      true,
    );
    const policy = resourceList(tf, ZeroTrustAccessPolicy.tfResourceType).find((x) => x.decision === 'non_identity');
    expect(policy!.include).toEqual([
      { service_token: { token_id: expect.stringMatching(/^\$\{cloudflare_zero_trust_access_service_token\..*\.id\}$/) } },
    ]);
    expect(
      Testing.toHaveResourceWithProperties(text, ZeroTrustAccessApplication.tfResourceType, {
        domain: 'davas-ollama.davidcockson.com',
        service_auth_401_redirect: true,
      }),
    ).toBe(true);
  });

  it('writes the tunnel token, the service token id/secret and the control panel audience tag straight into Infisical', () => {
    const secrets = Object.fromEntries(resourceList(tf, InfisicalSecret.tfResourceType).map((x) => [x.name, x]));
    expect(Object.keys(secrets).sort()).toEqual([
      'CF_ACCESS_AUD',
      'DAVAS_OLLAMA_ACCESS_CLIENT_ID',
      'DAVAS_OLLAMA_ACCESS_CLIENT_SECRET',
      'TUNNEL_TOKEN',
    ]);
    expect(secrets.CF_ACCESS_AUD!.value).toMatch(/^\$\{cloudflare_zero_trust_access_application\.access-web_application_[A-F0-9]+\.aud\}$/);
    expect(secrets.TUNNEL_TOKEN!.value).toMatch(
      /^\$\{data\.cloudflare_zero_trust_tunnel_cloudflared_token\.tunnel_token_[A-F0-9]+\.token\}$/,
    );
    expect(secrets.DAVAS_OLLAMA_ACCESS_CLIENT_ID!.value).toMatch(/\.client_id\}$/);
    expect(secrets.DAVAS_OLLAMA_ACCESS_CLIENT_SECRET!.value).toMatch(/\.client_secret\}$/);
    for (const x of Object.values(secrets)) {
      expect(x).toMatchObject({ env_slug: 'prod', folder_path: '/', workspace_id: '${data.infisical_projects.project.id}' });
    }
    expect(Testing.toHaveDataSourceWithProperties(text, 'infisical_projects', { slug: 'homelab-rebuild' })).toBe(true);
  });

  it('outputs nothing secret', () => {
    expect(Object.keys(tf.output ?? {})).toEqual(['tunnel_id']);
  });

  it('pins the providers and reads their credentials from the environment', () => {
    expect(tf.terraform.required_providers).toEqual({
      cloudflare: { source: 'cloudflare/cloudflare', version: '5.14.0' },
      infisical: { source: 'infisical/infisical', version: '~> 0.15.47' },
    });
    expect(tf.provider).toEqual({ cloudflare: [{}], infisical: [{ host: 'https://eu.infisical.com' }] });
  });
});

describe('edge stack (alt model)', () => {
  const s = synthFile(MODELS.alt);
  const tf = s.json.edge;

  it('names the account variable after the model env var', () => {
    expect(Object.keys(tf.variable ?? {})).toEqual(['acme_cf_account']);
  });

  it('converts day durations to the hours Access accepts', () => {
    const chat = resourceList(tf, ZeroTrustAccessApplication.tfResourceType).find((a) => a.domain === 'chat.lab.acme.dev');
    expect(chat!.session_duration).toBe('168h');
  });

  it('gates every protected hostname and leaves the public one open', () => {
    const apps = resourceList(tf, ZeroTrustAccessApplication.tfResourceType)
      .map((a) => a.domain)
      .sort();
    expect(apps).toEqual(['chat.lab.acme.dev', 'gpu.acme.dev', 'metrics.lab.acme.dev', 'tools.lab.acme.dev']);
    expect(
      resourceList(tf, ZeroTrustAccessServiceToken.tfResourceType)
        .map((t) => t.name)
        .sort(),
    ).toEqual(['acme-gpu-client', 'acme-mcp-client']);
    expect(
      resourceList(tf, InfisicalSecret.tfResourceType)
        .map((x) => x.name)
        .sort(),
    ).toEqual([
      'ACME_GPU_CLIENT_ID',
      'ACME_GPU_CLIENT_SECRET',
      'ACME_MCP_CLIENT_ID',
      'ACME_MCP_CLIENT_SECRET',
      'ACME_TUNNEL_TOKEN',
      'CONTROL_ACCESS_AUD',
    ]);
  });
});

describe('routeKeys', () => {
  it('keys routes by target, numbering repeats', () => {
    expect(routeKeys(['web', 'davas/ollama', 'web', 'web'])).toEqual(['web', 'davas-ollama', 'web-2', 'web-3']);
  });
});

describe('edge stack, fully synthesized', () => {
  it('writes the same configuration to disk, plus construct metadata', async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const s = synthFile(MODELS.example);
    const outdir = Testing.fullSynth(s.stacks.edge);
    const onDisk = JSON.parse(readFileSync(join(outdir, 'stacks', 'edge', 'cdk.tf.json'), 'utf8')) as Record<string, unknown>;
    const strip = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(strip)
        : v && typeof v === 'object'
          ? Object.fromEntries(
              Object.entries(v)
                .filter(([k]) => k !== '//')
                .map(([k, x]) => [k, strip(x)]),
            )
          : v;
    expect(strip(onDisk)).toEqual(s.json.edge);
    expect((onDisk['//'] as { metadata: { backend: string; overrides: unknown } }).metadata).toMatchObject({
      backend: 's3',
      overrides: { backend: ['use_lockfile'] },
    });
  });
});
