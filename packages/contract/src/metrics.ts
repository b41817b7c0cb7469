import { z } from 'zod';
import { ContractError } from './errors.js';

/*
 * The metric catalog: every metric the platform emits or queries. The runtime creates its
 * instruments from it; dashboards and alert rules build their queries from it. Names are the
 * Prometheus names as they land in Mimir (OTLP counters gain `_total`, units are in the name).
 * Depends on zod only, so the runtime image carries it.
 */

export const MetricSchema = z.strictObject({
  /** A Prometheus metric name (node_exporter's names keep their capitals). */
  name: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/),
  type: z.enum(['counter', 'gauge', 'histogram']),
  unit: z.enum(['1', 's', 'bytes', 'tokens', 'jobs', 'requests', 'files', 'ratio', 'percent']),
  labels: z.array(z.string()),
  help: z.string().min(1),
  /** Who produces it: the runtime, an Alloy exporter, or prometheus-nats-exporter beside a NATS server. */
  source: z.enum(['runtime', 'node_exporter', 'cadvisor', 'alloy', 'nats_exporter']),
  /** Histogram bucket boundaries, in the metric's unit. */
  buckets: z.array(z.number()).optional(),
  /** Closed value sets for labels that have one; queries may only match these values. */
  values: z.record(z.string(), z.array(z.string())).optional(),
});
export type Metric = z.infer<typeof MetricSchema>;

/** Outcomes of a job; `duplicate` is a job that came back after it completed and was not run again. */
export const JOB_OUTCOMES = ['completed', 'failed', 'duplicate'] as const;
/** Outcomes of a provider call. `unavailable` is a 503 for a health-gated host that is down. */
export const PROVIDER_OUTCOMES = ['ok', 'error', 'rate_limited', 'timeout', 'unavailable', 'aborted'] as const;
export const QUEUE_FOLDERS = ['queue', 'active', 'completed', 'failed'] as const;
export const MCP_TOOL_OUTCOMES = ['ok', 'error'] as const;
export const RETRIEVAL_STAGES = ['embed', 'vector', 'graph', 'fuse'] as const;

/**
 * Labels every series carries besides its own: the scrape's `job` and `instance`, and the
 * external labels Alloy adds on remote write (`host`, `env`).
 */
export const COMMON_LABELS = ['job', 'instance', 'host', 'env'] as const;

/** Labels prometheus-nats-exporter's JetStream collector puts on stream series (server, then stream). */
export const JSZ_STREAM_LABELS = [
  'server_id',
  'server_name',
  'cluster',
  'domain',
  'meta_leader',
  'is_meta_leader',
  'account',
  'account_id',
  'stream_name',
  'stream_leader',
  'is_stream_leader',
] as const;
/** And on consumer series: the stream's, then the consumer's. */
export const JSZ_CONSUMER_LABELS = [
  ...JSZ_STREAM_LABELS,
  'consumer_name',
  'consumer_leader',
  'is_consumer_leader',
  'consumer_desc',
  'consumer_created',
] as const;

