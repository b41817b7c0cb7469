import { describe, expect, it } from 'vitest';
import { dashboardUid } from '../../dashboards/build.js';
import { dashboardsGenerator } from '../../dashboards/generate.js';
import { dashboardSpecs, extraPanel } from '../../dashboards/specs.js';
import { platform } from './helpers.js';

interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: GridPos;
  datasource?: { type: string; uid: string };
  targets?: Array<{ expr: string; refId: string }>;
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: unknown }> };
}

const p = platform();
const artifacts = dashboardsGenerator.generate(p);
const dashboards = artifacts.map((a) => ({ path: a.path, d: JSON.parse(a.content) as Dashboard }));

describe('dashboards', () => {
  it('renders jobs, providers, hosts and retrieval', () => {
    expect(artifacts.map((a) => a.path)).toEqual(['jobs', 'providers', 'hosts', 'retrieval'].map((n) => `grafana/dashboards/${n}.json`));
  });

  it('is deterministic, with stable uids derived from names', () => {
    expect(dashboardsGenerator.generate(p)).toEqual(artifacts);
    const uids = dashboards.map(({ d }) => d.uid);
    expect(new Set(uids).size).toBe(uids.length);
    for (const { d, path } of dashboards) {
      const name = path.split('/').pop()!.replace('.json', '');
      expect(d.uid).toBe(dashboardUid(p.name, name));
      expect(d.uid.length).toBeLessThanOrEqual(40);
      expect(d.uid).toMatch(/^[a-zA-Z0-9_-]+$/);
    }
  });

  it.each(dashboards.map(({ path, d }) => [path, d] as const))('%s: unique panel ids, valid non-overlapping gridPos', (_, d) => {
    const ids = d.panels.map((x) => x.id);
    expect(ids.every((id) => Number.isInteger(id) && id > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const x of d.panels) {
      const g = x.gridPos;
      expect(g.w, x.title).toBeGreaterThan(0);
      expect(g.h, x.title).toBeGreaterThan(0);
      expect(g.x, x.title).toBeGreaterThanOrEqual(0);
      expect(g.y, x.title).toBeGreaterThanOrEqual(0);
      expect(g.x + g.w, x.title).toBeLessThanOrEqual(24);
    }
    for (let i = 0; i < d.panels.length; i++) {
      for (let j = i + 1; j < d.panels.length; j++) {
        const a = d.panels[i]!.gridPos;
        const b = d.panels[j]!.gridPos;
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        expect(overlap, `${d.panels[i]!.title} overlaps ${d.panels[j]!.title}`).toBe(false);
      }
    }
  });

  it.each(dashboards.map(({ path, d }) => [path, d] as const))(
    '%s: declares every variable it uses, and queries the datasource variable',
    (_, d) => {
      const declared = new Set(d.templating.list.map((v) => v.name));
      expect(d.templating.list[0]).toMatchObject({ name: 'datasource', type: 'datasource', query: 'prometheus' });
      const builtIn = new Set(['__rate_interval', '__interval', '__range', '__all']);
      for (const x of d.panels) {
        if (x.type === 'row') continue;
        expect(x.datasource, x.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
        const refIds = (x.targets ?? []).map((t) => t.refId);
        expect(new Set(refIds).size, x.title).toBe(refIds.length);
        expect(refIds.length, x.title).toBeGreaterThan(0);
        const text = JSON.stringify(x);
        for (const m of text.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) {
          if (!builtIn.has(m[1]!)) expect(declared.has(m[1]!), `${x.title} uses $${m[1]}`).toBe(true);
        }
      }
    },
  );

  it('has host and model variables from the model', () => {
    const hostVar = dashboards.find(({ path }) => path.endsWith('hosts.json'))!.d.templating.list.find((v) => v.name === 'host');
    expect(hostVar).toMatchObject({ type: 'custom', query: 'contabo,prod-services,dev-learning,davas' });
    const modelVar = dashboards.find(({ path }) => path.endsWith('providers.json'))!.d.templating.list.find((v) => v.name === 'model');
    expect(modelVar?.query).toBe(p.routing.models.map((m) => m.id).join(','));
  });

  it('shows a row per host in the Hosts dashboard, with container restarts on Docker hosts', () => {
    const hosts = dashboards.find(({ path }) => path.endsWith('hosts.json'))!.d;
    const rows = hosts.panels.filter((x) => x.type === 'row').map((x) => x.title.split(':')[0]);
    expect(rows).toEqual(['All hosts', 'contabo', 'prod-services', 'dev-learning', 'davas']);
    const restarts = hosts.panels.filter((x) => x.title === 'Container restarts (1h)');
    expect(restarts).toHaveLength(3);
  });

  it("appends the operator's extra panels from platform.yaml", () => {
    for (const name of ['providers', 'jobs'] as const) {
      const spec = dashboardSpecs(p).find((s) => s.name === name)!;
      const extra = p.observability.extraPanels.filter((x) => x.dashboard === name);
      expect(extra.length).toBeGreaterThan(0);
      expect(spec.rows.at(-1)!.panels.map((x) => x.title)).toEqual(extra.map((x) => x.title));
    }
    expect(
      extraPanel({ dashboard: 'jobs', title: 't', metric: 'platform_job_duration_seconds', show: 'p99', by: ['type'] }).targets[0]!.expr,
    ).toBe('histogram_quantile(0.99, sum by (le, type) (rate(platform_job_duration_seconds_bucket[$__rate_interval])))');
  });
});
