import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Testing, TerraformStack } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { GrafanaDashboards } from '../../stacks/constructs/grafana-dashboards.js';
import { DiscordAlerting } from '../../stacks/constructs/discord-alerting.js';
import { StackError } from '../../stacks/errors.js';
import { GrafanaContactPoint, GrafanaDashboard, GrafanaFolder, GrafanaNotificationPolicy } from '../../stacks/providers/grafana.js';
import { FIXTURE_DASHBOARDS, MODELS, resourceList, synthFile } from './helpers.js';
import { decodeLiteral } from './terraform-template.js';

describe('observability stack', () => {
  const s = synthFile(MODELS.example);
  const tf = s.json.observability;
  const text = s.text.observability;

  it('talks to the model Grafana Cloud stack with a pinned provider', () => {
    expect(tf.provider).toEqual({ grafana: [{ url: 'https://davidcockson.grafana.net' }] });
    expect(tf.terraform.required_providers).toEqual({ grafana: { source: 'grafana/grafana', version: '~> 4.10' } });
  });

  it('makes the platform folder and one dashboard per generated file, which Terraform decodes to the file', () => {
    expect(
      Testing.toHaveResourceWithProperties(text, GrafanaFolder.tfResourceType, {
        title: 'davidcockson-platform',
        uid: 'davidcockson-platform',
      }),
    ).toBe(true);
    const dashboards = resourceList(tf, GrafanaDashboard.tfResourceType);
    const files = ['hosts.json', 'jobs.json'].map((f) => readFileSync(join(FIXTURE_DASHBOARDS, f), 'utf8'));
    // The fixture carries Grafana's ${datasource} and a %{: literal text Terraform must not evaluate.
    expect(files[1]).toContain('${datasource}');
    expect(files[1]).toContain('%{');
    expect(dashboards.map((d) => decodeLiteral(String(d.config_json)))).toEqual(files);
    for (const d of dashboards)
      expect(d).toMatchObject({ folder: expect.stringMatching(/^\$\{grafana_folder\..*\.uid\}$/), overwrite: true });
  });

  it('sends alerts to Discord through a sensitive variable', () => {
    expect(tf.variable).toEqual({
      discord_webhook_url: {
        type: 'string',
        sensitive: true,
        nullable: false,
        description: expect.stringContaining('DISCORD_WEBHOOK_URL'),
      },
    });
    expect(resourceList(tf, GrafanaContactPoint.tfResourceType)).toEqual([
      { name: 'davidcockson-platform discord', discord: [{ url: '${var.discord_webhook_url}', use_discord_username: false }] },
    ]);
  });

  it('routes with the model timings', () => {
    expect(resourceList(tf, GrafanaNotificationPolicy.tfResourceType)).toEqual([
      {
        contact_point: expect.stringMatching(/^\$\{grafana_contact_point\..*\.name\}$/),
        group_by: ['grafana_folder', 'alertname'],
        group_wait: '30s',
        group_interval: '5m',
        repeat_interval: '4h',
      },
    ]);
    const alt = synthFile(MODELS.alt).json.observability;
    expect(resourceList(alt, GrafanaNotificationPolicy.tfResourceType)[0]).toMatchObject({
      group_wait: '1m',
      group_interval: '10m',
      repeat_interval: '12h',
    });
    expect(Object.keys(alt.variable ?? {})).toEqual(['acme_discord_webhook']);
  });
});

describe('observability constructs', () => {
  const stack = (): TerraformStack => new TerraformStack(Testing.app(), 'test');

  it('refuses a dashboard file that is not JSON', () => {
    expect(
      () => new GrafanaDashboards(stack(), 'd', { folderTitle: 'x', folderUid: 'x', dashboards: [{ name: 'broken', json: '{"title": ' }] }),
    ).toThrow(StackError);
  });

  it('refuses a literal webhook URL', () => {
    expect(
      () =>
        new DiscordAlerting(stack(), 'a', {
          contactPointName: 'x',
          webhookUrl: 'https://discord.com/api/webhooks/1/abc',
          groupBy: ['alertname'],
          groupWait: '30s',
          groupInterval: '5m',
          repeatInterval: '4h',
        }),
    ).toThrow(/literal/);
  });
});
