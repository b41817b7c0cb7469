import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Testing, TerraformStack } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { STACK_ORDER } from '../../stacks/naming.js';
import * as bindings from '../../stacks/providers/index.js';
import { tempDir } from '../helpers.js';
import { MODELS, synthFile, type TfJson } from './helpers.js';
import { checkStack, satisfies, SCHEMA_DIR, schemaFiles, schemaFor } from './provider-schema.js';

/*
 * Every resource, data source and provider block of every synthesized stack held against the real
 * provider schemas (`tofu providers schema -json` output, in the shared specs folder): unknown
 * attributes, missing required ones, wrong types, blocks and attributes swapped, nesting modes
 * and item counts, computed-only attributes set. Stacks whose provider has no schema there
 * (AWS) are named, with what was left unchecked.
 */

const PROVIDERS_WITH_SCHEMAS = ['cloudflare', 'contabo', 'grafana', 'infisical'];

describe('provider schemas', () => {
  it(`are in ${SCHEMA_DIR}, one or more per provider the stacks need but aws`, () => {
    const files = schemaFiles();
    expect([...files.keys()].sort()).toEqual(expect.arrayContaining(PROVIDERS_WITH_SCHEMAS));
    expect(files.has('aws')).toBe(false);
  });
});

for (const [label, file] of Object.entries(MODELS)) {
  describe(`schema (${label} model, with the dashboards it generates)`, () => {
    const s = synthFile(file, { dashboards: 'generated' });
    for (const stack of STACK_ORDER) {
      const report = checkStack(s.json[stack]);
      const checked = Object.entries(report.checked).map(
        ([p, c]) => `${c.resources} ${p} resources, ${c.dataSources} data sources (${c.schema})`,
      );
      const unchecked = Object.entries(report.unchecked).map(([p, c]) => `${c.resources} ${p} resources NOT checked`);
      it(`${stack}: ${[...checked, ...unchecked].join('; ')}`, () => {
        expect(report.problems).toEqual([]);
        // A provider goes unchecked only for want of a schema file, never by mistake.
        for (const [provider, u] of Object.entries(report.unchecked)) {
          expect(provider).toBe('aws');
          expect(u.why).toMatch(/^no aws-<version>\.json in /);
        }
        expect(Object.keys(report.checked).length + Object.keys(report.unchecked).length).toBeGreaterThan(0);
      });
    }

    it('checks every stack but bootstrap and storage (aws) against a real schema', () => {
      const uncheckedStacks = STACK_ORDER.filter((stack) => Object.keys(checkStack(s.json[stack]).checked).length === 0);
      expect(uncheckedStacks).toEqual(['bootstrap', 'storage']);
    });
  });
}

describe('the hand-written bindings', () => {
  it('synthesize every resource and data source they offer, every optional argument set, as the schemas say', () => {
    const stack = new TerraformStack(Testing.app(), 'bindings');
    new bindings.ContaboProvider(stack, 'contabo', { api: 'https://api.contabo.com' });
    new bindings.ContaboFirewall(stack, 'fw', {
      name: 'fw',
      description: 'd',
      status: 'active',
      instanceIds: [1],
      inbound: [
        { protocol: 'tcp', action: 'accept', status: 'active', destPorts: ['22'], srcCidr: { ipv4: ['10.0.0.0/8'], ipv6: ['::/0'] } },
      ],
    });
    new bindings.InfisicalProvider(stack, 'infisical', { host: 'https://eu.infisical.com' });
    const project = new bindings.DataInfisicalProjects(stack, 'project', { slug: 'p' });
    const identity = new bindings.InfisicalIdentity(stack, 'identity', { name: 'n', role: 'no-access', orgId: project.orgId });
    const auth = new bindings.InfisicalIdentityUniversalAuth(stack, 'auth', { identity, accessTokenTtl: 3600, accessTokenMaxTtl: 7200 });
    new bindings.InfisicalIdentityUniversalAuthClientSecret(stack, 'secret', { identity, universalAuth: auth, description: 'd', ttl: 0 });
    new bindings.InfisicalProjectIdentity(stack, 'member', { projectId: project.id, identity, roles: ['viewer'] });
    new bindings.InfisicalSecret(stack, 'value', {
      name: 'S',
      value: identity.id,
      envSlug: 'prod',
      workspaceId: project.id,
      folderPath: '/',
    });
    new bindings.GrafanaProvider(stack, 'grafana', { url: 'https://x.grafana.net' });
    const folder = new bindings.GrafanaFolder(stack, 'folder', { title: 't', uid: 'u' });
    new bindings.GrafanaDashboard(stack, 'dashboard', { configJson: '{}', folder, overwrite: true, message: 'm' });
    const contactPoint = new bindings.GrafanaContactPoint(stack, 'cp', {
      name: 'c',
      discord: [{ url: 'https://discord.example/hook', title: 't', message: 'm', useDiscordUsername: true, disableResolveMessage: false }],
    });
    new bindings.GrafanaNotificationPolicy(stack, 'policy', {
      contactPoint,
      groupBy: ['alertname'],
      groupWait: '30s',
      groupInterval: '5m',
      repeatInterval: '4h',
    });
    const tf = JSON.parse(Testing.synth(stack)) as TfJson;

    const offered = Object.values(bindings)
      .map((b) => (b as { tfResourceType?: unknown }).tfResourceType)
      .filter((t): t is string => typeof t === 'string')
      .sort();
    const synthesized = [...Object.keys(tf.resource ?? {}), ...Object.keys(tf.data ?? {})].sort();
    expect(synthesized).toEqual(offered);
    const report = checkStack(tf);
    expect(Object.keys(report.checked).sort()).toEqual(['contabo', 'grafana', 'infisical']);
    expect(report.unchecked).toEqual({});
    expect(report.problems).toEqual([]);
  });
});

