import { alloyHosts, composeHosts, jetstreamOf, type DashboardName, type ExtraPanel, type Platform } from '../model/index.js';
import { metric, nre, re, sel, type Matcher, type MetricName, type SeriesName } from '@platform/contract';
import type { DashboardSpec, PanelSpec, RowSpec, VariableSpec } from './build.js';
import { gauge, increase, quantile, rate } from './query.js';

/*
 * The four dashboards, as data. Every query is built from the catalog (query.ts); hosts, models
 * and thresholds come from the model.
 */

const HOST = { host: re('$host') };
const MODEL = { model: re('$model') };
const PSEUDO_FS = 'tmpfs|overlay|squashfs|devtmpfs|ramfs|nsfs';

function hostVariable(p: Platform): VariableSpec {
  return { name: 'host', label: 'Host', values: alloyHosts(p) };
}
function modelVariable(p: Platform): VariableSpec {
  return { name: 'model', label: 'Model', values: p.routing.models.map((m) => m.id) };
}

const ts = (title: string, unit: string, targets: PanelSpec['targets'], w = 12, extra: Partial<PanelSpec> = {}): PanelSpec => ({
  kind: 'timeseries',
  title,
  unit,
  targets,
  w,
  ...extra,
});
const stat = (title: string, unit: string, targets: PanelSpec['targets'], w = 6, extra: Partial<PanelSpec> = {}): PanelSpec => ({
  kind: 'stat',
  title,
  unit,
  targets,
  w,
  ...extra,
});

/**
 * The JetStream queue (jetstream backend only), from the exporters beside the NATS servers: one
 * consumer per route group on the job stream. Not filtered by $host: the series come from the
 * servers, whichever host runs the worker.
 */
function jetstreamRows(p: Platform): RowSpec[] {
  const n = jetstreamOf(p);
  if (!n) return [];
  const jobsStream = { stream_name: n.stream.name };
  const byGroup = (series: SeriesName) => gauge(series, jobsStream, ['consumer_name'], 'max');
  return [
    {
      title: 'JetStream streams and consumers (NATS)',
      panels: [
        ts('Jobs waiting per group', 'short', [{ expr: byGroup('jetstream_consumer_num_pending'), legend: '{{consumer_name}}' }], 8),
        ts(
          'Jobs running per group (not acked yet)',
          'short',
          [{ expr: byGroup('jetstream_consumer_num_ack_pending'), legend: '{{consumer_name}}' }],
          8,
        ),
        ts(
          'Jobs redelivered per group',
          'short',
          [{ expr: byGroup('jetstream_consumer_num_redelivered'), legend: '{{consumer_name}}' }],
          8,
        ),
        ts(
          'Messages stored per stream',
          'short',
          [
            {
              expr: gauge(
                'jetstream_stream_total_messages',
                { stream_name: re(`${n.stream.name}|${n.stream.resultsName}`) },
                ['stream_name'],
                'max',
              ),
              legend: '{{stream_name}}',
            },
          ],
          12,
        ),
        ts(
          'Idle workers waiting per group',
          'short',
          [{ expr: byGroup('jetstream_consumer_num_waiting'), legend: '{{consumer_name}}' }],
          12,
        ),
      ],
    },
  ];
}

