import { alloyHosts, jetstreamOf, type Platform } from '../model/index.js';
import { nre, re, sel } from '@platform/contract';

/*
 * The alert rules, each with its runbook and its promtool unit test cases, so a rule cannot ship
 * without the series that fire it and the series that do not. Thresholds come from the model
 * (observability.alerts); every query is built from the metric catalog through `sel`.
 */

export type Severity = 'critical' | 'warning';

export interface InputSeries {
  series: string;
  values: string;
}

/** One promtool test case: input series at 1m steps, evaluated at `evalTime`. */
export interface AlertCase {
  series: InputSeries[];
  evalTime: string;
  /** Alerts expected to be firing then: their labels (beyond alertname and severity) and value. */
  firing: Array<{ labels: Record<string, string>; value: number }>;
}

export interface AlertRule {
  group: string;
  alert: string;
  expr: string;
  for: string;
  severity: Severity;
  /** Labels the rule adds besides severity (they also keep same-named rules apart). */
  labels?: Record<string, string>;
  summary: string;
  description: string;
  runbook: { title: string; meaning: string; steps: string[] };
  fires: AlertCase;
  quiet: AlertCase;
  /** Further cases a rule's edges need, each named in the test file. */
  more?: Array<{ name: string; case: AlertCase }>;
}

export const GROUPS = {
  jobs: 'platform-jobs',
  providers: 'platform-providers',
  hosts: 'platform-hosts',
  queue: 'platform-queue',
} as const;

/** Filesystems that are not disks: left out of the disk alerts. */
const PSEUDO_FS = 'tmpfs|overlay|squashfs|devtmpfs|ramfs|nsfs';

/** Hosts of health-gated routes (davas): the providers that may legitimately be switched off. */
export function healthGatedHosts(p: Platform): string[] {
  return [...new Set(p.routing.models.filter((r) => r.healthGated && r.host !== undefined).map((r) => r.host!))].sort();
}

const s = (series: string, values: string): InputSeries => ({ series, values });

