import { Construct } from 'constructs';
import { DurationSchema } from '../../model/schema.js';
import { checkProps } from '../errors.js';
import { GrafanaContactPoint, GrafanaNotificationPolicy } from '../providers/grafana.js';

export interface DiscordAlertingProps {
  readonly contactPointName: string;
  /** A reference to a sensitive variable or secret, never a literal URL. */
  readonly webhookUrl: string;
  readonly groupBy: readonly string[];
  readonly groupWait: string;
  readonly groupInterval: string;
  readonly repeatInterval: string;
}

/** Grafana alert routing: one Discord contact point as the root of the notification policy tree. */
export class DiscordAlerting extends Construct {
  readonly contactPoint: GrafanaContactPoint;
  readonly policy: GrafanaNotificationPolicy;

  constructor(scope: Construct, id: string, props: DiscordAlertingProps) {
    super(scope, id);
    checkProps(this, [
      ...(props.contactPointName.trim() ? [] : ['contact point name is empty']),
      ...(/^https?:\/\//.test(props.webhookUrl) ? ['the webhook URL is a literal: pass a sensitive variable reference'] : []),
      ...(props.groupBy.length > 0 ? [] : ['group_by is empty']),
      ...(['groupWait', 'groupInterval', 'repeatInterval'] as const)
        .filter((k) => !DurationSchema.safeParse(props[k]).success)
        .map((k) => `${k} "${props[k]}" is not a duration such as "30s" or "4h"`),
    ]);

    this.contactPoint = new GrafanaContactPoint(this, 'contact-point', {
      name: props.contactPointName,
      discord: [{ url: props.webhookUrl, useDiscordUsername: false }],
    });
    this.policy = new GrafanaNotificationPolicy(this, 'policy', {
      contactPoint: this.contactPoint,
      groupBy: props.groupBy,
      groupWait: props.groupWait,
      groupInterval: props.groupInterval,
      repeatInterval: props.repeatInterval,
    });
  }
}
