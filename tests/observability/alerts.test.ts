import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { alertsGenerator } from '../../alerts/generate.js';
import { expand, humanize, humanizeDuration, humanizePercentage } from '../../alerts/humanize.js';
import { alertRules, runbookAnchor } from '../../alerts/rules.js';
import { alloyHosts, parsePlatform, type Platform } from '../../model/index.js';
import { GO_BUILD_TIMEOUT, goTools, platform, ROOT, run, writeArtifacts } from './helpers.js';

const p = platform();
const artifacts = alertsGenerator.generate(p);
const content = (path: string): string => artifacts.find((a) => a.path === path)!.content;

interface RuleFile {
  groups: Array<{
    name: string;
    rules: Array<{ alert: string; expr: string; for?: string; labels: Record<string, string>; annotations: Record<string, string> }>;
  }>;
}
const rules = (parse(content('alerts/rules.yml')) as RuleFile).groups.flatMap((g) => g.rules);

/** The model with some alert thresholds changed. */
function withThresholds(over: Record<string, number>): Platform {
  let text = readFileSync(join(ROOT, 'platform.yaml'), 'utf8');
  for (const [k, v] of Object.entries(over)) text = text.replace(new RegExp(`(\\n    ${k}: )[^\\n]+`), `$1${v}`);
  return parsePlatform(text);
}

describe('alert rules', () => {
  it('starts with the notice and covers every required alert', () => {
    expect(content('alerts/rules.yml').startsWith('# generated from platform.yaml by make render, do not edit\n')).toBe(true);
    expect([...new Set(rules.map((r) => r.alert))]).toEqual([
      'JobFailed',
      'JobFailureRatioHigh',
      'QueueStuck',
      'ScheduleNotRun',
      'ProviderHostDown',
      'ProviderRateLimited',
      'DiskAlmostFull',
      'DiskFillingUp',
      'HostMetricsAbsent',
      'ScrapeTargetDown',
    ]);
  });

  it('gives every rule a summary, a description with values, and a runbook link that resolves', () => {
    const runbooks = content('docs/runbooks.md');
    for (const r of rules) {
      expect(r.annotations.summary, r.alert).toBeTruthy();
      expect(r.annotations.description, r.alert).toMatch(/\{\{ \$(value|labels\.[a-z_]+)( \| [a-zA-Z]+)? \}\}/);
      expect(r.annotations.runbook_url).toBe(`generated/docs/runbooks.md#${runbookAnchor(r.alert)}`);
      expect(runbooks).toContain(`\n## ${r.alert}\n`);
      expect(['critical', 'warning']).toContain(r.labels.severity);
    }
  });

  it('has one absent rule per host that runs Alloy', () => {
    const absent = rules.filter((r) => r.alert === 'HostMetricsAbsent');
    expect(absent.map((r) => r.labels.host)).toEqual(alloyHosts(p));
    expect(absent.map((r) => r.expr)).toEqual(alloyHosts(p).map((h) => `absent(up{host="${h}"})`));
  });

  it('takes thresholds from the model', () => {
    const q = withThresholds({ queueStuckMinutes: 45, jobFailureRatio: 0.5, diskFillHours: 12 });
    const exprs = alertRules(q)
      .map((r) => r.expr)
      .join('\n');
    expect(exprs).toContain('max by (host) (platform_queue_oldest_age_seconds) > 2700');
    expect(exprs).toContain('>= 0.5');
    expect(exprs).toContain(', 43200) < 0)');
  });

  it('gives every rule promtool cases that fire it and cases that do not', () => {
    for (const r of alertRules(p)) {
      expect(r.fires.firing.length, r.alert).toBeGreaterThan(0);
      expect(r.quiet.firing, r.alert).toEqual([]);
      expect(r.quiet.series.length, r.alert).toBeGreaterThan(0);
    }
  });
});

describe('annotation templates', () => {
  it('formats like Prometheus', () => {
    expect(humanize(0)).toBe('0');
    expect(humanize(15)).toBe('15');
    expect(humanize(1234)).toBe('1.234k');
    expect(humanize(2_500_000)).toBe('2.5M');
    expect(humanize(0.25)).toBe('250m');
    expect(humanizePercentage(0.5)).toBe('50%');
    expect(humanizePercentage(0.123456)).toBe('12.35%');
    expect(humanizeDuration(2400)).toBe('40m 0s');
    expect(humanizeDuration(90061)).toBe('1d 1h 1m 1s');
    expect(humanizeDuration(5)).toBe('5s');
    expect(expand('{{ $labels.host }} at {{ $value | humanizePercentage }} ({{ $value }})', { host: 'davas' }, 0.5)).toBe(
      'davas at 50% (0.5)',
    );
  });

  it('refuses a template the tests cannot predict', () => {
    expect(() => expand('{{ $value | printf "%.2f" }}', {}, 1)).toThrow(/cannot predict|not one the tests/);
  });
});

