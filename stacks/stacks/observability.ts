import { TerraformStack, TerraformVariable } from 'cdktf';
import type { Construct } from 'constructs';
import type { Platform } from '../../model/schema.js';
import { platformBackend } from '../backend.js';
import { literal } from '../literal.js';
import { DiscordAlerting } from '../constructs/discord-alerting.js';
import { GrafanaDashboards, type DashboardFile } from '../constructs/grafana-dashboards.js';
import { GrafanaProvider } from '../providers/grafana.js';

export interface ObservabilityStackProps {
  readonly platform: Platform;
  /** The generated dashboards (generated/grafana/dashboards/*.json), read by the app. */
  readonly dashboards: readonly DashboardFile[];
}

/** Terraform variable for the Discord webhook: the model's secret name, lower-cased. */
export function webhookVariable(p: Platform): string {
  return p.observability.discord.webhookSecret.toLowerCase();
}

/** Grafana Cloud: the platform folder and dashboards, and alert routing to Discord. */
export class ObservabilityStack extends TerraformStack {
  readonly dashboards: GrafanaDashboards;
  readonly alerting: DiscordAlerting;

  constructor(scope: Construct, id: string, props: ObservabilityStackProps) {
    super(scope, id);
    const p = props.platform;
    platformBackend(this, p, 'observability');
    // Token from GRAFANA_AUTH (the value of the model's apiTokenSecret).
    new GrafanaProvider(this, 'grafana', { url: literal(p.observability.grafanaCloud.stackUrl) });

    const webhook = new TerraformVariable(this, webhookVariable(p), {
      type: 'string',
      sensitive: true,
      nullable: false,
      description: `Discord webhook URL (Infisical secret ${p.observability.discord.webhookSecret}); set TF_VAR_${webhookVariable(p)}`,
    });
    this.dashboards = new GrafanaDashboards(this, 'dashboards', {
      folderTitle: p.name,
      folderUid: p.name.slice(0, 40),
      dashboards: props.dashboards,
    });
    const d = p.observability.discord;
    this.alerting = new DiscordAlerting(this, 'alerting', {
      contactPointName: `${p.name} discord`,
      webhookUrl: webhook.stringValue,
      groupBy: ['grafana_folder', 'alertname'],
      groupWait: d.groupWait,
      groupInterval: d.groupInterval,
      repeatInterval: d.repeatInterval,
    });
  }
}