function jobs(p: Platform): DashboardSpec {
  const t = p.observability.alerts;
  return {
    name: 'jobs',
    title: 'Jobs',
    description: 'Markdown jobs run by the worker from the vault queue.',
    variables: [hostVariable(p)],
    rows: [
      {
        title: 'Throughput',
        panels: [
          stat('Jobs finished (range)', 'short', [{ expr: increase('platform_jobs_total', HOST) }]),
          stat('Jobs failed (range)', 'short', [{ expr: increase('platform_jobs_total', { ...HOST, outcome: 'failed' }) }], 6, {
            redFrom: 1,
          }),
          stat('Jobs running', 'short', [{ expr: gauge('platform_jobs_running', HOST) }]),
          stat(
            'Failure ratio (range)',
            'percentunit',
            [
              {
                expr: `${increase('platform_jobs_total', { ...HOST, outcome: 'failed' })} / ${increase('platform_jobs_total', { ...HOST, outcome: re('completed|failed') })}`,
              },
            ],
            6,
            { redFrom: t.jobFailureRatio },
          ),
          ts(
            'Jobs finished per minute by outcome',
            'short',
            [{ expr: `${rate('platform_jobs_total', HOST, ['outcome'])} * 60`, legend: '{{outcome}}' }],
            12,
            { stacked: true },
          ),
          ts('Failures by job type', 'short', [
            { expr: increase('platform_jobs_total', { ...HOST, outcome: 'failed' }, ['type'], '$__rate_interval'), legend: '{{type}}' },
          ]),
        ],
      },
      {
        title: 'Duration',
        panels: [
          ts('Job duration percentiles', 's', [
            { expr: quantile(0.5, 'platform_job_duration_seconds', HOST), legend: 'p50' },
            { expr: quantile(0.95, 'platform_job_duration_seconds', HOST), legend: 'p95' },
            { expr: quantile(0.99, 'platform_job_duration_seconds', HOST), legend: 'p99' },
          ]),
          ts('Job duration p95 by type', 's', [
            { expr: quantile(0.95, 'platform_job_duration_seconds', HOST, ['type']), legend: '{{type}}' },
          ]),
        ],
      },
      {
        title: 'Queue',
        panels: [
          ts(
            'Queue depth by folder',
            'short',
            [{ expr: gauge('platform_queue_depth', HOST, ['folder'], 'max'), legend: '{{folder}}' }],
            12,
          ),
          ts('Oldest queued job', 's', [{ expr: gauge('platform_queue_oldest_age_seconds', HOST, [], 'max'), legend: 'age' }], 6),
          stat('Oldest queued job now', 's', [{ expr: gauge('platform_queue_oldest_age_seconds', HOST, [], 'max') }], 6, {
            redFrom: t.queueStuckMinutes * 60,
            h: 8,
          }),
        ],
      },
      {
        title: 'JetStream queue (gateway and workers)',
        panels: [
          ts(
            'Jobs published per minute',
            'short',
            [{ expr: `${rate('platform_jetstream_published_total', HOST, ['outcome'])} * 60`, legend: '{{outcome}}' }],
            8,
          ),
          ts(
            'Results per minute',
            'short',
            [{ expr: `${rate('platform_jetstream_results_total', HOST, ['outcome'])} * 60`, legend: '{{outcome}}' }],
            8,
          ),
          ts(
            'Round trip p95 (publish to result)',
            's',
            [{ expr: quantile(0.95, 'platform_jetstream_round_trip_seconds', HOST, ['group']), legend: '{{group}}' }],
            8,
          ),
          ts(
            'Worker deliveries by outcome',
            'short',
            [
              {
                expr: increase('platform_jetstream_worker_jobs_total', HOST, ['group', 'outcome'], '$__rate_interval'),
                legend: '{{group}} {{outcome}}',
              },
            ],
            12,
            { stacked: true },
          ),
          ts(
            'Redeliveries',
            'short',
            [{ expr: increase('platform_jetstream_redeliveries_total', HOST, ['group'], '$__rate_interval'), legend: '{{group}}' }],
            12,
          ),
        ],
      },
      {
        title: 'Schedules',
        panels: [
          ts(
            'Scheduled slots by outcome',
            'short',
            [
              {
                expr: increase('platform_schedule_runs_total', HOST, ['schedule', 'outcome'], '$__rate_interval'),
                legend: '{{schedule}} {{outcome}}',
              },
            ],
            8,
            { stacked: true },
          ),
          ts(
            'Slots missed (downtime, clock jumps)',
            'short',
            [{ expr: increase('platform_schedule_missed_total', HOST, ['schedule'], '$__rate_interval'), legend: '{{schedule}}' }],
            8,
          ),
          ts(
            'Lateness p95 (slot to queued)',
            's',
            [{ expr: quantile(0.95, 'platform_schedule_lateness_seconds', HOST, ['schedule']), legend: '{{schedule}}' }],
            8,
          ),
          ts(
            'Time since last run, in periods',
            'short',
            [
              {
                expr: `(time() - ${gauge('platform_schedule_last_run_timestamp_seconds', HOST, ['schedule'], 'max')}) / ${gauge('platform_schedule_period_seconds', HOST, ['schedule'], 'max')}`,
                legend: '{{schedule}}',
              },
            ],
            24,
          ),
        ],
      },
      ...jetstreamRows(p),
    ],
  };
}