describe('rules and routing checked by promtool and amtool', () => {
  let dir: string;
  let amtool: string;
  beforeAll(() => {
    amtool = goTools().amtool;
    dir = writeArtifacts(artifacts);
  }, GO_BUILD_TIMEOUT);

  it('promtool check rules accepts the rules, lint included', () => {
    const r = run('promtool', ['check', 'rules', join(dir, 'alerts/rules.yml')]);
    expect(r.stdout + r.stderr).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(r.status).toBe(0);
  });

  it('promtool test rules passes every unit test', () => {
    const tests = artifacts.filter((a) => a.path.startsWith('alerts/tests/')).map((a) => join(dir, a.path));
    expect(tests.length).toBe(3);
    const r = run('promtool', ['test', 'rules', ...tests]);
    expect(r.stdout + r.stderr).not.toContain('FAILED');
    expect(r.status).toBe(0);
  });

  it('the unit tests bite: rules from one threshold fail tests written for another', () => {
    const other = writeArtifacts(alertsGenerator.generate(withThresholds({ queueStuckMinutes: 90, rateLimitedPer15m: 50 })));
    writeFileSync(join(other, 'alerts/rules.yml'), content('alerts/rules.yml'));
    const r = run('promtool', [
      'test',
      'rules',
      join(other, 'alerts/tests/platform-jobs.yml'),
      join(other, 'alerts/tests/platform-providers.yml'),
    ]);
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/QueueStuck/);
    expect(r.stdout + r.stderr).toMatch(/ProviderRateLimited/);
  });

  it('promtool test rules passes with other thresholds too', () => {
    const other = writeArtifacts(
      alertsGenerator.generate(
        withThresholds({
          jobFailureWindowMinutes: 5,
          jobFailureRatio: 1,
          queueStuckMinutes: 1,
          diskFreeRatio: 0.01,
          diskFillHours: 720,
          providerDownMinutes: 1,
          rateLimitedPer15m: 1,
          hostAbsentMinutes: 1,
        }),
      ),
    );
    const tests = ['platform-jobs', 'platform-providers', 'platform-hosts'].map((g) => join(other, `alerts/tests/${g}.yml`));
    const r = run('promtool', ['test', 'rules', ...tests]);
    expect(r.stdout + r.stderr).not.toContain('FAILED');
    expect(r.status).toBe(0);
  });

  it('amtool check-config accepts the Alertmanager config', () => {
    const r = run(amtool, ['check-config', join(dir, 'alerts/alertmanager.yml')]);
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('amtool routes every alert the rules can raise to the Discord receiver', () => {
    for (const r of rules) {
      const labels = Object.entries({ alertname: r.alert, ...r.labels }).map(([k, v]) => `${k}=${v}`);
      const res = run(amtool, [
        'config',
        'routes',
        'test',
        `--config.file=${join(dir, 'alerts/alertmanager.yml')}`,
        '--verify.receivers=discord',
        ...labels,
      ]);
      expect(res.stdout.trim(), r.alert).toBe('discord');
      expect(res.status, r.alert).toBe(0);
    }
  });

  it("routes to Discord through a webhook file, with the model's timings", () => {
    const am = parse(content('alerts/alertmanager.yml')) as {
      route: Record<string, unknown>;
      receivers: Array<{ name: string; discord_configs: Array<Record<string, unknown>> }>;
    };
    const d = p.observability.discord;
    expect(am.route).toMatchObject({
      receiver: 'discord',
      group_wait: d.groupWait,
      group_interval: d.groupInterval,
      repeat_interval: d.repeatInterval,
    });
    const discord = am.receivers[0]!.discord_configs[0]!;
    expect(discord.webhook_url_file).toBe(`/etc/alertmanager/secrets/${d.webhookSecret}`);
    expect(discord).not.toHaveProperty('webhook_url');
    expect(content('alerts/alertmanager.yml')).not.toMatch(/https:\/\/discord/);
  });
});
