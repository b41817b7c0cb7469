import { COMMON_LABELS, METRICS, type Metric } from '@platform/contract';
import type { Platform } from '../schema.js';
import { oneOf } from '../suggest.js';
import { alloyHosts, runtimeHost, servicePort } from '../views.js';
import { dupes, problems, type RawProblem } from './problems.js';

/*
 * Observability checks a schema cannot express: extra dashboard panels against the metric catalog,
 * Grafana Cloud endpoint shapes, and the secrets and ports Alloy needs to do its job.
 */

const METRIC_BY_NAME = new Map<string, Metric>(METRICS.map((m) => [m.name, m]));

/** Path each Grafana Cloud push endpoint must end in; Tempo takes a bare host:port for OTLP gRPC. */
const PUSH_PATHS = { loki: '/loki/api/v1/push', prometheus: '/api/prom/push' } as const;

export function checkObservability(p: Platform): RawProblem[] {
  const { list, add } = problems();
  const o = p.observability;

  // ---- Grafana Cloud endpoints
  for (const [name, suffix] of Object.entries(PUSH_PATHS) as Array<[keyof typeof PUSH_PATHS, string]>) {
    const url = new URL(o.grafanaCloud[name].url);
    if (!url.pathname.endsWith(suffix)) {
      add(
        ['observability', 'grafanaCloud', name, 'url'],
        `the ${name} URL must be the push endpoint, ending in "${suffix}"; found path "${url.pathname}"`,
        `copy the push URL from the Grafana Cloud stack's ${name} details, e.g. "${url.origin}${suffix}"`,
      );
    }
  }
  const tempo = new URL(o.grafanaCloud.tempo.url);
  if (tempo.pathname !== '/' && tempo.pathname !== '') {
    add(
      ['observability', 'grafanaCloud', 'tempo', 'url'],
      `the Tempo URL is an OTLP gRPC endpoint and takes no path; found path "${tempo.pathname}"`,
      `write "${tempo.protocol}//${tempo.host}${tempo.port ? '' : ':443'}"`,
    );
  }

  // ---- dashboards
  dupes(o.dashboards).forEach((i) =>
    add(['observability', 'dashboards', i], `dashboard "${o.dashboards[i]}" is listed twice`, 'list each dashboard once'),
  );
  o.extraPanels.forEach((panel, i) => {
    const at = ['observability', 'extraPanels', i];
    if (!o.dashboards.includes(panel.dashboard)) {
      add(
        [...at, 'dashboard'],
        `panel "${panel.title}" goes on dashboard "${panel.dashboard}", which is not rendered`,
        oneOf(panel.dashboard, o.dashboards),
      );
    }
    const m = METRIC_BY_NAME.get(panel.metric);
    if (!m) {
      add(
        [...at, 'metric'],
        `metric "${panel.metric}" is not in the metric catalog`,
        `${oneOf(
          panel.metric,
          METRICS.map((x) => x.name),
        )}, or add it to METRICS in packages/contract/src/metrics.ts`,
      );
      return;
    }
    const fits = panel.show === 'rate' ? m.type !== 'gauge' : panel.show === 'value' ? m.type === 'gauge' : m.type === 'histogram';
    if (!fits) {
      const ok = m.type === 'gauge' ? '"value"' : m.type === 'counter' ? '"rate"' : '"p50", "p95", "p99" or "rate"';
      add([...at, 'show'], `"${panel.show}" does not apply to ${m.type} ${m.name}`, `use ${ok}`);
    }
    const labels = [...m.labels, ...COMMON_LABELS];
    panel.by.forEach((l, j) => {
      if (!labels.includes(l)) add([...at, 'by', j], `metric ${m.name} has no label "${l}"`, oneOf(l, labels));
    });
  });

  // ---- Alloy: containers get their tokens only through the secrets the model lists
  const tokens = [o.grafanaCloud.loki.tokenSecret, o.grafanaCloud.prometheus.tokenSecret, o.grafanaCloud.tempo.tokenSecret];
  for (const [name, s] of Object.entries(p.services)) {
    if (name !== 'alloy' || !alloyHosts(p).includes(s.host)) continue;
    const missing = tokens.filter((t) => !s.secrets.includes(t));
    if (missing.length) {
      add(
        ['services', name, 'secrets'],
        `Alloy on "${s.host}" pushes to Grafana Cloud but does not get ${missing.join(', ')}`,
        `add ${missing.map((t) => `"${t}"`).join(', ')} to services.${name}.secrets`,
        true,
      );
    }
  }
  const worker = p.services.worker;
  const rt = runtimeHost(p);
  if (worker && alloyHosts(p).includes(rt)) {
    const port = servicePort(worker, 'metrics');
    const alloyInCompose = p.services.alloy?.host === rt;
    if (port === undefined) {
      add(
        ['services', 'worker', 'ports'],
        'the worker has no port named "metrics", so Alloy cannot scrape the runtime\'s metrics',
        'add { name: metrics, port: 9464 } to services.worker.ports',
        true,
      );
    } else if (!alloyInCompose && !worker.publish.some((x) => x.port === port)) {
      add(
        ['services', 'worker', 'ports'],
        `Alloy runs on "${rt}" outside compose and cannot reach the worker's metrics port ${port}, which is not published`,
        `publish it on loopback: publish: [{ port: ${port}, hostPort: ${port} }]`,
        true,
      );
    }
  }
  return list;
}