function providers(p: Platform): DashboardSpec {
  const req = (m: Record<string, Matcher> = {}): Record<string, Matcher> => ({ ...MODEL, ...m });
  return {
    name: 'providers',
    title: 'LLM providers',
    description: 'Calls to Ollama, Groq, Gemini and Anthropic: volume, errors, rate limits, latency, tokens, and the health-gated hosts.',
    variables: [modelVariable(p)],
    rows: [
      {
        title: 'Requests',
        panels: [
          ts('Requests per second by provider and model', 'reqps', [
            { expr: rate('platform_provider_requests_total', req(), ['provider', 'model']), legend: '{{provider}} {{model}}' },
          ]),
          ts(
            'Errors by provider and outcome',
            'reqps',
            [
              {
                expr: rate('platform_provider_requests_total', req({ outcome: nre('ok|aborted') }), ['provider', 'outcome']),
                legend: '{{provider}} {{outcome}}',
              },
            ],
            12,
            { stacked: true },
          ),
          ts('429s (rate limited) by provider and model', 'short', [
            {
              expr: increase(
                'platform_provider_requests_total',
                req({ outcome: 'rate_limited' }),
                ['provider', 'model'],
                '$__rate_interval',
              ),
              legend: '{{provider}} {{model}}',
            },
          ]),
          ts('Timeouts and unavailable (503) by model', 'short', [
            {
              expr: increase(
                'platform_provider_requests_total',
                req({ outcome: re('timeout|unavailable') }),
                ['model', 'outcome'],
                '$__rate_interval',
              ),
              legend: '{{model}} {{outcome}}',
            },
          ]),
        ],
      },
      {
        title: 'Latency and tokens',
        panels: [
          ts('Time to first token p50 / p95', 's', [
            {
              expr: quantile(0.5, 'platform_provider_time_to_first_token_seconds', MODEL, ['provider', 'model']),
              legend: 'p50 {{provider}} {{model}}',
            },
            {
              expr: quantile(0.95, 'platform_provider_time_to_first_token_seconds', MODEL, ['provider', 'model']),
              legend: 'p95 {{provider}} {{model}}',
            },
          ]),
          ts(
            'Tokens per minute, in and out',
            'short',
            [{ expr: `${rate('platform_provider_tokens_total', MODEL, ['model', 'direction'])} * 60`, legend: '{{model}} {{direction}}' }],
            12,
            { stacked: true },
          ),
        ],
      },
      {
        title: 'Availability',
        panels: [
          stat(
            'Health-gated hosts up now',
            'short',
            [{ expr: gauge('platform_provider_up', {}, ['host'], 'min'), legend: '{{host}}' }],
            6,
            { greenFrom: 1, h: 8 },
          ),
          stat(
            'Availability (range)',
            'percentunit',
            [
              {
                expr: `avg by (host) (avg_over_time(${gauge('platform_provider_up', {}, ['host'], 'min')}[$__range:]))`,
                legend: '{{host}}',
              },
            ],
            6,
            { greenFrom: 0.99, h: 8 },
          ),
          ts(
            'Provider hosts up (1) or down (0)',
            'short',
            [{ expr: gauge('platform_provider_up', {}, ['provider', 'host'], 'min'), legend: '{{provider}} on {{host}}' }],
            6,
          ),
          ts('Chat streams open', 'short', [{ expr: gauge('platform_chat_streams_open'), legend: 'open' }], 6),
        ],
      },
    ],
  };
}

