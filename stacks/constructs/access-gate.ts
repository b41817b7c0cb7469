import { ZeroTrustAccessApplication } from '@cdktf/provider-cloudflare/lib/zero-trust-access-application/index.js';
import { ZeroTrustAccessPolicy } from '@cdktf/provider-cloudflare/lib/zero-trust-access-policy/index.js';
import { ZeroTrustAccessServiceToken } from '@cdktf/provider-cloudflare/lib/zero-trust-access-service-token/index.js';
import { Construct } from 'constructs';
import { HostnameSchema, NameSchema } from '../../model/schema.js';
import { checkProps } from '../errors.js';

export type AccessRule =
  { readonly kind: 'people'; readonly emails: readonly string[] } | { readonly kind: 'service-token'; readonly tokenName: string };

export interface AccessGateProps {
  readonly accountId: string;
  readonly hostname: string;
  /** Policy name: stable across hostname changes, so a renamed host keeps its policy. */
  readonly policyName: string;
  readonly rule: AccessRule;
  /** Go duration, e.g. "24h". */
  readonly sessionDuration: string;
}

const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/**
 * Cloudflare Access in front of one hostname: a self-hosted application and its one reusable
 * policy, either people by email (decision allow) or a service token (decision non_identity,
 * with the token created here).
 */
export class AccessGate extends Construct {
  readonly application: ZeroTrustAccessApplication;
  readonly policy: ZeroTrustAccessPolicy;
  readonly serviceToken?: ZeroTrustAccessServiceToken;

  constructor(scope: Construct, id: string, props: AccessGateProps) {
    super(scope, id);
    const problems: string[] = [];
    if (!HostnameSchema.safeParse(props.hostname).success) problems.push(`hostname "${props.hostname}" is not a DNS name`);
    if (!GO_DURATION.test(props.sessionDuration))
      problems.push(`session duration "${props.sessionDuration}" is not a duration Access accepts (ns, us, ms, s, m, h)`);
    if (props.rule.kind === 'people') {
      if (props.rule.emails.length === 0) problems.push('people access with no emails would let nobody in');
      problems.push(...props.rule.emails.filter((e) => !EMAIL.test(e)).map((e) => `"${e}" is not an email address`));
    } else if (!NameSchema.safeParse(props.rule.tokenName).success) {
      problems.push(`service token name "${props.rule.tokenName}" is not a lower-case name`);
    }
    checkProps(this, problems);

    if (props.rule.kind === 'people') {
      this.policy = new ZeroTrustAccessPolicy(this, 'policy', {
        accountId: props.accountId,
        name: props.policyName,
        decision: 'allow',
        include: props.rule.emails.map((email) => ({ email: { email } })),
        sessionDuration: props.sessionDuration,
      });
    } else {
      this.serviceToken = new ZeroTrustAccessServiceToken(this, 'service-token', {
        accountId: props.accountId,
        name: props.rule.tokenName,
      });
      this.policy = new ZeroTrustAccessPolicy(this, 'policy', {
        accountId: props.accountId,
        name: props.policyName,
        decision: 'non_identity',
        include: [{ serviceToken: { tokenId: this.serviceToken.id } }],
      });
    }
    this.application = new ZeroTrustAccessApplication(this, 'application', {
      accountId: props.accountId,
      name: props.hostname,
      type: 'self_hosted',
      domain: props.hostname,
      destinations: [{ type: 'public', uri: props.hostname }],
      sessionDuration: props.sessionDuration,
      // Machines get a 401 they can act on instead of a login page.
      serviceAuth401Redirect: props.rule.kind === 'service-token',
      appLauncherVisible: props.rule.kind === 'people',
      policies: [{ id: this.policy.id, precedence: 1 }],
    });
  }
}
