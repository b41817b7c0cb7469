import { metrics as otelMetrics, type Attributes, type Counter, type Gauge, type Histogram, type Meter } from '@opentelemetry/api';
import { METRICS, type Metric } from '@platform/contract';

/*
 * The runtime's instruments, created from the metric catalog (runtime-sourced entries only).
 * Each value goes to OpenTelemetry (exported over OTLP when telemetry is on) and to a small
 * in-process mirror that renders Prometheus text for `/metrics` and lets tests read values.
 *
 * Counters are created with the catalog name minus `_total`: the OTLP-to-Prometheus
 * translation appends `_total` again. No unit is set on instruments, since the translation
 * would append unit suffixes (`_ratio`, `_requests`) that the catalog names already settle.
 */

type RuntimeMetric = Extract<(typeof METRICS)[number], { source: 'runtime' }>;
export type CounterName = Extract<RuntimeMetric, { type: 'counter' }>['name'];
export type HistogramName = Extract<RuntimeMetric, { type: 'histogram' }>['name'];
export type GaugeName = Extract<RuntimeMetric, { type: 'gauge' }>['name'];
export type Labels = Record<string, string>;

interface Series {
  labels: Labels;
  value: number;
  /** Histograms: count per bucket upper bound (not cumulative), then sum and count. */
  buckets?: number[];
  sum?: number;
  count?: number;
}

export interface Metrics {
  add(name: CounterName, value: number, labels: Labels): void;
  record(name: HistogramName, value: number, labels: Labels): void;
  set(name: GaugeName, value: number, labels: Labels): void;
  /** Current value of a counter or gauge series (histograms: observation count); for tests and health. */
  value(name: CounterName | GaugeName | HistogramName, labels: Labels): number | undefined;
  /** Prometheus text exposition of every series recorded so far. */
  renderPrometheus(): string;
}

export const RUNTIME_METRICS: readonly Metric[] = METRICS.filter((m) => m.source === 'runtime');

/** The name the instrument is created with, so that it lands in Prometheus as the catalog name. */
export function otelInstrumentName(m: Metric): string {
  return m.type === 'counter' ? m.name.replace(/_total$/, '') : m.name;
}

function key(labels: Labels): string {
  return JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((k) => [k, labels[k]]),
  );
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function fmtLabels(labels: Labels, extra?: [string, string]): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

export function createMetrics(meter: Meter = otelMetrics.getMeter('platform-runtime')): Metrics {
  const defs = new Map<string, Metric>(RUNTIME_METRICS.map((m) => [m.name, m]));
  const counters = new Map<string, Counter>();
  const histograms = new Map<string, Histogram>();
  const gauges = new Map<string, Gauge>();
  for (const m of RUNTIME_METRICS) {
    const name = otelInstrumentName(m);
    if (m.type === 'counter') counters.set(m.name, meter.createCounter(name, { description: m.help }));
    else if (m.type === 'histogram') {
      histograms.set(
        m.name,
        meter.createHistogram(name, {
          description: m.help,
          ...(m.buckets ? { advice: { explicitBucketBoundaries: [...m.buckets] } } : {}),
        }),
      );
    } else gauges.set(m.name, meter.createGauge(name, { description: m.help }));
  }
  const mirror = new Map<string, Map<string, Series>>();

  // Keep exactly the catalog's labels, so no series carries a label a dashboard does not know.
  const labelsFor = (m: Metric, labels: Labels): Labels => {
    const out: Labels = {};
    for (const l of m.labels) out[l] = labels[l] ?? '';
    return out;
  };
  const seriesOf = (name: string, labels: Labels): Series => {
    let byKey = mirror.get(name);
    if (!byKey) mirror.set(name, (byKey = new Map()));
    const k = key(labels);
    let s = byKey.get(k);
    if (!s) byKey.set(k, (s = { labels, value: 0 }));
    return s;
  };

  return {
    add(name, value, labels) {
      const m = defs.get(name)!;
      const l = labelsFor(m, labels);
      counters.get(name)?.add(value, l as Attributes);
      seriesOf(name, l).value += value;
    },
    record(name, value, labels) {
      const m = defs.get(name)!;
      const l = labelsFor(m, labels);
      histograms.get(name)?.record(value, l as Attributes);
      const s = seriesOf(name, l);
      const bounds = m.buckets ?? [];
      s.buckets ??= new Array<number>(bounds.length).fill(0);
      const i = bounds.findIndex((b) => value <= b);
      if (i >= 0) s.buckets[i] = (s.buckets[i] ?? 0) + 1;
      s.sum = (s.sum ?? 0) + value;
      s.count = (s.count ?? 0) + 1;
    },
    set(name, value, labels) {
      const m = defs.get(name)!;
      const l = labelsFor(m, labels);
      gauges.get(name)?.record(value, l as Attributes);
      seriesOf(name, l).value = value;
    },
    value(name, labels) {
      const m = defs.get(name)!;
      const s = mirror.get(name)?.get(key(labelsFor(m, labels)));
      if (!s) return undefined;
      return m.type === 'histogram' ? s.count : s.value;
    },
    renderPrometheus() {
      const lines: string[] = [];
      for (const m of RUNTIME_METRICS) {
        const series = mirror.get(m.name);
        if (!series || series.size === 0) continue;
        lines.push(`# HELP ${m.name} ${m.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
        lines.push(`# TYPE ${m.name} ${m.type}`);
        for (const s of series.values()) {
          if (m.type !== 'histogram') {
            lines.push(`${m.name}${fmtLabels(s.labels)} ${s.value}`);
            continue;
          }
          let cumulative = 0;
          (m.buckets ?? []).forEach((b, i) => {
            cumulative += s.buckets?.[i] ?? 0;
            lines.push(`${m.name}_bucket${fmtLabels(s.labels, ['le', String(b)])} ${cumulative}`);
          });
          lines.push(`${m.name}_bucket${fmtLabels(s.labels, ['le', '+Inf'])} ${s.count ?? 0}`);
          lines.push(`${m.name}_sum${fmtLabels(s.labels)} ${s.sum ?? 0}`);
          lines.push(`${m.name}_count${fmtLabels(s.labels)} ${s.count ?? 0}`);
        }
      }
      return lines.length ? `${lines.join('\n')}\n` : '';
    },
  };
}