function hosts(p: Platform): DashboardSpec {
  const fs = { fstype: nre(PSEUDO_FS) };
  const cpu = (m: Record<string, Matcher>): string => `1 - avg by (host) (rate(${selIdle(m)}[$__rate_interval]))`;
  const mem = (m: Record<string, Matcher>): string =>
    `1 - ${gauge('node_memory_MemAvailable_bytes', m, ['host'])} / ${gauge('node_memory_MemTotal_bytes', m, ['host'])}`;
  const diskFree = (m: Record<string, Matcher>): string =>
    `min by (host, mountpoint) (${gauge('node_filesystem_avail_bytes', { ...m, ...fs }, ['host', 'mountpoint'])} / ${gauge('node_filesystem_size_bytes', { ...m, ...fs }, ['host', 'mountpoint'])})`;
  const overview: RowSpec = {
    title: 'All hosts',
    panels: [
      ts('CPU busy', 'percentunit', [{ expr: cpu(HOST), legend: '{{host}}' }], 6),
      ts('Memory used', 'percentunit', [{ expr: mem(HOST), legend: '{{host}}' }], 6),
      ts('Disk free', 'percentunit', [{ expr: diskFree(HOST), legend: '{{host}} {{mountpoint}}' }], 6, {
        redFrom: p.observability.alerts.diskFreeRatio,
      }),
      ts(
        'Network in / out',
        'Bps',
        [
          {
            expr: rate('node_network_receive_bytes_total', { ...HOST, device: nre('lo|veth.*|docker.*|br-.*') }, ['host']),
            legend: '{{host}} in',
          },
          {
            expr: `-${rate('node_network_transmit_bytes_total', { ...HOST, device: nre('lo|veth.*|docker.*|br-.*') }, ['host'])}`,
            legend: '{{host}} out',
          },
        ],
        6,
      ),
    ],
  };
  const perHost = alloyHosts(p).map((host): RowSpec => {
    const m = { host };
    const panels: PanelSpec[] = [
      ts(`CPU busy`, 'percentunit', [{ expr: cpu(m), legend: 'busy' }], 6),
      ts(`Memory used`, 'percentunit', [{ expr: mem(m), legend: 'used' }], 6),
      ts(`Disk free`, 'percentunit', [{ expr: diskFree(m), legend: '{{mountpoint}}' }], 6),
      ts(
        `Network`,
        'Bps',
        [
          {
            expr: rate('node_network_receive_bytes_total', { host, device: nre('lo|veth.*|docker.*|br-.*') }, ['device']),
            legend: '{{device}} in',
          },
          {
            expr: `-${rate('node_network_transmit_bytes_total', { host, device: nre('lo|veth.*|docker.*|br-.*') }, ['device'])}`,
            legend: '{{device}} out',
          },
        ],
        6,
      ),
    ];
    if (composeHosts(p).includes(host)) {
      panels.push(
        ts(
          'Container restarts (1h)',
          'short',
          [{ expr: `sum by (name) (changes(${selContainer('container_start_time_seconds', host)}[1h]))`, legend: '{{name}}' }],
          12,
          { redFrom: 1 },
        ),
        ts(
          'Container memory',
          'bytes',
          [{ expr: gauge('container_memory_working_set_bytes', { host, name: nre('') }, ['name']), legend: '{{name}}' }],
          12,
        ),
      );
    }
    return { title: `${host}: ${p.hosts[host]?.description || p.hosts[host]?.kind || host}`, panels };
  });
  return {
    name: 'hosts',
    title: 'Hosts',
    description: 'CPU, memory, disk and network of every host that runs Alloy, and its containers.',
    variables: [hostVariable(p)],
    rows: [overview, ...perHost],
  };
}

