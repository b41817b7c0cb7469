import { sel, type Matcher, type SeriesName } from '@platform/contract';

/*
 * PromQL for dashboards, built from the metric catalog: every helper goes through `sel`, which
 * refuses a series, label or label value the catalog does not know.
 */

type Matchers = Readonly<Record<string, Matcher>>;

const by = (labels: readonly string[]): string => (labels.length ? ` by (${labels.join(', ')})` : '');

/** Per-second rate of a counter, summed by `labels`. */
export function rate(series: SeriesName, matchers: Matchers = {}, labels: readonly string[] = [], window = '$__rate_interval'): string {
  return `sum${by(labels)} (rate(${sel(series, matchers)}[${window}]))`;
}

/** Increase of a counter over a window, summed by `labels`. */
export function increase(series: SeriesName, matchers: Matchers = {}, labels: readonly string[] = [], window = '$__range'): string {
  return `sum${by(labels)} (increase(${sel(series, matchers)}[${window}]))`;
}

/** A quantile of a histogram, by `labels`. `metric` is the histogram's name, without `_bucket`. */
export function quantile(q: number, metric: SeriesName, matchers: Matchers = {}, labels: readonly string[] = []): string {
  const bucket = `${metric}_bucket` as SeriesName;
  return `histogram_quantile(${q}, sum by (${['le', ...labels].join(', ')}) (rate(${sel(bucket, matchers)}[$__rate_interval])))`;
}

/** A gauge aggregated by `labels`. */
export function gauge(
  series: SeriesName,
  matchers: Matchers = {},
  labels: readonly string[] = [],
  agg: 'sum' | 'max' | 'min' | 'avg' = 'sum',
): string {
  return `${agg}${by(labels)} (${sel(series, matchers)})`;
}