export function alertRules(p: Platform): AlertRule[] {
  const t = p.observability.alerts;
  const W = t.jobFailureWindowMinutes;
  const runtime = { host: p.services.worker?.host ?? 'runtime', env: p.env };
  const rules: AlertRule[] = [];

  // ---- jobs
  const failed = sel('platform_jobs_total', { outcome: 'failed' });
  rules.push({
    group: GROUPS.jobs,
    alert: 'JobFailed',
    expr: `sum by (type) (increase(${failed}[${W}m])) > 0`,
    for: '0m',
    severity: 'warning',
    summary: '{{ $value | humanize }} {{ $labels.type }} job(s) failed',
    description: `{{ $value | humanize }} job(s) of type {{ $labels.type }} failed in the last ${W}m. Each failed job stays in the failed folder with its error.`,
    runbook: {
      title: 'A job failed',
      meaning: `At least one job moved to the failed folder in the last ${W} minutes.`,
      steps: [
        'Open the failed folder in the vault: each failed job file ends with the error and the reason.',
        'Check the worker logs in Loki: `{service="worker"} |= "failed"`.',
        'Fix the cause (prompt, model, provider), then move the file back to the queue folder to rerun it.',
      ],
    },
    fires: {
      series: [s(sel('platform_jobs_total', { type: 'summarise', outcome: 'failed', ...runtime }), `0x2 1x${W + 20}`)],
      evalTime: '4m',
      firing: [{ labels: { type: 'summarise' }, value: 1 }],
    },
    quiet: {
      series: [
        s(sel('platform_jobs_total', { type: 'summarise', outcome: 'failed', ...runtime }), `0 1x${W + 30}`),
        s(sel('platform_jobs_total', { type: 'summarise', outcome: 'completed', ...runtime }), `0+1x${W + 30}`),
      ],
      evalTime: `${W + 5}m`,
      firing: [],
    },
  });

  const finished = sel('platform_jobs_total', { outcome: re('completed|failed') });
  const perMinute = Math.ceil(1 / t.jobFailureRatio);
  rules.push({
    group: GROUPS.jobs,
    alert: 'JobFailureRatioHigh',
    expr: `sum(increase(${failed}[${W}m])) / sum(increase(${finished}[${W}m])) >= ${t.jobFailureRatio}`,
    for: '5m',
    severity: 'warning',
    summary: '{{ $value | humanizePercentage }} of jobs are failing',
    description: `{{ $value | humanizePercentage }} of the jobs finished in the last ${W}m failed (threshold ${t.jobFailureRatio * 100}%).`,
    runbook: {
      title: 'Many jobs are failing',
      meaning: `At least ${t.jobFailureRatio * 100}% of the jobs that finished in the last ${W} minutes failed, for 5 minutes: something shared is broken (a provider, the vault, the worker).`,
      steps: [
        'Check the LLM providers dashboard for errors, timeouts and 429s.',
        'Check the worker logs in Loki for a repeated error: `{service="worker"} | json | level="error"`.',
        'If one provider is down, route its models elsewhere in platform.yaml (there is no silent fallback) and `make render`.',
      ],
    },
    fires: {
      series: [
        s(sel('platform_jobs_total', { type: 'summarise', outcome: 'failed', ...runtime }), `0+1x${W + 20}`),
        s(sel('platform_jobs_total', { type: 'summarise', outcome: 'completed', ...runtime }), `0x${W + 20}`),
      ],
      evalTime: `${W + 10}m`,
      firing: [{ labels: {}, value: 1 }],
    },
    quiet: {
      series: [
        s(sel('platform_jobs_total', { type: 'summarise', outcome: 'failed', ...runtime }), `0+1x${W + 20}`),
        s(sel('platform_jobs_total', { type: 'summarise', outcome: 'completed', ...runtime }), `0+${perMinute}x${W + 20}`),
      ],
      evalTime: `${W + 10}m`,
      firing: [],
    },
  });

  const Q = t.queueStuckMinutes;
  rules.push({
    group: GROUPS.jobs,
    alert: 'QueueStuck',
    expr: `max by (host) (${sel('platform_queue_oldest_age_seconds')}) > ${Q * 60}`,
    for: '5m',
    severity: 'critical',
    summary: 'The oldest queued job has waited {{ $value | humanizeDuration }}',
    description: `The oldest job in the queue on {{ $labels.host }} has waited {{ $value | humanizeDuration }} (threshold ${Q}m): the worker is not claiming jobs.`,
    runbook: {
      title: 'The job queue is stuck',
      meaning: `A job has waited in the queue folder for more than ${Q} minutes, so the worker is down, wedged, or cannot claim files.`,
      steps: [
        'Check the worker container: `docker compose ps worker` and its logs in Loki (`{service="worker"}`).',
        'Check Syncthing: a file still being written (or a conflict copy) is never claimed.',
        'Restart the worker: jobs in the active folder go back to the queue at start-up.',
      ],
    },
    fires: {
      series: [s(sel('platform_queue_oldest_age_seconds', runtime), `0+60x${Q + 20}`)],
      evalTime: `${Q + 10}m`,
      firing: [{ labels: { host: runtime.host }, value: (Q + 10) * 60 }],
    },
    quiet: {
      series: [s(sel('platform_queue_oldest_age_seconds', runtime), `${Q * 60 - 60}x${Q + 20}`)],
      evalTime: `${Q + 10}m`,
      firing: [],
    },
  });

  // A schedule's own period (its longest gap between slots, DST included) sets its threshold, so
  // one rule serves a five-minute schedule and a weekly one.
  const lastRun = sel('platform_schedule_last_run_timestamp_seconds');
  const registered = sel('platform_schedule_registered_timestamp_seconds');
  const period = sel('platform_schedule_period_seconds');
  rules.push({
    group: GROUPS.jobs,
    alert: 'ScheduleNotRun',
    // A schedule that never settled a slot counts from when the scheduler first saw it.
    expr: `(time() - (max by (schedule) (${lastRun}) or max by (schedule) (${registered}))) > 2 * max by (schedule) (${period})`,
    for: '10m',
    severity: 'warning',
    summary: 'Schedule {{ $labels.schedule }} has not run for {{ $value | humanizeDuration }}',
    description:
      'The latest slot schedule {{ $labels.schedule }} settled (or, if it never settled one, the moment the scheduler first saw it) was {{ $value | humanizeDuration }} ago, more than twice its period: its jobs are not being enqueued.',
    runbook: {
      title: 'A schedule has not run',
      meaning:
        'A schedule has settled no slot (enqueued or skipped) for more than twice the longest gap between its slots, or has never settled one since the scheduler first saw it that long ago: the worker is down, its clock is wrong, or the schedule ledger cannot be written.',
      steps: [
        'Check the worker is up and holds the queue: `docker compose ps worker`, then its logs in Loki: `{service="worker"} |= "schedule"`.',
        "Run `runtime schedule list` on the runtime host: it shows each schedule's last slot, its status and its next runs.",
        'Check the host clock (`timedatectl`): a clock set back holds a schedule until it passes the last slot again.',
        'Enqueue the job by hand if it is needed now: `runtime schedule run NAME`.',
      ],
    },
    fires: {
      series: [
        s(sel('platform_schedule_last_run_timestamp_seconds', { schedule: 'briefing', ...runtime }), '0x200'),
        s(sel('platform_schedule_period_seconds', { schedule: 'briefing', ...runtime }), '3600x200'),
      ],
      evalTime: '140m',
      firing: [{ labels: { schedule: 'briefing' }, value: 8400 }],
    },
    quiet: {
      series: [
        // Runs every hour: the latest slot is never more than an hour old.
        s(sel('platform_schedule_last_run_timestamp_seconds', { schedule: 'briefing', ...runtime }), '0x59 3600x60 7200x60 10800x60'),
        s(sel('platform_schedule_period_seconds', { schedule: 'briefing', ...runtime }), '3600x240'),
      ],
      evalTime: '230m',
      firing: [],
    },
    more: [
      {
        name: 'fires for a schedule that never ran',
        case: {
          // Seen at start-up, never a slot settled since: no last-run series at all.
          series: [
            s(sel('platform_schedule_registered_timestamp_seconds', { schedule: 'memory', ...runtime }), '0x200'),
            s(sel('platform_schedule_period_seconds', { schedule: 'memory', ...runtime }), '3600x200'),
          ],
          evalTime: '140m',
          firing: [{ labels: { schedule: 'memory' }, value: 8400 }],
        },
      },
      {
        name: 'stays quiet for a schedule seen recently that has not reached its first slot',
        case: {
          series: [
            s(sel('platform_schedule_registered_timestamp_seconds', { schedule: 'memory', ...runtime }), '4800x200'),
            s(sel('platform_schedule_period_seconds', { schedule: 'memory', ...runtime }), '3600x200'),
          ],
          evalTime: '140m',
          firing: [],
        },
      },
      {
        name: 'stays quiet once a schedule that never ran settles its slot',
        case: {
          series: [
            s(sel('platform_schedule_registered_timestamp_seconds', { schedule: 'memory', ...runtime }), '0x200'),
            s(sel('platform_schedule_last_run_timestamp_seconds', { schedule: 'memory', ...runtime }), '_x130 7700x70'),
            s(sel('platform_schedule_period_seconds', { schedule: 'memory', ...runtime }), '3600x200'),
          ],
          evalTime: '140m',
          firing: [],
        },
      },
    ],
  });

  // ---- the JetStream queue (jetstream backend only)
  const nats = jetstreamOf(p);
  if (nats) {
    const C = t.consumerStuckMinutes;
    const by = 'max by (stream_name, consumer_name)';
    const streams = { stream_name: re(`${nats.stream.name}|${nats.stream.resultsName}`) };
    const pending = sel('jetstream_consumer_num_pending', streams);
    const delivered = sel('jetstream_consumer_delivered_consumer_seq', streams);
    const acked = sel('jetstream_consumer_ack_floor_consumer_seq', streams);
    const at = { server_name: nats.servers[0]!, host: nats.servers[0]!, env: p.env, stream_name: nats.stream.name };
    const of = (consumer: string) => ({ ...at, consumer_name: consumer });
    const series = (consumer: string, pend: string, moving: boolean): InputSeries[] => [
      s(sel('jetstream_consumer_num_pending', of(consumer)), pend),
      s(sel('jetstream_consumer_delivered_consumer_seq', of(consumer)), moving ? `10+1x${C + 20}` : `10x${C + 20}`),
      s(sel('jetstream_consumer_ack_floor_consumer_seq', of(consumer)), moving ? `9+1x${C + 20}` : `9x${C + 20}`),
    ];
    rules.push({
      group: GROUPS.queue,
      alert: 'JetStreamConsumerStuck',
      expr: `${by} (${pending}) > 0 and on (stream_name, consumer_name) ${by} (changes(${delivered}[${C}m]) + changes(${acked}[${C}m])) == 0`,
      for: '5m',
      severity: 'critical',
      summary: '{{ $value | humanize }} message(s) stuck on consumer {{ $labels.consumer_name }} of {{ $labels.stream_name }}',
      description: `{{ $value | humanize }} message(s) wait on consumer {{ $labels.consumer_name }} of stream {{ $labels.stream_name }}, and nothing was delivered or acked for ${C}m: no worker pulls them.`,
      runbook: {
        title: 'A JetStream consumer is stuck',
        meaning: `Messages wait on a consumer and none was delivered or acked for ${C} minutes. On the job stream each consumer (\`run-<group>\`) serves one route group (\`cloud\` or an Ollama host): every worker that takes the group is down, wedged, or cannot reach NATS. On the results stream (consumer \`gateway\`) the gateway is not settling results. The vault shows nothing unusual meanwhile: the gateway has claimed those jobs from the queue folder.`,
        steps: [
          'Which group? The consumer name says it (`run-davas` is the davas group); `nats.workers` in platform.yaml lists the hosts that take it.',
          'Is a worker of that group running? On each of those hosts `docker compose ps worker`, and its logs in Loki: `{service="worker"} | json | level="error"`.',
          'A group whose only host is switched off (davas) waits for it by design: silence the alert while the host is off, or add the group to another worker that can reach its models.',
          'Can the workers reach NATS? Their logs say so; `nats server check jetstream` on a server host shows the cluster and its leader.',
          'On the results stream: check the gateway (`docker compose ps gateway` on the runtime host) and its logs.',
        ],
      },
      fires: {
        series: series('run-cloud', `3x${C + 20}`, false),
        evalTime: `${C + 10}m`,
        firing: [{ labels: { stream_name: nats.stream.name, consumer_name: 'run-cloud' }, value: 3 }],
      },
      quiet: {
        // A group whose jobs keep moving, and an idle one with nothing waiting.
        series: [...series('run-cloud', `3x${C + 20}`, true), ...series('run-davas', `0x${C + 20}`, false)],
        evalTime: `${C + 10}m`,
        firing: [],
      },
    });
  }

  // ---- providers
  const gated = healthGatedHosts(p);
  if (gated.length) {
    const P = t.providerDownMinutes;
    const host = gated[0]!;
    const up = (h: string): string => sel('platform_provider_up', { provider: 'ollama', host: h });
    rules.push({
      group: GROUPS.providers,
      alert: 'ProviderHostDown',
      expr: `max by (provider, host) (${sel('platform_provider_up', { host: re(gated.join('|')) })}) == 0`,
      for: `${P}m`,
      severity: 'warning',
      summary: '{{ $labels.provider }} on {{ $labels.host }} is unreachable',
      description: `{{ $labels.provider }} on {{ $labels.host }} has failed its health check for ${P}m (up = {{ $value }}); its models answer 503 until it is back.`,
      runbook: {
        title: 'A health-gated provider host is down',
        meaning: `The runtime's health check has not reached ${gated.join(', ')} for ${P} minutes. Its models are shown as unavailable and requests for them get 503 at once; nothing falls back.`,
        steps: [
          `Is ${host} switched on? It is often off on purpose: silence the alert while it is.`,
          `From the runtime host: \`tailscale ping ${host}\`, then \`curl http://<${host} tailnet address>:11434/api/tags\`.`,
          `On ${host}: \`systemctl status ollama\` and \`journalctl -u ollama\`.`,
        ],
      },
      fires: {
        series: [s(up(host), `1x5 0x${P + 20}`)],
        evalTime: `${P + 8}m`,
        firing: [{ labels: { provider: 'ollama', host }, value: 0 }],
      },
      quiet: {
        series: [s(up(host), `1x${P + 20}`)],
        evalTime: `${P + 8}m`,
        firing: [],
      },
    });
  }

  const N = t.rateLimitedPer15m;
  const limited = (values: string): InputSeries =>
    s(
      sel('platform_provider_requests_total', { provider: 'groq', model: 'llama-3.3-70b-versatile', outcome: 'rate_limited', ...runtime }),
      values,
    );
  rules.push({
    group: GROUPS.providers,
    alert: 'ProviderRateLimited',
    expr: `sum by (provider) (increase(${sel('platform_provider_requests_total', { outcome: 'rate_limited' })}[15m])) >= ${N}`,
    for: '5m',
    severity: 'warning',
    summary: '{{ $labels.provider }} answered 429 {{ $value | humanize }} times in 15m',
    description: `{{ $labels.provider }} rate-limited {{ $value | humanize }} requests in the last 15m (threshold ${N}). Jobs wait out the provider's retry hint; chat gets the error at once.`,
    runbook: {
      title: 'A provider keeps rate-limiting',
      meaning: `A hosted provider answered 429 at least ${N} times in 15 minutes, for 5 minutes.`,
      steps: [
        'Check the LLM providers dashboard: which model, and whether time to first token rose too.',
        'Read the retry hints in the worker logs: `{service="worker"} |= "rate_limited"`.',
        "Lower the worker's concurrency (vault.worker.concurrency) or move heavy jobs to another model, then `make render`.",
      ],
    },
    fires: {
      series: [limited(`0+${N}x40`)],
      evalTime: '20m',
      firing: [{ labels: { provider: 'groq' }, value: 15 * N }],
    },
    quiet: {
      series: [limited('0 1x40')],
      evalTime: '20m',
      firing: [],
    },
  });

  // ---- hosts
  const fsFilter = { fstype: nre(PSEUDO_FS) };
  const avail = sel('node_filesystem_avail_bytes', fsFilter);
  const size = sel('node_filesystem_size_bytes', fsFilter);
  const D = t.diskFreeRatio;
  const disk = { device: '/dev/sda1', fstype: 'ext4', mountpoint: '/', host: runtime.host };
  const fs = (name: 'node_filesystem_avail_bytes' | 'node_filesystem_size_bytes', values: string): InputSeries =>
    s(sel(name, disk), values);
  const lowAvail = Math.max(1, Math.round(D * 500));
  rules.push({
    group: GROUPS.hosts,
    alert: 'DiskAlmostFull',
    expr: `${avail} / ${size} < ${D}`,
    for: '10m',
    severity: 'critical',
    summary: '{{ $labels.mountpoint }} on {{ $labels.host }} has {{ $value | humanizePercentage }} free',
    description: `Filesystem {{ $labels.mountpoint }} ({{ $labels.device }}) on {{ $labels.host }} has {{ $value | humanizePercentage }} space left (threshold ${D * 100}%).`,
    runbook: {
      title: 'A disk is almost full',
      meaning: `A filesystem has less than ${D * 100}% of its space free.`,
      steps: [
        'Find what grew: `du -xh --max-depth=2 <mountpoint> | sort -h | tail`.',
        'Docker is the usual suspect: `docker system df`, then `docker image prune` and `docker builder prune`.',
        'Container logs are capped (json-file, 3 x 10 MB); check the journal with `journalctl --disk-usage`.',
      ],
    },
    fires: {
      series: [fs('node_filesystem_avail_bytes', `${lowAvail}x30`), fs('node_filesystem_size_bytes', '1000x30')],
      evalTime: '20m',
      firing: [{ labels: disk, value: lowAvail / 1000 }],
    },
    quiet: {
      series: [fs('node_filesystem_avail_bytes', '1000x30'), fs('node_filesystem_size_bytes', '1000x30')],
      evalTime: '20m',
      firing: [],
    },
  });

  const H = t.diskFillHours;
  const start = 30 * H + 60;
  rules.push({
    group: GROUPS.hosts,
    alert: 'DiskFillingUp',
    expr: `(${avail} / ${size}) and (predict_linear(${avail}[6h], ${H * 3600}) < 0)`,
    for: '30m',
    severity: 'warning',
    summary: '{{ $labels.mountpoint }} on {{ $labels.host }} will fill within ' + `${H}h`,
    description: `Filesystem {{ $labels.mountpoint }} ({{ $labels.device }}) on {{ $labels.host }} has {{ $value | humanizePercentage }} free and, at the rate of the last 6h, fills within ${H}h.`,
    runbook: {
      title: 'A disk is filling up',
      meaning: `At the rate of the last 6 hours a filesystem runs out of space within ${H} hours.`,
      steps: [
        'Look at the Hosts dashboard: when did the growth start, and which containers were busy?',
        'A runaway log or a model download is typical: `du -xh --max-depth=2 <mountpoint> | sort -h | tail`.',
        'Free space or grow the disk before DiskAlmostFull fires.',
      ],
    },
    fires: {
      series: [fs('node_filesystem_avail_bytes', `${start}-1x120`), fs('node_filesystem_size_bytes', `${2 * start}x120`)],
      evalTime: '60m',
      firing: [{ labels: disk, value: (start - 60) / (2 * start) }],
    },
    quiet: {
      series: [fs('node_filesystem_avail_bytes', `${start}x120`), fs('node_filesystem_size_bytes', `${2 * start}x120`)],
      evalTime: '60m',
      firing: [],
    },
  });

  const M = t.hostAbsentMinutes;
  const hosts = alloyHosts(p);
  const upOf = (h: string): InputSeries => s(sel('up', { host: h, job: 'integrations/unix', env: p.env }), `1x${M + 20}`);
  for (const host of hosts) {
    rules.push({
      group: GROUPS.hosts,
      alert: 'HostMetricsAbsent',
      expr: `absent(${sel('up', { host })})`,
      for: `${M}m`,
      severity: 'critical',
      labels: { host },
      summary: 'No metrics from {{ $labels.host }}',
      description: `Nothing has arrived from Alloy on {{ $labels.host }} for ${M}m (absent = {{ $value }}): the host is down, Alloy stopped, or its token was rejected.`,
      runbook: {
        title: 'A host stopped sending metrics',
        meaning: `No series with host="<host>" reached Grafana Cloud for ${M} minutes. Every host that runs Alloy has its own rule.`,
        steps: [
          'Is the host up? `tailscale ping <host>`.',
          'Is Alloy running? On the runtime host `docker compose ps alloy`; elsewhere `systemctl status alloy`.',
          'Alloy logs a 401 when a Grafana Cloud token is wrong or expired: rotate it in Infisical.',
        ],
      },
      fires: {
        series: hosts.filter((h) => h !== host).map(upOf),
        evalTime: `${M + 5}m`,
        firing: [{ labels: { host }, value: 1 }],
      },
      quiet: { series: hosts.map(upOf), evalTime: `${M + 5}m`, firing: [] },
    });
  }

  const target = { host: runtime.host, job: 'platform-runtime', instance: 'worker:9464' };
  rules.push({
    group: GROUPS.hosts,
    alert: 'ScrapeTargetDown',
    expr: `${sel('up')} == 0`,
    for: '5m',
    severity: 'warning',
    summary: '{{ $labels.job }} on {{ $labels.host }} cannot be scraped',
    description: 'Alloy on {{ $labels.host }} has failed to scrape {{ $labels.job }} at {{ $labels.instance }} for 5m (up = {{ $value }}).',
    runbook: {
      title: 'A scrape target is down',
      meaning: 'Alloy reaches the host but not one of its targets (the runtime worker, node exporter or cAdvisor).',
      steps: [
        'For `platform-runtime`: is the worker running and listening on its metrics port?',
        "Alloy's UI (port 12345) lists each target with its last error.",
      ],
    },
    fires: { series: [s(sel('up', target), '0x20')], evalTime: '10m', firing: [{ labels: target, value: 0 }] },
    quiet: { series: [s(sel('up', target), '1x20')], evalTime: '10m', firing: [] },
  });

  return rules;
}

/** The anchor of a rule's runbook section in generated/docs/runbooks.md. */
export function runbookAnchor(alert: string): string {
  return alert.toLowerCase();
}

export function runbookUrl(p: Platform, alert: string): string {
  const base = p.observability.runbookBaseUrl ?? 'generated/docs/runbooks.md';
  return `${base}#${runbookAnchor(alert)}`;
}