const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export const METRICS = [
  // ---- jobs
  {
    name: 'platform_jobs_total',
    type: 'counter',
    unit: 'jobs',
    labels: ['type', 'outcome'],
    help: 'Jobs finished, by job type and outcome (completed, failed, duplicate).',
    source: 'runtime',
    values: { outcome: [...JOB_OUTCOMES] },
  },
  {
    name: 'platform_job_duration_seconds',
    type: 'histogram',
    unit: 's',
    labels: ['type', 'outcome'],
    help: 'Wall time of a job from claim to move.',
    source: 'runtime',
    buckets: DURATION_BUCKETS,
    values: { outcome: [...JOB_OUTCOMES] },
  },
  { name: 'platform_jobs_running', type: 'gauge', unit: 'jobs', labels: [], help: 'Jobs running right now.', source: 'runtime' },
  {
    name: 'platform_queue_depth',
    type: 'gauge',
    unit: 'files',
    labels: ['folder'],
    help: 'Files in each vault queue folder (queue, active, completed, failed).',
    source: 'runtime',
    values: { folder: [...QUEUE_FOLDERS] },
  },
  {
    name: 'platform_queue_oldest_age_seconds',
    type: 'gauge',
    unit: 's',
    labels: [],
    help: 'Age of the oldest file waiting in the queue folder, 0 when empty.',
    source: 'runtime',
  },
  // ---- providers
  {
    name: 'platform_provider_requests_total',
    type: 'counter',
    unit: 'requests',
    labels: ['provider', 'model', 'outcome'],
    help: 'Provider calls by outcome: ok, error, rate_limited, timeout, unavailable, aborted.',
    source: 'runtime',
    values: { outcome: [...PROVIDER_OUTCOMES] },
  },
  {
    name: 'platform_provider_tokens_total',
    type: 'counter',
    unit: 'tokens',
    labels: ['provider', 'model', 'direction'],
    help: 'Tokens consumed, direction in or out.',
    source: 'runtime',
    values: { direction: ['in', 'out'] },
  },
  {
    name: 'platform_provider_time_to_first_token_seconds',
    type: 'histogram',
    unit: 's',
    labels: ['provider', 'model'],
    help: 'Time from request to the first streamed token.',
    source: 'runtime',
    buckets: DURATION_BUCKETS,
  },
  {
    name: 'platform_provider_request_duration_seconds',
    type: 'histogram',
    unit: 's',
    labels: ['provider', 'model'],
    help: 'Wall time of a provider call.',
    source: 'runtime',
    buckets: DURATION_BUCKETS,
  },
  {
    name: 'platform_provider_up',
    type: 'gauge',
    unit: '1',
    labels: ['provider', 'host'],
    help: "Health-checked provider host reachable (1) or not (0); host is the provider's host (davas), not the scraping one.",
    source: 'runtime',
  },
  {
    name: 'platform_provider_retry_after_seconds',
    type: 'histogram',
    unit: 's',
    labels: ['provider', 'model'],
    help: 'Wait a provider asked for on a 429 (its retry hint), capped by maxRetryWaitSeconds.',
    source: 'runtime',
    buckets: [1, 2, 5, 10, 20, 30, 60, 120],
  },
  // ---- chat
  {
    name: 'platform_chat_streams_open',
    type: 'gauge',
    unit: '1',
    labels: [],
    help: 'Chat answers streaming right now.',
    source: 'runtime',
  },
  {
    name: 'platform_chat_streams_total',
    type: 'counter',
    unit: '1',
    labels: ['model', 'outcome'],
    help: 'Chat streams ended, by outcome (completed, aborted, error).',
    source: 'runtime',
    values: { outcome: ['completed', 'aborted', 'error'] },
  },
  // ---- MCP tool server
  {
    name: 'platform_mcp_tool_calls_total',
    type: 'counter',
    unit: '1',
    labels: ['tool', 'outcome'],
    help: 'MCP tool calls by tool and outcome (ok, error: the tool answered isError).',
    source: 'runtime',
    values: { outcome: [...MCP_TOOL_OUTCOMES] },
  },
  {
    name: 'platform_mcp_tool_duration_seconds',
    type: 'histogram',
    unit: 's',
    labels: ['tool'],
    help: 'Wall time of an MCP tool call.',
    source: 'runtime',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  },
  {
    name: 'platform_mcp_sessions_open',
    type: 'gauge',
    unit: '1',
    labels: [],
    help: 'Streamable HTTP sessions open on the MCP tool server.',
    source: 'runtime',
  },
  // ---- retrieval
  {
    name: 'platform_retrieval_duration_seconds',
    type: 'histogram',
    unit: 's',
    labels: ['stage'],
    help: 'Retrieval latency by stage (embed, vector, graph, fuse).',
    source: 'runtime',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    values: { stage: [...RETRIEVAL_STAGES] },
  },
  {
    name: 'platform_index_documents',
    type: 'gauge',
    unit: '1',
    labels: ['store'],
    help: 'Documents in the retrieval index, by store (vector, graph).',
    source: 'runtime',
    values: { store: ['vector', 'graph'] },
  },
  {
    name: 'platform_index_chunks',
    type: 'gauge',
    unit: '1',
    labels: ['store'],
    help: 'Chunks (vector points, graph nodes) in the retrieval index, by store.',
    source: 'runtime',
    values: { store: ['vector', 'graph'] },
  },
  {
    name: 'platform_index_last_run_timestamp_seconds',
    type: 'gauge',
    unit: 's',
    labels: [],
    help: 'Unix time the last index run finished.',
    source: 'runtime',
  },
  {
    name: 'platform_index_runs_total',
    type: 'counter',
    unit: '1',
    labels: ['outcome'],
    help: 'Index runs finished, by outcome (completed, failed).',
    source: 'runtime',
    values: { outcome: ['completed', 'failed'] },
  },
  // ---- schedules
  {
    name: 'platform_schedule_runs_total',
    type: 'counter',
    unit: 'jobs',
    labels: ['schedule', 'outcome'],
    help: 'Schedule slots settled, by outcome: enqueued (on time or as the catch-up run), skipped (missed during downtime), failed (the job could not be built).',
    source: 'runtime',
    values: { outcome: ['enqueued', 'skipped', 'failed'] },
  },
  {
    name: 'platform_schedule_missed_total',
    type: 'counter',
    unit: '1',
    labels: ['schedule'],
    help: 'Slots that passed while no scheduler ran (downtime, a clock jump), whatever the catch-up policy did with them.',
    source: 'runtime',
  },
  {
    name: 'platform_schedule_lateness_seconds',
    type: 'histogram',
    unit: 's',
    labels: ['schedule'],
    help: 'Time from a slot to its job file landing in the queue.',
    source: 'runtime',
    buckets: [0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 3600, 21600, 86400],
  },
  {
    name: 'platform_schedule_last_run_timestamp_seconds',
    type: 'gauge',
    unit: 's',
    labels: ['schedule'],
    help: 'Unix time of the latest slot a schedule settled (enqueued or skipped).',
    source: 'runtime',
  },
  {
    name: 'platform_schedule_period_seconds',
    type: 'gauge',
    unit: 's',
    labels: ['schedule'],
    help: 'Longest gap between two consecutive slots among the next 500 slots of an enabled schedule (what "not run within twice its period" measures against).',
    source: 'runtime',
  },
  {
    name: 'platform_schedule_registered_timestamp_seconds',
    type: 'gauge',
    unit: 's',
    labels: ['schedule'],
    help: 'Unix time a scheduler first saw an enabled schedule (kept in the schedule ledger across restarts): the clock "not run within twice its period" starts from before the first slot settles.',
    source: 'runtime',
  },
  // ---- host exporters (Alloy: prometheus.exporter.unix)
  {
    name: 'node_cpu_seconds_total',
    type: 'counter',
    unit: 's',
    labels: ['cpu', 'mode'],
    help: 'CPU time by mode.',
    source: 'node_exporter',
  },
  { name: 'node_load1', type: 'gauge', unit: '1', labels: [], help: 'One-minute load average.', source: 'node_exporter' },
  {
    name: 'node_memory_MemAvailable_bytes',
    type: 'gauge',
    unit: 'bytes',
    labels: [],
    help: 'Memory available for new work.',
    source: 'node_exporter',
  },
  { name: 'node_memory_MemTotal_bytes', type: 'gauge', unit: 'bytes', labels: [], help: 'Total memory.', source: 'node_exporter' },
  {
    name: 'node_filesystem_avail_bytes',
    type: 'gauge',
    unit: 'bytes',
    labels: ['device', 'fstype', 'mountpoint'],
    help: 'Filesystem space available to non-root users.',
    source: 'node_exporter',
  },
  {
    name: 'node_filesystem_size_bytes',
    type: 'gauge',
    unit: 'bytes',
    labels: ['device', 'fstype', 'mountpoint'],
    help: 'Filesystem size.',
    source: 'node_exporter',
  },
  {
    name: 'node_network_receive_bytes_total',
    type: 'counter',
    unit: 'bytes',
    labels: ['device'],
    help: 'Bytes received per interface.',
    source: 'node_exporter',
  },
  {
    name: 'node_network_transmit_bytes_total',
    type: 'counter',
    unit: 'bytes',
    labels: ['device'],
    help: 'Bytes sent per interface.',
    source: 'node_exporter',
  },
  // ---- container exporter (Alloy: prometheus.exporter.cadvisor, Docker hosts only)
  {
    name: 'container_cpu_usage_seconds_total',
    type: 'counter',
    unit: 's',
    labels: ['name', 'cpu'],
    help: 'CPU time a container used.',
    source: 'cadvisor',
  },
  {
    name: 'container_memory_working_set_bytes',
    type: 'gauge',
    unit: 'bytes',
    labels: ['name'],
    help: 'Working set memory of a container.',
    source: 'cadvisor',
  },
  {
    name: 'container_last_seen',
    type: 'gauge',
    unit: 's',
    labels: ['name'],
    help: 'Last time cAdvisor saw the container.',
    source: 'cadvisor',
  },
  {
    name: 'container_start_time_seconds',
    type: 'gauge',
    unit: 's',
    labels: ['name'],
    help: 'Container start time; a change means a restart.',
    source: 'cadvisor',
  },
  // ---- NATS JetStream (prometheus-nats-exporter -jsz=all beside each NATS server; jetstream queue backend only)
  {
    name: 'jetstream_stream_total_messages',
    type: 'gauge',
    unit: '1',
    labels: [...JSZ_STREAM_LABELS],
    help: 'Messages stored in a stream: jobs not yet acked on the work-queue stream, results not yet settled.',
    source: 'nats_exporter',
  },
  {
    name: 'jetstream_stream_total_bytes',
    type: 'gauge',
    unit: 'bytes',
    labels: [...JSZ_STREAM_LABELS],
    help: 'Bytes stored in a stream.',
    source: 'nats_exporter',
  },
  {
    name: 'jetstream_consumer_num_pending',
    type: 'gauge',
    unit: '1',
    labels: [...JSZ_CONSUMER_LABELS],
    help: "Messages matching a consumer's filter not yet delivered to it: jobs waiting for a worker of the group.",
    source: 'nats_exporter',
  },
  {
    name: 'jetstream_consumer_num_ack_pending',
    type: 'gauge',
    unit: '1',
    labels: [...JSZ_CONSUMER_LABELS],
    help: 'Messages delivered to a consumer and not acked yet: jobs running on a worker.',
    source: 'nats_exporter',
  },
  {
    name: 'jetstream_consumer_num_redelivered',
    type: 'gauge',
    unit: '1',
    labels: [...JSZ_CONSUMER_LABELS],
    help: 'Messages of a consumer delivered more than once (a worker died, timed out or nak-ed).',
    source: 'nats_exporter',
  },
  {
    name: 'jetstream_consumer_num_waiting',
    type: 'gauge',
    unit: '1',
    labels: [...JSZ_CONSUMER_LABELS],
    help: 'Pull requests waiting on a consumer: idle workers asking for a job.',
    source: 'nats_exporter',
  },
  {
    name: 'jetstream_consumer_delivered_consumer_seq',
    type: 'gauge',
    unit: '1',
    labels: [...JSZ_CONSUMER_LABELS],
    help: 'Consumer sequence of the last delivery; it rises with every job handed out.',
    source: 'nats_exporter',
  },
  {
    name: 'jetstream_consumer_ack_floor_consumer_seq',
    type: 'gauge',
    unit: '1',
    labels: [...JSZ_CONSUMER_LABELS],
    help: 'Consumer sequence below which every delivery is acked; it rises as jobs finish.',
    source: 'nats_exporter',
  },
  // ---- scrape health (Alloy: prometheus.scrape)
  { name: 'up', type: 'gauge', unit: '1', labels: [], help: 'Scrape target reachable (1) or not (0).', source: 'alloy' },
  // ---- JetStream queue, runtime side (gateway and workers with queue.backend jetstream)
  {
    name: 'platform_jetstream_published_total',
    type: 'counter',
    unit: 'jobs',
    labels: ['outcome'],
    help: 'Jobs the gateway published to the work-queue stream: stored, duplicate (the server dropped a second publish of the id), error.',
    source: 'runtime',
    values: { outcome: ['stored', 'duplicate', 'error'] },
  },
  {
    name: 'platform_jetstream_results_total',
    type: 'counter',
    unit: 'jobs',
    labels: ['outcome'],
    help: 'Results the gateway received: completed, failed, found (already in the results stream at claim), stale (no claim waits for it), invalid.',
    source: 'runtime',
    values: { outcome: ['completed', 'failed', 'found', 'stale', 'invalid'] },
  },
  {
    name: 'platform_jetstream_round_trip_seconds',
    type: 'histogram',
    unit: 's',
    labels: ['group'],
    help: 'Time from the publish of a job to its result at the gateway.',
    source: 'runtime',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
  },
  {
    name: 'platform_jetstream_worker_jobs_total',
    type: 'counter',
    unit: 'jobs',
    labels: ['group', 'outcome'],
    help: 'Job deliveries a worker handled: completed, failed, retried (nak), skipped (its result existed), invalid (termed).',
    source: 'runtime',
    values: { outcome: ['completed', 'failed', 'retried', 'skipped', 'invalid'] },
  },
  {
    name: 'platform_jetstream_redeliveries_total',
    type: 'counter',
    unit: 'jobs',
    labels: ['group'],
    help: 'Job deliveries after the first (a worker died, timed out or asked for a retry).',
    source: 'runtime',
  },
] as const satisfies readonly Metric[];

