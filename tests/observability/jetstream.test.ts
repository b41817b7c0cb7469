import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { alertsGenerator } from '../../alerts/generate.js';
import { alertRules } from '../../alerts/rules.js';
import { ALLOY_COMPONENTS, alloyGenerator } from '../../alloy/config.js';
import { dashboardsGenerator } from '../../dashboards/generate.js';
import { catalogSeries, COMMON_LABELS, METRICS, metricOfSeries } from '@platform/contract';
import { edit } from '../helpers.js';
import { jetstreamPlatform, jetstreamText } from '../helpers/jetstream.js';
import { GO_BUILD_TIMEOUT, goTools, run, selectors, writeArtifacts } from './helpers.js';

const p = jetstreamPlatform();
const withStuckMinutes = (m: number) =>
  jetstreamPlatform(edit(jetstreamText(), '    hostAbsentMinutes: 10\n', `    hostAbsentMinutes: 10\n    consumerStuckMinutes: ${m}\n`));

describe('JetStream metrics in the catalog', () => {
  it("names the exporter's JetStream series, in their own block at the end", () => {
    const js = METRICS.filter((m) => m.source === 'nats_exporter');
    expect(js.map((m) => m.name)).toEqual([
      'jetstream_stream_total_messages',
      'jetstream_stream_total_bytes',
      'jetstream_consumer_num_pending',
      'jetstream_consumer_num_ack_pending',
      'jetstream_consumer_num_redelivered',
      'jetstream_consumer_num_waiting',
      'jetstream_consumer_delivered_consumer_seq',
      'jetstream_consumer_ack_floor_consumer_seq',
    ]);
    const first = METRICS.findIndex((m) => m.source === 'nats_exporter');
    expect(METRICS.slice(first, first + js.length).every((m) => m.source === 'nats_exporter')).toBe(true);
    for (const m of js) {
      expect(m.type, m.name).toBe('gauge');
      expect(m.labels, m.name).toEqual(expect.arrayContaining(['stream_name', 'account', 'server_name']));
      if (m.name.startsWith('jetstream_consumer_')) expect(m.labels, m.name).toContain('consumer_name');
    }
  });

  it('the stuck-consumer rule queries only catalog series, with labels they carry', () => {
    const series = catalogSeries();
    const rule = alertRules(p).find((r) => r.alert === 'JetStreamConsumerStuck')!;
    const used = selectors(rule.expr);
    expect(used.map((s) => s.name).sort()).toEqual([
      'jetstream_consumer_ack_floor_consumer_seq',
      'jetstream_consumer_delivered_consumer_seq',
      'jetstream_consumer_num_pending',
    ]);
    for (const s of used) {
      expect(series.has(s.name), s.name).toBe(true);
      const m = metricOfSeries(s.name)!;
      for (const l of s.labels) expect([...m.labels, ...COMMON_LABELS], `${s.name} ${l}`).toContain(l);
    }
  });
});

describe('the stuck-consumer alert', () => {
  const artifacts = alertsGenerator.generate(p);
  const content = (path: string): string => artifacts.find((a) => a.path === path)!.content;

  it('exists only with the jetstream backend, in its own group, with a runbook', () => {
    const rules = parse(content('alerts/rules.yml')) as { groups: Array<{ name: string; rules: Array<{ alert: string; for: string }> }> };
    const queue = rules.groups.find((g) => g.name === 'platform-queue')!;
    expect(queue.rules.map((r) => [r.alert, r.for])).toEqual([['JetStreamConsumerStuck', '5m']]);
    expect(content('docs/runbooks.md')).toContain('\n## JetStreamConsumerStuck\n');
    const folder = jetstreamPlatform(edit(jetstreamText(), 'backend: jetstream', 'backend: folder'));
    expect(alertRules(folder).some((r) => r.alert === 'JetStreamConsumerStuck')).toBe(false);
  });

  it('takes its window from the model', () => {
    expect(alertRules(withStuckMinutes(45)).find((r) => r.alert === 'JetStreamConsumerStuck')!.expr).toContain('[45m]');
  });

  describe('checked by promtool', () => {
    let dir: string;
    beforeAll(() => {
      dir = writeArtifacts(artifacts);
    });

    it('promtool check rules accepts every rule of the jetstream variant', () => {
      const r = run('promtool', ['check', 'rules', join(dir, 'alerts/rules.yml')]);
      expect(r.stdout + r.stderr).toContain('SUCCESS');
      expect(r.status).toBe(0);
    });

    it('promtool test rules: the alert fires on a consumer with jobs waiting and nothing moving, not on a moving or an idle one', () => {
      const tests = artifacts.filter((a) => a.path.startsWith('alerts/tests/')).map((a) => join(dir, a.path));
      expect(tests.map((t) => t.split('/').pop()).sort()).toEqual([
        'platform-hosts.yml',
        'platform-jobs.yml',
        'platform-providers.yml',
        'platform-queue.yml',
      ]);
      const r = run('promtool', ['test', 'rules', ...tests]);
      expect(r.stdout + r.stderr).not.toContain('FAILED');
      expect(r.status).toBe(0);
    });

    it('the unit tests bite: a rule for a longer window does not fire where the tests expect it', () => {
      const other = writeArtifacts(alertsGenerator.generate(withStuckMinutes(120)));
      writeFileSync(join(other, 'alerts/tests/platform-queue.yml'), content('alerts/tests/platform-queue.yml'));
      const r = run('promtool', ['test', 'rules', join(other, 'alerts/tests/platform-queue.yml')]);
      expect(r.status).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/JetStreamConsumerStuck: fires/);
    });
  });
});

