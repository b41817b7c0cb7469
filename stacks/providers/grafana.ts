import { TerraformResource, type TerraformMetaArguments } from 'cdktf';
import type { Construct } from 'constructs';
import { compact, GRAFANA, PinnedTerraformProvider, resourceConfig } from './meta.js';

/*
 * Typed binding for the grafana/grafana provider: folder, dashboard, contact point and the
 * notification policy. The provider reads its token from GRAFANA_AUTH; the stack URL comes from
 * the model.
 */

export interface GrafanaProviderConfig {
  /** Root URL of the Grafana stack, e.g. https://example.grafana.net. */
  readonly url: string;
  readonly alias?: string;
}

export class GrafanaProvider extends PinnedTerraformProvider {
  constructor(
    scope: Construct,
    id: string,
    private readonly config: GrafanaProviderConfig,
  ) {
    super(scope, id, GRAFANA, config.alias);
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return { url: this.config.url };
  }
}

export interface GrafanaFolderConfig extends TerraformMetaArguments {
  readonly title: string;
  readonly uid?: string;
}

export class GrafanaFolder extends TerraformResource {
  static readonly tfResourceType = 'grafana_folder';

  constructor(
    scope: Construct,
    id: string,
    private readonly config: GrafanaFolderConfig,
  ) {
    super(scope, id, resourceConfig(GrafanaFolder.tfResourceType, GRAFANA, config));
  }

  get uid(): string {
    return this.getStringAttribute('uid');
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return compact({ title: this.config.title, uid: this.config.uid });
  }
}

export interface GrafanaDashboardConfig extends TerraformMetaArguments {
  /** The dashboard model as JSON text. */
  readonly configJson: string;
  readonly folder?: GrafanaFolder;
  /** Replace a dashboard with the same uid made elsewhere. */
  readonly overwrite?: boolean;
  readonly message?: string;
}

export class GrafanaDashboard extends TerraformResource {
  static readonly tfResourceType = 'grafana_dashboard';

  constructor(
    scope: Construct,
    id: string,
    private readonly config: GrafanaDashboardConfig,
  ) {
    super(scope, id, resourceConfig(GrafanaDashboard.tfResourceType, GRAFANA, config));
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return compact({
      config_json: this.config.configJson,
      folder: this.config.folder?.uid,
      overwrite: this.config.overwrite,
      message: this.config.message,
    });
  }
}

export interface GrafanaDiscordReceiver {
  /** The webhook URL: a sensitive variable reference, never a literal. */
  readonly url: string;
  readonly title?: string;
  readonly message?: string;
  readonly useDiscordUsername?: boolean;
  readonly disableResolveMessage?: boolean;
}

export interface GrafanaContactPointConfig extends TerraformMetaArguments {
  readonly name: string;
  readonly discord: readonly GrafanaDiscordReceiver[];
}

export class GrafanaContactPoint extends TerraformResource {
  static readonly tfResourceType = 'grafana_contact_point';

  constructor(
    scope: Construct,
    id: string,
    private readonly config: GrafanaContactPointConfig,
  ) {
    super(scope, id, resourceConfig(GrafanaContactPoint.tfResourceType, GRAFANA, config));
  }

  /** The name, as a reference, so a policy depends on the contact point. */
  get name(): string {
    return this.getStringAttribute('name');
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return {
      name: this.config.name,
      discord: this.config.discord.map((d) =>
        compact({
          url: d.url,
          title: d.title,
          message: d.message,
          use_discord_username: d.useDiscordUsername,
          disable_resolve_message: d.disableResolveMessage,
        }),
      ),
    };
  }
}

export interface GrafanaNotificationPolicyConfig extends TerraformMetaArguments {
  readonly contactPoint: GrafanaContactPoint;
  readonly groupBy: readonly string[];
  readonly groupWait: string;
  readonly groupInterval: string;
  readonly repeatInterval: string;
}

/** The root of the notification policy tree (Grafana holds exactly one). */
export class GrafanaNotificationPolicy extends TerraformResource {
  static readonly tfResourceType = 'grafana_notification_policy';

  constructor(
    scope: Construct,
    id: string,
    private readonly config: GrafanaNotificationPolicyConfig,
  ) {
    super(scope, id, resourceConfig(GrafanaNotificationPolicy.tfResourceType, GRAFANA, config));
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return {
      contact_point: this.config.contactPoint.name,
      group_by: [...this.config.groupBy],
      group_wait: this.config.groupWait,
      group_interval: this.config.groupInterval,
      repeat_interval: this.config.repeatInterval,
    };
  }
}
