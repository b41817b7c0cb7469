import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket/index.js';
import { Fn, Testing, TerraformStack, TerraformVariable } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { GrafanaDashboards } from '../../stacks/constructs/grafana-dashboards.js';
import { StackError } from '../../stacks/errors.js';
import { externalLiteral, literal, policyDocument } from '../../stacks/literal.js';
import { STACK_ORDER } from '../../stacks/naming.js';
import { GrafanaDashboard } from '../../stacks/providers/grafana.js';
import { exampleText } from '../helpers.js';
import { generatedDashboards, MODELS, parse, resources, synthFile, synthPlatform, type TfJson } from './helpers.js';
import { cdktfFunctions, decodeLiteral, formatFinding, scanTemplate, stackTemplateFindings } from './terraform-template.js';

/*
 * Terraform reads every string of the synthesized JSON as a template. Whatever is not a reference
 * it can resolve (a resource, data source, variable, local or module of the stack, or a call CDKTF
 * emits) must not be there: a literal `${` or `%{` has to reach Terraform escaped.
 */

const FUNCTIONS = cdktfFunctions();
const findingsOf = (tf: TfJson, stack = 'test'): string[] => stackTemplateFindings(tf, FUNCTIONS).map((f) => formatFinding(stack, f));

for (const [label, file] of Object.entries(MODELS)) {
  describe(`template sequences (${label} model, with the dashboards it generates)`, () => {
    const s = synthFile(file, { dashboards: 'generated' });

    it('leaves nothing Terraform would read as an unresolvable expression, in any stack', () => {
      const findings = STACK_ORDER.flatMap((stack) => findingsOf(s.json[stack], stack));
      expect(findings).toEqual([]);
    });

    it('hands Grafana each generated dashboard exactly, once Terraform has decoded it', () => {
      const expected = generatedDashboards(s.platform);
      const dashboards = Object.values(resources(s.json.observability, 'grafana_dashboard'));
      expect(expected.length).toBeGreaterThan(0);
      // The generated dashboards use Grafana's own ${datasource} variable: what the escape is for.
      expect(expected.some((d) => d.json.includes('${datasource}'))).toBe(true);
      expect(dashboards.map((d) => decodeLiteral(String(d.config_json)))).toEqual(expected.map((d) => d.json));
    });
  });
}

describe('template sequences in model text', () => {
  it('escapes a model URL carrying ${ and %{ where it enters a provider block', () => {
    const url = 'https://davidcockson.grafana.net/a/${x}/%{y}';
    const s = synthPlatform(parse(exampleText().replace('stackUrl: https://davidcockson.grafana.net', `stackUrl: ${url}`)));
    expect(STACK_ORDER.flatMap((stack) => findingsOf(s.json[stack], stack))).toEqual([]);
    expect(decodeLiteral(String(s.json.observability.provider?.grafana?.[0]?.url))).toBe(url);
  });
});