describe('Alloy scrapes the NATS exporters and the workers', () => {
  const artifacts = alloyGenerator.generate(p);
  const byHost = new Map(artifacts.map((a) => [a.path.split('/')[1]!, a.content]));

  it('on each NATS server host, by service name in compose or through loopback from the host', () => {
    expect(byHost.get('contabo')).toContain('__address__ = "nats-exporter:7777"');
    for (const h of ['prod-services', 'dev-learning']) {
      const text = byHost.get(h)!;
      expect(text, h).toContain('prometheus.scrape "nats"');
      expect(text, h).toContain('__address__ = "127.0.0.1:7777"');
      expect(text, h).toContain('job_name        = "nats"');
    }
    expect(byHost.get('davas')).not.toContain('prometheus.scrape "nats"');
  });

  it("the gateway on the runtime host and davas's worker", () => {
    expect(byHost.get('contabo')).toContain('__address__ = "gateway:9464"');
    const davas = byHost.get('davas')!;
    expect(davas).toContain('__address__ = "127.0.0.1:9464"');
    // davas now runs a container: its logs come from Docker.
    expect(davas).toContain('discovery.docker "containers"');
  });

  describe("parsed by Alloy's own parser", () => {
    let alloyCheck: string;
    let dir: string;
    beforeAll(() => {
      alloyCheck = goTools().alloyCheck;
      dir = writeArtifacts(artifacts);
    }, GO_BUILD_TIMEOUT);

    it("accepts every config of the jetstream variant, with the generator's allow-list", () => {
      const files = artifacts.map((a) => join(dir, a.path));
      const r = run(alloyCheck, ['-allow', ALLOY_COMPONENTS.join(','), ...files]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    });
  });
});

describe('the Jobs dashboard', () => {
  type Dashboard = { panels: Array<{ type: string; title: string; targets?: Array<{ expr: string }> }> };
  const jobs = (platform: typeof p): Dashboard =>
    JSON.parse(dashboardsGenerator.generate(platform).find((a) => a.path.endsWith('/jobs.json'))!.content) as Dashboard;

  it('gains a JetStream row of catalog queries with the jetstream backend, and only then', () => {
    const d = jobs(p);
    const row = d.panels.findIndex((x) => x.type === 'row' && x.title === 'JetStream streams and consumers (NATS)');
    expect(row).toBeGreaterThan(0);
    const next = d.panels.findIndex((x, i) => i > row && x.type === 'row');
    const panels = d.panels.slice(row + 1, next < 0 ? undefined : next);
    expect(panels.map((x) => x.title)).toEqual([
      'Jobs waiting per group',
      'Jobs running per group (not acked yet)',
      'Jobs redelivered per group',
      'Messages stored per stream',
      'Idle workers waiting per group',
    ]);
    const series = catalogSeries();
    for (const x of panels)
      for (const t of x.targets ?? [])
        for (const sel of selectors(t.expr)) {
          expect(series.has(sel.name), `${x.title}: ${sel.name}`).toBe(true);
          expect(metricOfSeries(sel.name)!.source, sel.name).toBe('nats_exporter');
        }
    const folder = jobs(jetstreamPlatform(edit(jetstreamText(), 'backend: jetstream', 'backend: folder')));
    expect(folder.panels.some((x) => x.title.startsWith('JetStream streams'))).toBe(false);
  });
});