describe('the schema check itself', () => {
  const grafana = (resource: TfJson['resource'], extra: Partial<TfJson> = {}): TfJson => ({
    terraform: { required_providers: { grafana: { source: 'grafana/grafana', version: '~> 4.10' } } },
    provider: { grafana: [{ url: 'https://x.grafana.net' }] },
    resource,
    ...extra,
  });

  it('finds unknown, missing, mistyped and computed-only attributes, and swapped blocks', () => {
    const report = checkStack(
      grafana({
        grafana_dashboard: {
          d: { config_json: 1, uid: 'set-by-grafana', nonsense: true, folder: '${grafana_folder.f.uid}', message: { text: 'm' } },
        },
        grafana_folder: { f: { uid: 'f' } },
        grafana_notification_policy: {
          p: { contact_point: 'c', group_by: 'alertname', policy: [{ matcher: { label: 'a', match: '=', value: 'b', extra: 1 } }] },
        },
        grafana_contact_point: { c: { name: 'c', discord: 'https://discord.example/hook' } },
        grafana_oncall_integration: { o: { name: 'o', type: 'webhook', default_route: {}, templates: [{}, {}] } },
        grafana_playlist: { l: { name: 'l', interval: '5m' } },
      }),
    );
    expect(report.problems).toEqual([
      'grafana_dashboard.d: config_json: a number given, the schema says string',
      'grafana_dashboard.d: uid: computed only, Terraform refuses a value for it',
      expect.stringMatching(/^grafana_dashboard\.d: nonsense: not in the schema \(attributes: config_json, /),
      'grafana_dashboard.d: message: an object (block syntax) given, the schema says string',
      'grafana_folder.f: title: required, missing',
      'grafana_notification_policy.p: group_by: a string given, the schema says list(string)',
      expect.stringMatching(/^grafana_notification_policy\.p: policy\.0\.matcher\.extra: not in the schema/),
      'grafana_contact_point.c: discord: a string given, the schema says a set block (an attribute value where a block belongs)',
      'grafana_oncall_integration.o: templates: 2 blocks given, the schema allows at most 1',
      'grafana_playlist.l: item: at least 1 block(s) required, none given',
    ]);
  });

  it('holds nested attributes to their nesting mode, and data sources and provider blocks to theirs', () => {
    const report = checkStack({
      terraform: { required_providers: { cloudflare: { source: 'cloudflare/cloudflare', version: '5.14.0' } } },
      provider: { cloudflare: [{ api_key: 'k', api_tokn: 't' }] },
      resource: {
        cloudflare_zero_trust_tunnel_cloudflared_config: {
          single: { account_id: 'a', tunnel_id: 't', config: [{ ingress: [{ service: 'http_status:404' }] }] },
        },
        cloudflare_dns_record: { r: { zone_id: 'z', name: 'n', type: 'CNAME', ttl: '1', proxied: 'true' } },
      },
      data: { cloudflare_zone: { z: { filter: { name: 'x', nope: 1 } } }, cloudflare_nosuch: { n: {} } },
    });
    expect(report.problems).toEqual([
      expect.stringMatching(/^provider\.cloudflare: api_tokn: not in the schema/),
      'cloudflare_zero_trust_tunnel_cloudflared_config.single: config: a list given, the schema says a single nested attribute (an object, not a list)',
      'cloudflare_dns_record.r: ttl: a string given, the schema says number',
      'cloudflare_dns_record.r: proxied: a string given, the schema says bool',
      expect.stringMatching(/^data\.cloudflare_zone\.z: filter\.nope: not in the schema/),
      'data.cloudflare_nosuch.n: cloudflare 5.14.0 has no data source type "cloudflare_nosuch"',
    ]);
  });

  it('takes references and template expressions for any type', () => {
    const report = checkStack(grafana({ grafana_dashboard: { d: { config_json: '${jsonencode(var.x)}', overwrite: '${var.o}' } } }));
    expect(report.problems).toEqual([]);
  });
});

describe('choosing a schema file', () => {
  it('reads Terraform version constraints', () => {
    expect(satisfies('4.25.0', '~> 4.10')).toBe(true);
    expect(satisfies('5.0.0', '~> 4.10')).toBe(false);
    expect(satisfies('0.1.42', '~> 0.1.31')).toBe(true);
    expect(satisfies('0.2.0', '~> 0.1.31')).toBe(false);
    expect(satisfies('5.14.0', '5.14.0')).toBe(true);
    expect(satisfies('5.15.0', '5.14.0')).toBe(false);
    expect(satisfies('1.5.0', '>= 1.2, < 2.0, != 1.4.0')).toBe(true);
  });

  it('picks the newest schema within the constraint, so a newer file dropped in is used as it is', () => {
    const dir = tempDir('schemas-');
    const src = join(SCHEMA_DIR, 'grafana-4.25.0.json');
    expect(existsSync(src)).toBe(true);
    copyFileSync(src, join(dir, 'grafana-4.25.0.json'));
    copyFileSync(src, join(dir, 'grafana-4.30.1.json'));
    copyFileSync(src, join(dir, 'grafana-5.0.0.json'));
    writeFileSync(join(dir, 'README.md'), 'not a schema');
    const pick = schemaFor('grafana/grafana', '~> 4.10', dir);
    expect('schema' in pick && pick.schema.version).toBe('4.30.1');
    expect(schemaFor('grafana/grafana', '~> 6.0', dir)).toEqual({
      missing: `grafana schemas 5.0.0, 4.30.1, 4.25.0 in ${dir}, none within "~> 6.0"`,
    });
    expect(schemaFor('hashicorp/aws', '6.0.0', dir)).toEqual({ missing: `no aws-<version>.json in ${dir}` });
  });
});
