import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { alertsGenerator } from '../../alerts/generate.js';
import { dashboardsGenerator } from '../../dashboards/generate.js';
import { gauge, quantile, rate } from '../../dashboards/query.js';
import {
  catalogSeries,
  COMMON_LABELS,
  METRICS,
  MetricSchema,
  metricOfSeries,
  PROVIDER_OUTCOMES,
  re,
  sel,
  type SeriesName,
} from '@platform/contract';
import { platform, selectors } from './helpers.js';

const p = platform();

/** Every PromQL expression the platform ships: dashboard targets and variables, alert rules. */
function allQueries(): Array<{ where: string; expr: string }> {
  const out: Array<{ where: string; expr: string }> = [];
  for (const a of dashboardsGenerator.generate(p)) {
    const d = JSON.parse(a.content) as { panels: Array<{ title: string; targets?: Array<{ expr: string }> }> };
    for (const x of d.panels) for (const t of x.targets ?? []) out.push({ where: `${a.path}: ${x.title}`, expr: t.expr });
  }
  const rules = parse(alertsGenerator.generate(p).find((a) => a.path === 'alerts/rules.yml')!.content) as {
    groups: Array<{ rules: Array<{ alert: string; expr: string }> }>;
  };
  for (const g of rules.groups) for (const r of g.rules) out.push({ where: `rules.yml: ${r.alert}`, expr: r.expr });
  return out;
}

describe('metric catalog', () => {
  it('is well formed: valid entries, unique names, histograms with buckets', () => {
    for (const m of METRICS) expect(() => MetricSchema.parse(m), m.name).not.toThrow();
    const names = METRICS.map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
    for (const m of METRICS) {
      if (m.type === 'histogram') expect('buckets' in m && m.buckets.length > 0, m.name).toBe(true);
      if (m.type === 'counter') expect(m.name.endsWith('_total'), m.name).toBe(true);
      if (m.source === 'runtime') expect(m.name.startsWith('platform_'), m.name).toBe(true);
    }
  });

  it('covers what the platform measures', () => {
    const series = catalogSeries();
    for (const name of [
      'platform_jobs_total',
      'platform_job_duration_seconds_bucket',
      'platform_queue_depth',
      'platform_queue_oldest_age_seconds',
      'platform_provider_requests_total',
      'platform_provider_tokens_total',
      'platform_provider_time_to_first_token_seconds_bucket',
      'platform_provider_up',
      'platform_chat_streams_open',
      'platform_retrieval_duration_seconds_bucket',
      'platform_index_documents',
      'platform_index_last_run_timestamp_seconds',
      'node_cpu_seconds_total',
      'container_start_time_seconds',
      'up',
    ]) {
      expect(series.has(name), name).toBe(true);
    }
    expect(PROVIDER_OUTCOMES).toEqual(expect.arrayContaining(['rate_limited', 'timeout', 'unavailable']));
  });

  it('sel builds selectors and refuses names, labels and values outside the catalog', () => {
    expect(sel('platform_jobs_total', { outcome: 'failed', host: re('$host') })).toBe(
      'platform_jobs_total{outcome="failed", host=~"$host"}',
    );
    expect(sel('platform_job_duration_seconds_bucket', { le: '+Inf' })).toBe('platform_job_duration_seconds_bucket{le="+Inf"}');
    expect(sel('up', { host: 'a"b\\c' })).toBe('up{host="a\\"b\\\\c"}');
    expect(() => sel('platform_jobs' as SeriesName)).toThrow(/not in the catalog/);
    expect(() => sel('platform_queue_depth_bucket' as SeriesName)).toThrow(/not in the catalog/);
    expect(() => sel('platform_jobs_total', { colour: 'red' })).toThrow(/has no label "colour"/);
    expect(() => sel('platform_jobs_total', { outcome: 'exploded' })).toThrow(/never has the value "exploded"/);
    expect(() => sel('platform_jobs_total_bucket' as SeriesName)).toThrow(/not in the catalog/);
    expect(metricOfSeries('platform_jobs_total_count')).toBeUndefined();
  });

  it('query helpers go through the catalog', () => {
    expect(rate('platform_jobs_total', {}, ['outcome'])).toBe('sum by (outcome) (rate(platform_jobs_total[$__rate_interval]))');
    expect(gauge('platform_queue_depth', {}, ['folder'], 'max')).toBe('max by (folder) (platform_queue_depth)');
    expect(() => quantile(0.9, 'platform_queue_depth')).toThrow(/not in the catalog/);
  });

  it('the PromQL parser sees metric names, not functions, keywords or label values', () => {
    expect(
      selectors(
        'sum by (le) (rate(a_bucket{job="x", le=~"1|2"}[5m])) / on(host) group_left b and absent(c) + time() + max_over_time(d[$__range:]) + {__name__="e"}',
      ),
    ).toEqual([
      { name: 'a_bucket', labels: ['job', 'le'] },
      { name: 'b', labels: [] },
      { name: 'c', labels: [] },
      { name: 'd', labels: [] },
      { name: 'e', labels: [] },
    ]);
    expect(() => selectors('sum(rate(x[5m])')).toThrow(/syntax error/);
  });

  it('every metric in a dashboard query or alert expression is in the catalog, with labels it carries', () => {
    const series = catalogSeries();
    const queries = allQueries();
    expect(queries.length).toBeGreaterThan(60);
    const used = new Set<string>();
    for (const q of queries) {
      for (const s of selectors(q.expr)) {
        expect(series.has(s.name), `${q.where}: ${s.name} in ${q.expr}`).toBe(true);
        const m = metricOfSeries(s.name)!;
        const allowed = new Set<string>([...m.labels, ...COMMON_LABELS, ...(s.name.endsWith('_bucket') ? ['le'] : [])]);
        for (const l of s.labels) expect(allowed.has(l), `${q.where}: ${s.name} has no label ${l}`).toBe(true);
        used.add(m.name);
      }
    }
    // Every runtime metric is shown or alerted on somewhere.
    const unused = METRICS.filter((m) => m.source === 'runtime' && !used.has(m.name)).map((m) => m.name);
    expect(unused).toEqual(['platform_provider_retry_after_seconds']);
  });
});
