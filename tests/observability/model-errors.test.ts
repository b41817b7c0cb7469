import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePlatform, type Platform, type Problem } from '../../model/index.js';
import { checkObservability } from '../../model/checks/observability.js';
import { ROOT, run } from './helpers.js';
import { problems } from '../model/problems.js';

const BASE = readFileSync(join(ROOT, 'platform.yaml'), 'utf8');

/** platform.yaml with one line replaced; returns the text and where the new value sits (1-based). */
function edit(oldLine: string, newLine: string, value: string): { text: string; line: number; col: number } {
  const lines = BASE.split('\n');
  const i = lines.indexOf(oldLine);
  if (i < 0) throw new Error(`line not found: ${oldLine}`);
  lines[i] = newLine;
  return { text: lines.join('\n'), line: i + 1, col: newLine.indexOf(value) + 1 };
}

function expectOne(text: string, at: { line: number; col: number }, path: string, message: RegExp): Problem {
  const found = problems(text);
  expect(found).toHaveLength(1);
  expect(found[0]).toMatchObject({ file: 'platform.yaml', line: at.line, col: at.col, path });
  expect(found[0]!.message).toMatch(message);
  expect(found[0]!.fix.length).toBeGreaterThan(0);
  return found[0]!;
}

describe('observability model errors are located in platform.yaml', () => {
  it('accepts the example model', () => {
    expect(() => parsePlatform(BASE)).not.toThrow();
  });

  it('a negative minutes threshold', () => {
    const e = edit('    queueStuckMinutes: 30', '    queueStuckMinutes: -5', '-5');
    expectOne(e.text, e, 'observability.alerts.queueStuckMinutes', /at least 1/);
  });

  it('a minutes threshold written with a unit', () => {
    const e = edit('    queueStuckMinutes: 30', '    queueStuckMinutes: "30m"', '"30m"');
    expectOne(e.text, e, 'observability.alerts.queueStuckMinutes', /expected number, found .*"30m"/);
  });

  it('a ratio above 1', () => {
    const e = edit('    jobFailureRatio: 0.25', '    jobFailureRatio: 1.5', '1.5');
    expectOne(e.text, e, 'observability.alerts.jobFailureRatio', /at most 1/);
  });

  it('a ratio written as a percentage', () => {
    const e = edit('    diskFreeRatio: 0.1', '    diskFreeRatio: 10', '10');
    expectOne(e.text, e, 'observability.alerts.diskFreeRatio', /at most 1/);
  });

  it('an unknown threshold key', () => {
    const e = edit('    diskFillHours: 24', '    diskFillHour: 24', 'diskFillHour');
    const p = expectOne(e.text, e, 'observability.alerts.diskFillHour', /unknown key "diskFillHour"/);
    expect(p.fix).toMatch(/did you mean "diskFillHours"/);
  });

  it('a dashboard panel that names a metric outside the catalog', () => {
    const e = edit(
      '      metric: platform_provider_request_duration_seconds',
      '      metric: platform_provider_request_duration_secs',
      'platform_provider',
    );
    const p = expectOne(
      e.text,
      e,
      'observability.extraPanels.0.metric',
      /metric "platform_provider_request_duration_secs" is not in the metric catalog/,
    );
    expect(p.fix).toMatch(/did you mean "platform_provider_request_duration_seconds"/);
  });

  it('a dashboard panel split by a label its metric does not carry, or shown the wrong way', () => {
    const e = edit('      by: [outcome]', '      by: [colour]', 'colour');
    expectOne(e.text, e, 'observability.extraPanels.1.by.0', /has no label "colour"/);
    const f = edit('      show: rate', '      show: p95', 'p95');
    expectOne(f.text, f, 'observability.extraPanels.1.show', /"p95" does not apply to counter platform_chat_streams_total/);
  });

  it('a Grafana endpoint that is not a URL', () => {
    const e = edit(
      '      url: https://logs-prod-012.grafana.net/loki/api/v1/push',
      '      url: logs-prod-012.grafana.net/loki/api/v1/push',
      'logs-prod',
    );
    expectOne(e.text, e, 'observability.grafanaCloud.loki.url', /http\(s\) URL/);
  });

  it('a Loki URL that is not the push endpoint, and a Tempo URL with a path', () => {
    const e = edit(
      '      url: https://logs-prod-012.grafana.net/loki/api/v1/push',
      '      url: https://logs-prod-012.grafana.net',
      'https',
    );
    expectOne(e.text, e, 'observability.grafanaCloud.loki.url', /must be the push endpoint, ending in "\/loki\/api\/v1\/push"/);
    const t = edit(
      '      url: https://tempo-prod-10-prod-eu-west-2.grafana.net:443',
      '      url: https://tempo-prod-10-prod-eu-west-2.grafana.net:443/otlp',
      'https',
    );
    expectOne(t.text, t, 'observability.grafanaCloud.tempo.url', /takes no path/);
  });

  it('an Alloy container without the Grafana Cloud tokens', () => {
    const e = edit(
      '    secrets: [GRAFANA_CLOUD_LOGS_TOKEN, GRAFANA_CLOUD_METRICS_TOKEN, GRAFANA_CLOUD_TRACES_TOKEN]',
      '    secrets: [GRAFANA_CLOUD_LOGS_TOKEN]',
      'secrets',
    );
    const p = expectOne(
      e.text,
      { line: e.line, col: 5 },
      'services.alloy.secrets',
      /does not get GRAFANA_CLOUD_METRICS_TOKEN, GRAFANA_CLOUD_TRACES_TOKEN/,
    );
    expect(p.fix).toContain('services.alloy.secrets');
  });

  it('make render fails with platform.yaml:LINE:COL and writes nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'render-'));
    const e = edit('    jobFailureRatio: 0.25', '    jobFailureRatio: 2', '2');
    writeFileSync(join(dir, 'platform.yaml'), e.text);
    copyFileSync(join(ROOT, 'platform.yaml'), join(dir, 'good.yaml'));
    const r = run(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'render/cli.ts'), '--out', 'out'], dir);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^platform\\.yaml:${e.line}:${e.col} observability\\.alerts\\.jobFailureRatio: .*at most 1`, 'm'));
    expect(() => readFileSync(join(dir, 'out/alerts/rules.yml'))).toThrow();
  });

  it('a runtime host whose Alloy runs outside compose and cannot reach an unpublished metrics port', () => {
    const p = structuredClone(parsePlatform(BASE)) as Platform;
    delete (p.services as Record<string, unknown>).alloy;
    p.hosts.contabo!.hostServices.alloy = { kind: 'alloy' };
    expect(checkObservability(p)).toEqual([
      expect.objectContaining({
        path: ['services', 'worker', 'ports'],
        message: expect.stringMatching(/cannot reach the worker's metrics port 9464/),
      }),
    ]);
    p.services.worker!.publish.push({ port: 9464, hostPort: 9464, hostIp: '127.0.0.1' });
    expect(checkObservability(p)).toEqual([]);
    p.services.worker!.ports.splice(0);
    expect(checkObservability(p)).toEqual([expect.objectContaining({ message: expect.stringMatching(/no port named "metrics"/) })]);
  });
});
