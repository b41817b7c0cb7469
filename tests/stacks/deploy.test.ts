import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { deployPlan, stackEnv } from '../../stacks/deploy-plan.js';
import { STACK_ORDER } from '../../stacks/naming.js';
import { load, MODELS, ROOT } from './helpers.js';

const run = promisify(execFile);

describe('deploy plan', () => {
  it('deploys in dependency order: bootstrap, storage, identities, edge, hosts, observability', () => {
    expect(deployPlan(load(MODELS.example)).map((s) => s.stack)).toEqual([...STACK_ORDER]);
    expect([...STACK_ORDER]).toEqual(['bootstrap', 'storage', 'identities', 'edge', 'hosts', 'observability']);
  });

  it('maps model-named secrets onto the names providers and Terraform variables read', () => {
    const p = load(MODELS.alt);
    const edge = deployPlan(p).find((s) => s.stack === 'edge')!;
    const obs = deployPlan(p).find((s) => s.stack === 'observability')!;
    const env = {
      AWS_PROFILE: 'ops',
      ACME_CF_ACCOUNT: 'acct',
      CLOUDFLARE_API_TOKEN: 't',
      INFISICAL_UNIVERSAL_AUTH_CLIENT_ID: 'i',
      INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET: 's',
      ACME_GRAFANA_API_TOKEN: 'g',
      ACME_DISCORD_WEBHOOK: 'w',
    };
    expect(stackEnv(edge, env)).toEqual({ env: { TF_VAR_acme_cf_account: 'acct' }, missing: [] });
    expect(stackEnv(obs, env)).toEqual({ env: { GRAFANA_AUTH: 'g', TF_VAR_acme_discord_webhook: 'w' }, missing: [] });
    expect(stackEnv(obs, { AWS_PROFILE: 'ops' }).missing.map((m) => m.name)).toEqual(['GRAFANA_AUTH', 'TF_VAR_acme_discord_webhook']);
  });

  it('refuses to start and says what is missing', async () => {
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !/^(AWS_|CLOUDFLARE_|INFISICAL_|CNTB_|GRAFANA_|TF_VAR_)/.test(k)),
    );
    const r = await run(resolve(ROOT, 'node_modules/.bin/tsx'), ['stacks/deploy.ts'], { cwd: ROOT, env }).catch(
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(r).toMatchObject({ code: 1 });
    const { stdout, stderr } = r as { stdout: string; stderr: string };
    expect(stdout).toContain('deploying, in order:');
    expect(stdout.indexOf('1. bootstrap')).toBeLessThan(stdout.indexOf('6. observability'));
    expect(stderr).toContain('edge: CLOUDFLARE_API_TOKEN');
    expect(stderr).toContain('observability: TF_VAR_discord_webhook_url or DISCORD_WEBHOOK_URL');
  });
});
