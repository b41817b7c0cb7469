import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { STACK_ORDER } from '../../stacks/naming.js';
import { tempDir } from '../helpers.js';
import { generatedDashboards, MODELS, strings, synthFile } from './helpers.js';
import { cdktfFunctions, decodeLiteral, scanTemplate, stackTemplateFindings } from './terraform-template.js';

/*
 * The template model of the policy test, held against real Terraform where this machine has it:
 * every literal string of every synthesized stack is handed to `terraform apply` as an output
 * (outputs need no provider, so nothing is downloaded), and what Terraform makes of it must be
 * what decodeLiteral() says. The unescaped dashboards are given to `terraform validate`, which must
 * report exactly the sequences the policy scan reports.
 */

function findTerraform(): string | undefined {
  for (const bin of [process.env.TERRAFORM, 'terraform'].filter((b): b is string => !!b)) {
    const r = spawnSync(bin, ['version'], { encoding: 'utf8', timeout: 30_000 });
    if (r.status === 0) return bin;
  }
  return undefined;
}

const TERRAFORM = findTerraform();
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function workDir(prefix: string): string {
  const d = tempDir(prefix);
  dirs.push(d);
  return d;
}

function terraform(dir: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const cliConfig = join(dir, 'terraformrc');
  writeFileSync(cliConfig, '');
  // No checkpoint call home, no prompts: this talks to nothing but the local files.
  const env = { ...process.env, CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1', TF_INPUT: '0', TF_CLI_CONFIG_FILE: cliConfig };
  const r = spawnSync(TERRAFORM!, args, { cwd: dir, env, encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!TERRAFORM)(`real Terraform (${TERRAFORM ?? 'terraform not found on PATH: skipped'})`, () => {
  for (const [label, file] of Object.entries(MODELS)) {
    it(`decodes every literal string of every ${label} stack as decodeLiteral() does`, () => {
      const s = synthFile(file, { dashboards: 'generated' });
      const literals = [
        ...new Set(
          STACK_ORDER.flatMap((stack) =>
            [
              ...Object.values(s.json[stack].resource ?? {}),
              ...Object.values(s.json[stack].data ?? {}),
              s.json[stack].provider ?? {},
            ].flatMap((v) => strings(v)),
          )
            .map(([, v]) => v)
            .filter((v) => scanTemplate(v).every((p) => p.kind === 'literal')),
        ),
      ];
      expect(literals.some((v) => v.includes('$${datasource}'))).toBe(true);
      const dir = workDir('tf-decode-');
      writeFileSync(
        join(dir, 'main.tf.json'),
        JSON.stringify({ output: Object.fromEntries(literals.map((v, i) => [`s${i}`, { value: v }])) }),
      );
      const init = terraform(dir, ['init', '-input=false', '-no-color']);
      expect(init.status, init.stderr).toBe(0);
      const apply = terraform(dir, ['apply', '-auto-approve', '-input=false', '-no-color']);
      expect(apply.status, apply.stderr).toBe(0);
      const out = terraform(dir, ['output', '-json', '-no-color']);
      expect(out.status, out.stderr).toBe(0);
      const values = JSON.parse(out.stdout) as Record<string, { value: string }>;
      expect(literals.map((_, i) => values[`s${i}`]?.value)).toEqual(literals.map(decodeLiteral));
    });
  }

  it('rejects the unescaped dashboards exactly where the policy scan finds them', () => {
    const s = synthFile(MODELS.example, { dashboards: 'generated' });
    const raw = generatedDashboards(s.platform);
    const dir = workDir('tf-raw-');
    writeFileSync(join(dir, 'main.tf.json'), JSON.stringify({ output: Object.fromEntries(raw.map((d) => [d.name, { value: d.json }])) }));
    expect(terraform(dir, ['init', '-input=false', '-no-color']).status).toBe(0);
    const validate = terraform(dir, ['validate', '-json', '-no-color']);
    const report = JSON.parse(validate.stdout) as { valid: boolean; error_count: number; diagnostics: { summary: string }[] };
    const scanned = stackTemplateFindings(
      { terraform: {}, output: Object.fromEntries(raw.map((d) => [d.name, { value: d.json }])) },
      cdktfFunctions(),
    );
    expect(report.valid).toBe(false);
    expect(new Set(report.diagnostics.map((d) => d.summary))).toEqual(new Set(['Invalid reference']));
    expect(scanned.length).toBeGreaterThan(0);
    expect(report.error_count).toBe(scanned.length);
    // The escaped form, as the stack writes it, validates clean.
    const escaped = Object.values(s.json.observability.resource?.grafana_dashboard ?? {}).map((d) => String(d.config_json));
    writeFileSync(
      join(dir, 'main.tf.json'),
      JSON.stringify({ output: Object.fromEntries(escaped.map((v, i) => [`d${i}`, { value: v }])) }),
    );
    const second = terraform(dir, ['validate', '-json', '-no-color']);
    expect(second.stdout, second.stderr).not.toBe('');
    const clean = JSON.parse(second.stdout) as { valid: boolean; error_count: number };
    expect(clean).toMatchObject({ valid: true, error_count: 0 });
    expect(readFileSync(join(dir, 'main.tf.json'), 'utf8')).toContain('$${datasource}');
  });
});
