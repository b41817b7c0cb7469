import { z } from 'zod';
import { PlatformError } from './errors.js';

/*
 * The metric catalog: every metric the platform emits or queries. The runtime creates its
 * instruments from it; dashboards and alert rules build their queries from it. Names are the
 * Prometheus names as they land in Mimir (OTLP counters gain `_total`, units are in the name).
 * Depends on zod only, so the runtime image can carry it.
 */

export const MetricSchema = z.strictObject({
  name: z.string().regex(/^[a-z_:][a-z0-9_:]*$/),
  type: z.enum(['counter', 'gauge', 'histogram']),
  unit: z.enum(['1', 's', 'bytes', 'tokens', 'jobs', 'requests', 'files', 'ratio', 'percent']),
  labels: z.array(z.string()),
  help: z.string().min(1),
  /** Who produces it: the runtime, or an Alloy exporter. */
  source: z.enum(['runtime', 'node_exporter', 'cadvisor', 'alloy']),
  /** Histogram bucket boundaries, in the metric's unit. */
  buckets: z.array(z.number()).optional(),
});
export type Metric = z.infer<typeof MetricSchema>;

const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export const METRICS = [
  // ---- jobs
  { name: 'platform_jobs_total', type: 'counter', unit: 'jobs', labels: ['type', 'outcome'], help: 'Jobs finished, by job type and outcome (completed, failed, duplicate).', source: 'runtime' },
  { name: 'platform_job_duration_seconds', type: 'histogram', unit: 's', labels: ['type', 'outcome'], help: 'Wall time of a job from claim to move.', source: 'runtime', buckets: DURATION_BUCKETS },
  { name: 'platform_queue_depth', type: 'gauge', unit: 'files', labels: ['folder'], help: 'Files in each vault queue folder (queue, active, completed, failed).', source: 'runtime' },
  { name: 'platform_queue_oldest_age_seconds', type: 'gauge', unit: 's', labels: [], help: 'Age of the oldest file waiting in the queue folder, 0 when empty.', source: 'runtime' },
  // ---- providers
  { name: 'platform_provider_requests_total', type: 'counter', unit: 'requests', labels: ['provider', 'model', 'outcome'], help: 'Provider calls by outcome: ok, error, rate_limited, timeout, unavailable, aborted.', source: 'runtime' },
  { name: 'platform_provider_tokens_total', type: 'counter', unit: 'tokens', labels: ['provider', 'model', 'direction'], help: 'Tokens consumed, direction in or out.', source: 'runtime' },
  { name: 'platform_provider_time_to_first_token_seconds', type: 'histogram', unit: 's', labels: ['provider', 'model'], help: 'Time from request to the first streamed token.', source: 'runtime', buckets: DURATION_BUCKETS },
  { name: 'platform_provider_request_duration_seconds', type: 'histogram', unit: 's', labels: ['provider', 'model'], help: 'Wall time of a provider call.', source: 'runtime', buckets: DURATION_BUCKETS },
  { name: 'platform_provider_up', type: 'gauge', unit: '1', labels: ['provider', 'host'], help: 'Health-checked provider host reachable (1) or not (0).', source: 'runtime' },
  // ---- chat
  { name: 'platform_chat_streams_open', type: 'gauge', unit: '1', labels: [], help: 'Chat answers streaming right now.', source: 'runtime' },
  // ---- retrieval
  { name: 'platform_retrieval_duration_seconds', type: 'histogram', unit: 's', labels: ['stage'], help: 'Retrieval latency by stage (embed, vector, graph, fuse).', source: 'runtime', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] },
  { name: 'platform_index_documents', type: 'gauge', unit: '1', labels: ['store'], help: 'Documents in the retrieval index, by store (vector, graph).', source: 'runtime' },
  { name: 'platform_index_last_run_timestamp_seconds', type: 'gauge', unit: 's', labels: [], help: 'Unix time the last index run finished.', source: 'runtime' },
  // ---- host exporters (Alloy)
  { name: 'node_cpu_seconds_total', type: 'counter', unit: 's', labels: ['cpu', 'mode'], help: 'CPU time by mode.', source: 'node_exporter' },
  { name: 'node_memory_MemAvailable_bytes', type: 'gauge', unit: 'bytes', labels: [], help: 'Memory available for new work.', source: 'node_exporter' },
  { name: 'node_memory_MemTotal_bytes', type: 'gauge', unit: 'bytes', labels: [], help: 'Total memory.', source: 'node_exporter' },
  { name: 'node_filesystem_avail_bytes', type: 'gauge', unit: 'bytes', labels: ['device', 'fstype', 'mountpoint'], help: 'Filesystem space available to non-root users.', source: 'node_exporter' },
  { name: 'node_filesystem_size_bytes', type: 'gauge', unit: 'bytes', labels: ['device', 'fstype', 'mountpoint'], help: 'Filesystem size.', source: 'node_exporter' },
  { name: 'node_network_receive_bytes_total', type: 'counter', unit: 'bytes', labels: ['device'], help: 'Bytes received per interface.', source: 'node_exporter' },
  { name: 'node_network_transmit_bytes_total', type: 'counter', unit: 'bytes', labels: ['device'], help: 'Bytes sent per interface.', source: 'node_exporter' },
  { name: 'container_last_seen', type: 'gauge', unit: 's', labels: ['name'], help: 'Last time cAdvisor saw the container.', source: 'cadvisor' },
  { name: 'container_start_time_seconds', type: 'gauge', unit: 's', labels: ['name'], help: 'Container start time; a change means a restart.', source: 'cadvisor' },
  { name: 'up', type: 'gauge', unit: '1', labels: ['job', 'instance'], help: 'Scrape target reachable.', source: 'alloy' },
] as const satisfies readonly Metric[];

export type MetricName = (typeof METRICS)[number]['name'];

const byName = new Map<string, Metric>(METRICS.map((m) => [m.name, m]));

/** The catalog entry for a metric; throws for a name outside the catalog. */
export function metric(name: MetricName): Metric {
  const m = byName.get(name);
  if (!m) throw new PlatformError('METRIC_UNKNOWN', `metric ${name} is not in the catalog`, 'add it to METRICS in model/metrics.ts');
  return m;
}

/** The series names Prometheus exposes for a catalog metric (histograms have three). */
export function seriesNames(m: Metric): string[] {
  return m.type === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name];
}

/** Every series name the catalog covers, for checking queries. */
export function catalogSeries(): Set<string> {
  return new Set(METRICS.flatMap((m) => seriesNames(m)));
}
