import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { attr, block, comment, env, expr, quote, ref, render, value } from '../../alloy/syntax.js';
import { GO_BUILD_TIMEOUT, goTools, run } from './helpers.js';

describe('alloy syntax writer', () => {
  it('quotes strings with Go escapes', () => {
    expect(quote('plain')).toBe('"plain"');
    expect(quote('say "hi"')).toBe('"say \\"hi\\""');
    expect(quote('C:\\path\\n')).toBe('"C:\\\\path\\\\n"');
    expect(quote('line1\nline2\r\tend')).toBe('"line1\\nline2\\r\\tend"');
    expect(quote('bell\u0007 del\u007f c1\u0085')).toBe('"bell\\u0007 del\\u007f c1\\u0085"');
    expect(quote('café ✓ 日本 🚀 \u2028')).toBe('"café ✓ 日本 🚀 \u2028"');
    expect(quote('')).toBe('""');
  });

  it('refuses a lone surrogate, which has no UTF-8 form', () => {
    expect(() => quote('bad \ud800 half')).toThrow(/lone surrogate/);
  });

  it('writes values: scalars, expressions, arrays and objects', () => {
    expect(value(null)).toBe('null');
    expect(value(true)).toBe('true');
    expect(value(30)).toBe('30');
    expect(value(1.5)).toBe('1.5');
    expect(() => value(Number.NaN)).toThrow(/no Alloy form/);
    expect(value(expr('discovery.docker.x.targets'))).toBe('discovery.docker.x.targets');
    expect(value(env('GRAFANA_CLOUD_LOGS_TOKEN'))).toBe('sys.env("GRAFANA_CLOUD_LOGS_TOKEN")');
    expect(value([])).toBe('[]');
    expect(value(['a', 1, ref('loki.write', 'cloud', 'receiver')])).toBe('["a", 1, loki.write.cloud.receiver]');
    expect(value({})).toBe('{}');
    expect(value({ host: 'a', 'platform.service': 'web', __address__: 'x:1' })).toBe(
      '{\n  host               = "a",\n  "platform.service" = "web",\n  __address__        = "x:1",\n}',
    );
  });

  it('breaks long or nested arrays over lines', () => {
    const long = Array.from({ length: 12 }, (_, i) => `item-number-${i}`);
    expect(value(long).split('\n')).toHaveLength(14);
    expect(value([{ a: 1 }])).toBe('[\n  {\n    a = 1,\n  },\n]');
  });

  it('renders blocks with labels, nested blocks, aligned attributes and comments', () => {
    const text = render([
      comment('header\nsecond line'),
      block('prometheus.scrape', 'node', [
        attr('targets', ref('prometheus.exporter.unix', 'node', 'targets')),
        attr('scrape_interval', '30s'),
      ]),
      block('loki.write', 'cloud', [
        block('endpoint', undefined, [attr('url', 'https://x/loki/api/v1/push')]),
        attr('external_labels', { host: 'h' }),
      ]),
      block('otelcol.processor.batch', 'default', []),
    ]);
    expect(text).toBe(
      [
        '// header',
        '// second line',
        'prometheus.scrape "node" {',
        '  targets         = prometheus.exporter.unix.node.targets',
        '  scrape_interval = "30s"',
        '}',
        '',
        'loki.write "cloud" {',
        '  endpoint {',
        '    url = "https://x/loki/api/v1/push"',
        '  }',
        '',
        '  external_labels = {',
        '    host = "h",',
        '  }',
        '}',
        '',
        'otelcol.processor.batch "default" { }',
        '',
      ].join('\n'),
    );
  });

  it('refuses names that are not identifiers', () => {
    expect(() => block('prometheus.scrape', 'has-dash', [])).toThrow(/label/);
    expect(() => block('bad name', undefined, [])).toThrow(/block name/);
    expect(() => attr('1x', 1)).toThrow(/attribute name/);
    expect(() => ref('loki.write', 'cloud', 'not valid')).toThrow(/identifier/);
  });
});

describe("alloy syntax writer against Alloy's own parser", () => {
  let alloyCheck: string;
  beforeAll(() => {
    alloyCheck = goTools().alloyCheck;
  }, GO_BUILD_TIMEOUT);

  it('round-trips tricky strings exactly', () => {
    const strings = [
      'say "hi"',
      'back\\slash',
      'multi\nline\r\n\ttab',
      'unicode café ✓ 日本 🚀',
      'ctrl \u0001\u001f\u007f\u0085',
      '${not_interpolated}',
      '\u2028\u2029',
    ];
    const file = join(mkdtempSync(join(tmpdir(), 'alloy-')), 'roundtrip.alloy');
    writeFileSync(
      file,
      render([
        block(
          'loki.write',
          'x',
          strings.map((s, i) => attr(`s${i}`, s)),
        ),
      ]),
    );
    const r = run(alloyCheck, ['-strings', file]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const decoded = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as string);
    expect(decoded).toEqual(strings);
  });
});
