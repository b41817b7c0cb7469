import type { Platform } from '../model/schema.js';
import { STACK_ORDER, type StackName } from './naming.js';
import { accountIdVariable } from './stacks/edge.js';
import { webhookVariable } from './stacks/observability.js';

/*
 * What `make deploy` needs from the environment, per stack, and how model-named secrets map onto
 * the names providers and Terraform variables read. Secrets are expected in the environment
 * under their model names (e.g. `infisical run --env=prod -- make deploy`), or already under the
 * provider's own name.
 */

export interface EnvNeed {
  /** The variable the provider or Terraform reads (set from the first alternative found). */
  readonly name: string;
  /** Alternatives that satisfy the need (any one of them), e.g. the model's secret name. */
  readonly from: readonly string[];
  readonly why: string;
  /** Only check presence: the provider reads the alternatives itself (AWS credential chain). */
  readonly checkOnly?: boolean;
}

export interface StackStep {
  readonly stack: StackName;
  readonly needs: readonly EnvNeed[];
}

const AWS: EnvNeed = {
  name: 'AWS credentials',
  from: ['AWS_ACCESS_KEY_ID', 'AWS_PROFILE'],
  why: 'AWS provider and the S3 state backend (AWS_ACCESS_KEY_ID with AWS_SECRET_ACCESS_KEY, or a profile)',
  checkOnly: true,
};
const INFISICAL: EnvNeed[] = [
  {
    name: 'INFISICAL_UNIVERSAL_AUTH_CLIENT_ID',
    from: ['INFISICAL_UNIVERSAL_AUTH_CLIENT_ID'],
    why: 'Infisical provider (a machine identity allowed to manage identities and secrets)',
  },
  { name: 'INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET', from: ['INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET'], why: 'Infisical provider' },
];

export function deployPlan(p: Platform): StackStep[] {
  const needs: Record<StackName, EnvNeed[]> = {
    bootstrap: [AWS],
    storage: [AWS],
    identities: [AWS, ...INFISICAL],
    edge: [
      AWS,
      ...INFISICAL,
      { name: 'CLOUDFLARE_API_TOKEN', from: ['CLOUDFLARE_API_TOKEN'], why: 'Cloudflare provider (Tunnel, DNS, Access edit)' },
      {
        name: `TF_VAR_${accountIdVariable(p)}`,
        from: [`TF_VAR_${accountIdVariable(p)}`, p.cloudflare.accountIdEnv],
        why: 'Cloudflare account id',
      },
    ],
    hosts: [
      AWS,
      ...['CNTB_OAUTH2_CLIENT_ID', 'CNTB_OAUTH2_CLIENT_SECRET', 'CNTB_OAUTH2_USER', 'CNTB_OAUTH2_PASS'].map((n) => ({
        name: n,
        from: [n],
        why: 'Contabo provider',
      })),
    ],
    observability: [
      AWS,
      {
        name: 'GRAFANA_AUTH',
        from: ['GRAFANA_AUTH', p.observability.grafanaCloud.apiTokenSecret],
        why: 'Grafana provider (a service account token of the Grafana Cloud stack)',
      },
      {
        name: `TF_VAR_${webhookVariable(p)}`,
        from: [`TF_VAR_${webhookVariable(p)}`, p.observability.discord.webhookSecret],
        why: 'Discord webhook of the contact point',
      },
    ],
  };
  return STACK_ORDER.map((stack) => ({ stack, needs: needs[stack] }));
}

/** The environment for a stack: each need filled from its first present alternative. */
export function stackEnv(step: StackStep, env: NodeJS.ProcessEnv): { env: Record<string, string>; missing: EnvNeed[] } {
  const out: Record<string, string> = {};
  const missing: EnvNeed[] = [];
  for (const need of step.needs) {
    const source = need.from.find((n) => env[n] !== undefined && env[n] !== '');
    if (source === undefined) missing.push(need);
    else if (!need.checkOnly && source !== need.name) out[need.name] = env[source]!;
  }
  return { env: out, missing };
}
