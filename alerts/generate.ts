import type { Platform } from '../model/index.js';
import { notice, type Artifact, type Generator } from '../render/types.js';
import { toYaml } from '../render/yaml.js';
import { expand } from './humanize.js';
import { alertRules, GROUPS, runbookAnchor, runbookUrl, type AlertCase, type AlertRule } from './rules.js';

/*
 * Prometheus-format rule groups (load with `mimirtool rules load`), their promtool unit tests,
 * the Alertmanager routing to Discord, and the runbook every alert links to.
 */

/** Where the Alertmanager host finds secrets, one file per secret name (written by the Infisical agent). */
export const ALERTMANAGER_SECRETS_DIR = '/etc/alertmanager/secrets';
const EVALUATION_INTERVAL = '1m';

function annotations(p: Platform, r: AlertRule): Record<string, string> {
  return { summary: r.summary, description: r.description, runbook_url: runbookUrl(p, r.alert) };
}

export function rulesFile(p: Platform): Record<string, unknown> {
  const rules = alertRules(p);
  return {
    groups: Object.values(GROUPS)
      .map((group) => ({
        name: group,
        interval: EVALUATION_INTERVAL,
        rules: rules
          .filter((r) => r.group === group)
          .map((r) => ({
            alert: r.alert,
            expr: r.expr,
            ...(r.for === '0m' ? {} : { for: r.for }),
            labels: { severity: r.severity, ...r.labels },
            annotations: annotations(p, r),
          })),
      }))
      .filter((g) => g.rules.length > 0),
  };
}

function testCase(p: Platform, r: AlertRule, c: AlertCase, name: string): Record<string, unknown> {
  return {
    name: `${r.alert}: ${name}`,
    interval: '1m',
    input_series: c.series.map((x) => ({ series: x.series, values: x.values })),
    alert_rule_test: [
      {
        eval_time: c.evalTime,
        alertname: r.alert,
        exp_alerts: c.firing.map((f) => {
          const labels = { ...f.labels, severity: r.severity, ...r.labels };
          const ann = annotations(p, r);
          return {
            exp_labels: labels,
            exp_annotations: {
              summary: expand(ann.summary!, labels, f.value),
              description: expand(ann.description!, labels, f.value),
              runbook_url: ann.runbook_url,
            },
          };
        }),
      },
    ],
  };
}

/** One promtool test file per rule group: for each rule, series that fire it and series that do not. */
export function testFiles(p: Platform): Array<{ group: string; content: Record<string, unknown> }> {
  const rules = alertRules(p);
  return Object.values(GROUPS)
    .map((group) => ({
      group,
      content: {
        rule_files: ['../rules.yml'],
        evaluation_interval: EVALUATION_INTERVAL,
        tests: rules
          .filter((r) => r.group === group)
          .flatMap((r) => {
            const which =
              rules.filter((x) => x.alert === r.alert).length > 1 ? ` (${Object.values(r.fires.firing[0]?.labels ?? {}).join(', ')})` : '';
            return [
              testCase(p, r, r.fires, `fires${which}`),
              testCase(p, r, r.quiet, `stays quiet${which}`),
              ...(r.more ?? []).map((m) => testCase(p, r, m.case, `${m.name}${which}`)),
            ];
          }),
      },
    }))
    .filter((f) => (f.content.tests as unknown[]).length > 0);
}

export function alertmanagerConfig(p: Platform): Record<string, unknown> {
  const d = p.observability.discord;
  return {
    route: {
      receiver: 'discord',
      group_by: ['alertname', 'host'],
      group_wait: d.groupWait,
      group_interval: d.groupInterval,
      repeat_interval: d.repeatInterval,
    },
    inhibit_rules: [
      // A silent host explains its failed scrapes: say it once.
      { source_matchers: ['alertname="HostMetricsAbsent"'], target_matchers: ['alertname="ScrapeTargetDown"'], equal: ['host'] },
      // A health-gated host (davas) that is switched off is one event, not two.
      { source_matchers: ['alertname="ProviderHostDown"'], target_matchers: ['alertname="HostMetricsAbsent"'], equal: ['host'] },
    ],
    receivers: [
      {
        name: 'discord',
        discord_configs: [
          {
            // The webhook URL is a secret: the Infisical agent writes it to this file, never the model.
            webhook_url_file: `${ALERTMANAGER_SECRETS_DIR}/${d.webhookSecret}`,
            send_resolved: true,
            title:
              '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }}',
            message:
              '{{ range .Alerts }}{{ .Annotations.summary }}\n{{ .Annotations.description }}\nRunbook: {{ .Annotations.runbook_url }}\n{{ end }}',
          },
        ],
      },
    ],
  };
}

export function runbooksDoc(p: Platform): string {
  const rules = alertRules(p);
  const seen = new Set<string>();
  const unique = rules.filter((r) => !seen.has(r.alert) && seen.add(r.alert));
  const lines = [
    notice('<!--').trimEnd(),
    '# Runbooks',
    '',
    "One section per alert in `generated/alerts/rules.yml`; each alert's `runbook_url` points here.",
    '',
    '| alert | group | severity | for |',
    '|---|---|---|---|',
    ...unique.map((r) => `| [${r.alert}](#${runbookAnchor(r.alert)}) | ${r.group} | ${r.severity} | ${r.for} |`),
    '',
  ];
  for (const r of unique) {
    lines.push(
      `## ${r.alert}`,
      '',
      `**${r.runbook.title}.** ${r.runbook.meaning}`,
      '',
      '```promql',
      ...rules.filter((x) => x.alert === r.alert).map((x) => x.expr),
      '```',
      '',
      'What to do:',
      '',
      ...r.runbook.steps.map((step, i) => `${i + 1}. ${step}`),
      '',
    );
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

export const alertsGenerator: Generator = {
  name: 'alerts',
  generate(p): Artifact[] {
    return [
      { path: 'alerts/rules.yml', content: toYaml(rulesFile(p)) },
      ...testFiles(p).map((f) => ({ path: `alerts/tests/${f.group}.yml`, content: toYaml(f.content) })),
      { path: 'alerts/alertmanager.yml', content: toYaml(alertmanagerConfig(p)) },
      { path: 'docs/runbooks.md', content: runbooksDoc(p) },
    ];
  },
};