export type MetricName = (typeof METRICS)[number]['name'];

const byName = new Map<string, Metric>(METRICS.map((m) => [m.name, m]));

/** The catalog entry for a metric; throws for a name outside the catalog. */
export function metric(name: MetricName): Metric {
  const m = byName.get(name);
  if (!m) throw ContractError.create('METRIC_UNKNOWN', { name });
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

/** A series name the catalog covers: a metric name, or a histogram's `_bucket`, `_sum` or `_count`. */
export type SeriesName = MetricName | `${Extract<(typeof METRICS)[number], { type: 'histogram' }>['name']}_${'bucket' | 'sum' | 'count'}`;

/** The catalog metric a series belongs to, or undefined for a name outside the catalog. */
export function metricOfSeries(series: string): Metric | undefined {
  const direct = byName.get(series);
  if (direct) return direct;
  const m = /^(.*)_(bucket|sum|count)$/.exec(series);
  const base = m ? byName.get(m[1]!) : undefined;
  return base?.type === 'histogram' ? base : undefined;
}

/** A label matcher: a plain string is an equality match; the helpers below give the other operators. */
export type Matcher = string | { op: '=' | '!=' | '=~' | '!~'; value: string };
export const re = (value: string): Matcher => ({ op: '=~', value });
export const ne = (value: string): Matcher => ({ op: '!=', value });
export const nre = (value: string): Matcher => ({ op: '!~', value });

/**
 * A PromQL vector selector for a catalog series, e.g. `platform_jobs_total{outcome="failed"}`.
 * Refuses a series outside the catalog, a label the metric does not carry, and an equality match
 * on a value outside a label's closed value set. Values that start with `$` are Grafana variables.
 */
export function sel(series: SeriesName, matchers: Readonly<Record<string, Matcher>> = {}): string {
  const m = metricOfSeries(series);
  if (!m) throw new ContractError('METRIC_UNKNOWN', `series ${series} is not in the catalog`);
  const allowed = new Set<string>([...m.labels, ...COMMON_LABELS, ...(series.endsWith('_bucket') ? ['le'] : [])]);
  const parts = Object.entries(matchers).map(([label, matcher]) => {
    if (!allowed.has(label)) {
      throw new ContractError('METRIC_UNKNOWN', `metric ${m.name} has no label "${label}"`, {
        hint: `use one of: ${[...allowed].join(', ')}`,
      });
    }
    const { op, value } = typeof matcher === 'string' ? { op: '=' as const, value: matcher } : matcher;
    const closed = m.values?.[label];
    if (closed && op === '=' && !value.startsWith('$') && !closed.includes(value)) {
      throw new ContractError('METRIC_UNKNOWN', `metric ${m.name} label "${label}" never has the value "${value}"`, {
        hint: `use one of: ${closed.join(', ')}`,
      });
    }
    return `${label}${op}${JSON.stringify(value)}`;
  });
  return parts.length ? `${series}{${parts.join(', ')}}` : series;
}