function retrieval(): DashboardSpec {
  return {
    name: 'retrieval',
    title: 'Retrieval',
    description: 'Hybrid vector and graph retrieval over the vault: latency by stage and the index.',
    variables: [],
    rows: [
      {
        title: 'Latency',
        panels: [
          ts('Retrieval latency p95 by stage', 's', [
            { expr: quantile(0.95, 'platform_retrieval_duration_seconds', {}, ['stage']), legend: '{{stage}}' },
          ]),
          ts('Retrieval latency p50 by stage', 's', [
            { expr: quantile(0.5, 'platform_retrieval_duration_seconds', {}, ['stage']), legend: '{{stage}}' },
          ]),
          ts(
            'Retrievals per second by stage',
            'reqps',
            [{ expr: rate('platform_retrieval_duration_seconds_count', {}, ['stage']), legend: '{{stage}}' }],
            24,
          ),
        ],
      },
      {
        title: 'Index',
        panels: [
          stat(
            'Last index run',
            'dateTimeFromNow',
            [{ expr: `${gauge('platform_index_last_run_timestamp_seconds', {}, [], 'max')} * 1000` }],
            6,
          ),
          stat(
            'Since last index run',
            's',
            [{ expr: `time() - ${gauge('platform_index_last_run_timestamp_seconds', {}, [], 'max')}` }],
            6,
            { redFrom: 86400 },
          ),
          stat('Documents indexed', 'short', [{ expr: gauge('platform_index_documents', { store: 'vector' }, [], 'max') }], 6),
          stat('Index runs failed (range)', 'short', [{ expr: increase('platform_index_runs_total', { outcome: 'failed' }) }], 6, {
            redFrom: 1,
          }),
          ts(
            'Index size by store',
            'short',
            [
              { expr: gauge('platform_index_documents', {}, ['store'], 'max'), legend: 'documents ({{store}})' },
              { expr: gauge('platform_index_chunks', {}, ['store'], 'max'), legend: 'chunks ({{store}})' },
            ],
            24,
          ),
        ],
      },
    ],
  };
}

/** A panel the operator added in platform.yaml (observability.extraPanels). */
export function extraPanel(x: ExtraPanel): PanelSpec {
  const m = metric(x.metric as MetricName);
  const name = m.name as SeriesName;
  const legend = x.by.length ? x.by.map((l) => `{{${l}}}`).join(' ') : m.name;
  const unit = x.show === 'rate' ? (m.unit === 'bytes' ? 'Bps' : 'ops') : m.unit === 's' ? 's' : m.unit === 'bytes' ? 'bytes' : 'short';
  const expr =
    x.show === 'rate'
      ? rate(m.type === 'histogram' ? (`${m.name}_count` as SeriesName) : name, {}, x.by)
      : x.show === 'value'
        ? gauge(name, {}, x.by, 'max')
        : quantile(Number(x.show.slice(1)) / 100, name, {}, x.by);
  return ts(x.title, unit, [{ expr, legend }], 12, { description: m.help });
}

const BUILDERS: Record<DashboardName, (p: Platform) => DashboardSpec> = { jobs, providers, hosts, retrieval: () => retrieval() };

export function dashboardSpecs(p: Platform): DashboardSpec[] {
  return p.observability.dashboards.map((name) => {
    const spec = BUILDERS[name](p);
    const extra = p.observability.extraPanels.filter((x) => x.dashboard === name).map(extraPanel);
    return extra.length ? { ...spec, rows: [...spec.rows, { title: 'Added in platform.yaml', panels: extra }] } : spec;
  });
}

function selIdle(m: Record<string, Matcher>): string {
  return sel('node_cpu_seconds_total', { ...m, mode: 'idle' });
}
function selContainer(series: SeriesName, host: string): string {
  return sel(series, { host, name: nre('') });
}