describe('the template scan itself', () => {
  const synth = (build: (stack: TerraformStack) => void): TfJson => {
    const stack = new TerraformStack(Testing.app(), 'test');
    build(stack);
    return JSON.parse(Testing.synth(stack)) as TfJson;
  };

  it('accepts typed CDKTF references, function calls and escaped sequences', () => {
    const tf = synth((stack) => {
      const bucket = new S3Bucket(stack, 'x', { bucket: 'b' });
      const name = new TerraformVariable(stack, 'name', { type: 'string' });
      new S3Bucket(stack, 'y', { bucket: Fn.lower(name.stringValue), tags: { arn: bucket.arn, mixed: `${bucket.arn}/*` } });
      new GrafanaDashboards(stack, 'd', {
        folderTitle: 't',
        folderUid: 'u',
        dashboards: [{ name: 'a', json: '{"title":"${datasource} %{x}"}' }],
      });
    });
    expect(resources(tf, 'aws_s3_bucket').y).toMatchObject({
      bucket: '${lower(var.name)}',
      tags: { arn: '${aws_s3_bucket.x.arn}', mixed: '${aws_s3_bucket.x.arn}/*' },
    });
    expect(Object.values(resources(tf, 'grafana_dashboard'))[0]?.config_json).toBe('{"title":"$${datasource} %%{x}"}');
    expect(findingsOf(tf)).toEqual([]);
  });

  it('finds a raw ${datasource}, naming the resource address and the attribute', () => {
    const tf = synth((stack) => {
      new GrafanaDashboard(stack, 'raw', { configJson: '{"a":"${datasource}"}' });
    });
    expect(findingsOf(tf, 'observability')).toEqual([
      'observability: grafana_dashboard.raw: config_json: ${datasource}: "datasource" is not a reference: Terraform reads a bare name as a resource type, which must be followed by a resource name',
    ]);
  });

  it('finds directives, undeclared names, unknown functions and nested offenders', () => {
    const tf: TfJson = {
      terraform: { required_providers: { aws: { source: 'hashicorp/aws', version: '1' } } },
      variable: { known: {} },
      resource: {
        aws_s3_bucket: {
          a: {
            bucket: '%{ if true }x%{ endif }',
            tags: { gone: '${aws_s3_bucket.missing.arn}', v: '${var.unknown}', f: '${nosuch(var.known)}', ok: '${upper(var.known)}' },
            list: [{ deep: 'a ${data.aws_region.r.name} b' }],
          },
        },
      },
      output: { o: { value: '${local.none}', description: '${not checked: a literal to Terraform}' } },
      provider: { aws: [{ region: '${each.key}' }] },
    };
    expect(findingsOf(tf)).toEqual([
      'test: aws_s3_bucket.a: bucket: %{ if true }: Terraform reads this as a template directive',
      'test: aws_s3_bucket.a: bucket: %{ endif }: Terraform reads this as a template directive',
      'test: aws_s3_bucket.a: tags.gone: ${aws_s3_bucket.missing.arn}: resource "aws_s3_bucket.missing" is not declared in this stack',
      'test: aws_s3_bucket.a: tags.v: ${var.unknown}: variable "unknown" is not declared in this stack',
      'test: aws_s3_bucket.a: tags.f: ${nosuch(var.known)}: nosuch() is not a Terraform function',
      'test: aws_s3_bucket.a: list.0.deep: ${data.aws_region.r.name}: data source "aws_region.r" is not declared in this stack',
      'test: provider.aws: region: ${each.key}: "each.key" is only each.key/each.value, inside a resource with for_each',
      'test: output.o: value: ${local.none}: local value "none" is not declared in this stack',
    ]);
  });

  it('knows the functions CDKTF emits', () => {
    expect(FUNCTIONS.has('jsonencode')).toBe(true);
    expect(FUNCTIONS.has('lower')).toBe(true);
    expect(FUNCTIONS.has('datasource')).toBe(false);
  });
});

describe('literal()', () => {
  it('decodes back to the exact text, whatever escapes the text already holds', () => {
    for (const text of [
      '${a}',
      '%{b}',
      '$${c}',
      '%%{d}',
      '$$${e}',
      'x $ % { } $',
      '${',
      '%{',
      '$',
      '}${}%{}',
      '{"expr":"${datasource}","v":"$__rate_interval"}',
    ]) {
      expect(decodeLiteral(literal(text)), text).toBe(text);
      expect(
        scanTemplate(literal(text)).every((p) => p.kind === 'literal'),
        text,
      ).toBe(true);
    }
  });

  it('keeps CDKTF references as references while escaping the text around them', () => {
    const stack = new TerraformStack(Testing.app(), 'test');
    const bucket = new S3Bucket(stack, 'b', { bucket: 'b' });
    new S3Bucket(stack, 'c', { bucket: 'c', tags: { t: literal(`\${aws:username} ${bucket.arn}/%{x}`) } });
    const policy = policyDocument({ Resource: [bucket.arn, `${bucket.arn}/home/\${aws:username}/*`] });
    new S3Bucket(stack, 'd', { bucket: 'd', tags: { p: policy } });
    const tf = JSON.parse(Testing.synth(stack)) as TfJson;
    expect(resources(tf, 'aws_s3_bucket').c?.tags).toEqual({ t: '$${aws:username} ${aws_s3_bucket.b.arn}/%%{x}' });
    expect(resources(tf, 'aws_s3_bucket').d?.tags).toEqual({
      p: '{"Resource":["${aws_s3_bucket.b.arn}","${aws_s3_bucket.b.arn}/home/$${aws:username}/*"]}',
    });
    expect(findingsOf(tf)).toEqual([]);
  });

  it('refuses a token marker in text from a file instead of resolving it', () => {
    const stack = new TerraformStack(Testing.app(), 'test');
    const bucket = new S3Bucket(stack, 'b', { bucket: 'b' });
    expect(() => externalLiteral('dashboard "x"', `{"title":"${bucket.arn}"}`)).toThrow(StackError);
    expect(
      () =>
        new GrafanaDashboards(stack, 'd', {
          folderTitle: 't',
          folderUid: 'u',
          dashboards: [{ name: 'x', json: `{"title":"${bucket.arn}"}` }],
        }),
    ).toThrow(/token marker/);
  });
});
