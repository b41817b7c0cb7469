import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { MODELS, ROOT, secretFindings, type TfJson } from './helpers.js';
import { checkStack } from './provider-schema.js';
import { cdktfFunctions, formatFinding, stackTemplateFindings } from './terraform-template.js';

const run = promisify(execFile);
const TSX = resolve(ROOT, 'node_modules/.bin/tsx');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function app(env: Record<string, string>): Promise<Result> {
  try {
    const { stdout, stderr } = await run(TSX, ['stacks/main.ts'], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

const example = readFileSync(MODELS.example, 'utf8');
const lineOf = (text: string, needle: string): number => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

/** Models the stacks cannot express, each with the line its problem must be reported at. */
const BAD: { name: string; edit: [string, string]; path: string }[] = [
  {
    name: 'hostname outside the zone',
    edit: ['hostname: control.davidcockson.com', 'hostname: control.example.org'],
    path: 'cloudflare.hostnames.0.hostname',
  },
  { name: 'invalid CIDR', edit: ['sources: [0.0.0.0/0]', 'sources: [10.0.0.0/33]'], path: 'hosts.contabo.firewall.inbound.0.sources.0' },
  { name: 'invalid port range', edit: ['ports: "32400"', 'ports: "32400-80"'], path: 'hosts.prod-services.firewall.inbound.2.ports' },
  {
    name: 'bucket name AWS rejects',
    edit: ['name: davidcockson-artifacts', 'name: Davidcockson_Artifacts'],
    path: 'aws.buckets.artifacts.name',
  },
];

describe('stacks/main.ts on a model it cannot express', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'stacks-main-'));
  const results = new Map<string, { res: Result; file: string; out: string; line: number }>();

  beforeAll(async () => {
    await Promise.all(
      BAD.map(async (b) => {
        const text = example.replace(b.edit[0], b.edit[1]);
        expect(text).not.toBe(example);
        const file = join(tmp, `${b.name.replace(/\W+/g, '-')}.yaml`);
        writeFileSync(file, text);
        const out = join(tmp, `${b.name.replace(/\W+/g, '-')}.out`);
        results.set(b.name, { res: await app({ PLATFORM_MODEL: file, CDKTF_OUTDIR: out }), file, out, line: lineOf(text, b.edit[1]) });
      }),
    );
  });

  for (const b of BAD) {
    it(`exits non-zero with the located error, writing nothing: ${b.name}`, () => {
      const r = results.get(b.name)!;
      expect(r.res.code).toBe(1);
      expect(r.res.stderr).toContain('MODEL_INVALID');
      expect(r.res.stderr).toMatch(
        new RegExp(`${r.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${r.line}:\\d+ ${b.path.replace(/\./g, '\\.')}: `),
      );
      expect(r.res.stderr).toContain('fix: ');
      expect(existsSync(r.out)).toBe(false);
    });
  }
});

describe('stacks/main.ts on a valid model', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'stacks-main-')), 'cdktf.out');
  // Credentials as they would be in the environment at deploy time: none may reach cdktf.out.
  const CANARIES = {
    AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYCANARY0001',
    CLOUDFLARE_API_TOKEN: 'cfCanaryToken0123456789abcdefABCDEF0001',
    INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET: 'infisicalCanarySecret0123456789abcdef01',
    GRAFANA_AUTH: 'glsa_CanaryGrafanaToken0123456789abcdef_0001',
    TF_VAR_discord_webhook_url: 'https://discord.com/api/webhooks/123456789/CanaryWebhookPath0001',
  };
  let res: Result;

  beforeAll(async () => {
    res = await app({ PLATFORM_MODEL: MODELS.alt, CDKTF_OUTDIR: out, ...CANARIES });
  });

  it('synthesizes all six stacks', () => {
    expect(res.code, res.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { stacks: Record<string, unknown> };
    expect(Object.keys(manifest.stacks).sort()).toEqual(['bootstrap', 'edge', 'hosts', 'identities', 'observability', 'storage']);
  });

  it('carries every generated dashboard into the observability stack', () => {
    const dir = join(ROOT, 'generated/grafana/dashboards');
    const expected = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).length : 0;
    const tf = JSON.parse(readFileSync(join(out, 'stacks/observability/cdk.tf.json'), 'utf8')) as {
      resource?: { grafana_dashboard?: Record<string, unknown> };
    };
    expect(Object.keys(tf.resource?.grafana_dashboard ?? {})).toHaveLength(expected);
  });

  it('writes stacks Terraform can read: no unresolvable template sequence, nothing the provider schemas refuse', () => {
    const functions = cdktfFunctions();
    const problems: string[] = [];
    for (const stack of ['bootstrap', 'edge', 'hosts', 'identities', 'observability', 'storage']) {
      const tf = JSON.parse(readFileSync(join(out, 'stacks', stack, 'cdk.tf.json'), 'utf8')) as TfJson;
      problems.push(...stackTemplateFindings(tf, functions).map((f) => formatFinding(stack, f)));
      problems.push(...checkStack(tf).problems.map((p) => `${stack}: ${p}`));
    }
    expect(problems).toEqual([]);
  });

  it('writes no credential from the environment and nothing secret-looking', () => {
    const problems: string[] = [];
    for (const f of files(out)) {
      const text = readFileSync(f, 'utf8');
      for (const [name, value] of Object.entries(CANARIES)) if (text.includes(value)) problems.push(`${f}: contains $${name}`);
      if (f.endsWith('.json')) problems.push(...secretFindings(JSON.parse(text), f));
    }
    expect(problems).toEqual([]);
  });
});
