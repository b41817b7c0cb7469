import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ALLOY_COMPONENTS, alloyGenerator, tempoEndpoint } from '../../alloy/config.js';
import { alloyHosts } from '../../model/index.js';
import { GO_BUILD_TIMEOUT, goTools, platform, ROOT, run, writeArtifacts } from './helpers.js';

const p = platform();
const artifacts = alloyGenerator.generate(p);
const byHost = new Map(artifacts.map((a) => [a.path.split('/')[1]!, a.content]));

describe('alloy configs', () => {
  it('renders one config.alloy for every host that runs Alloy', () => {
    expect(artifacts.map((a) => a.path)).toEqual(alloyHosts(p).map((h) => `hosts/${h}/config.alloy`));
    expect(alloyHosts(p)).toEqual(['contabo', 'prod-services', 'dev-learning', 'davas']);
  });

  it("never writes a credential: tokens come from sys.env under the model's secret names", () => {
    const gc = p.observability.grafanaCloud;
    for (const text of byHost.values()) {
      expect(text.startsWith('// generated from platform.yaml by make render, do not edit\n')).toBe(true);
      for (const e of [gc.loki, gc.prometheus, gc.tempo]) expect(text).toContain(`sys.env("${e.tokenSecret}")`);
      expect(text).not.toMatch(/password\s*=\s*"/);
    }
  });

  it('ships Docker logs and container metrics only where Docker runs', () => {
    for (const host of ['contabo', 'prod-services', 'dev-learning']) {
      const text = byHost.get(host)!;
      expect(text).toContain('discovery.docker "containers"');
      expect(text).toContain('relabel_rules = discovery.relabel.containers.rules');
      expect(text).toContain('prometheus.exporter.cadvisor "containers"');
    }
    expect(byHost.get('davas')).not.toContain('discovery.docker');
    expect(byHost.get('davas')).not.toContain('cadvisor');
    expect(byHost.get('davas')).toContain('loki.source.journal "system"');
    expect(byHost.get('contabo')).not.toContain('loki.source.journal');
  });

  it('scrapes the worker on the runtime host only, over the compose network', () => {
    expect(byHost.get('contabo')).toContain('__address__ = "worker:9464"');
    for (const host of ['prod-services', 'dev-learning', 'davas']) expect(byHost.get(host)).not.toContain('prometheus.scrape "runtime"');
  });

  it('binds OTLP on the compose network in the container and on loopback on the host', () => {
    expect(byHost.get('contabo')).toContain('endpoint = "0.0.0.0:4317"');
    expect(byHost.get('contabo')).toContain('endpoint = "0.0.0.0:4318"');
    expect(byHost.get('davas')).toContain('endpoint = "127.0.0.1:4317"');
    expect(byHost.get('contabo')).toMatch(/rootfs_path\s+= "\/rootfs"/);
    expect(byHost.get('davas')).not.toContain('rootfs_path');
  });

  it('labels everything with host and env', () => {
    for (const [host, text] of byHost) {
      const labels = `external_labels = {\n    host = "${host}",\n    env  = "${p.env}",\n  }`;
      expect(text.split(labels)).toHaveLength(3);
    }
  });

  it('sends traces to Tempo as host:port', () => {
    expect(tempoEndpoint('https://tempo-prod-10-prod-eu-west-2.grafana.net:443')).toBe('tempo-prod-10-prod-eu-west-2.grafana.net:443');
    expect(tempoEndpoint('https://tempo.example.com')).toBe('tempo.example.com:443');
    expect(byHost.get('contabo')).toContain('auth     = otelcol.auth.basic.tempo.handler');
  });
});

describe("alloy configs parsed by Alloy's own parser (tools/alloy-check)", () => {
  let alloyCheck: string;
  let dir: string;
  beforeAll(() => {
    alloyCheck = goTools().alloyCheck;
    dir = writeArtifacts(artifacts);
  }, GO_BUILD_TIMEOUT);

  it("accepts every generated config, with the generator's allow-list", () => {
    const files = artifacts.map((a) => join(dir, a.path));
    const r = run(alloyCheck, ['-allow', ALLOY_COMPONENTS.join(','), ...files]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(files.length);
  });

  it("accepts the committed generated configs with its built-in allow-list, which matches the generator's", () => {
    const files = artifacts.map((a) => join(ROOT, 'generated', a.path));
    const r = run(alloyCheck, files);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const src = readFileSync(join(ROOT, 'tools/alloy-check/main.go'), 'utf8');
    const builtIn = [
      ...src.slice(src.indexOf('var defaultComponents'), src.indexOf('}', src.indexOf('var defaultComponents'))).matchAll(/"([a-z_.]+)"/g),
    ].map((m) => m[1]);
    expect(builtIn).toEqual([...ALLOY_COMPONENTS]);
  });

  it('fails a syntax error with file:line:col', () => {
    const file = join(dir, 'broken.alloy');
    writeFileSync(file, 'loki.write "cloud" {\n  endpoint {\n    url = "https://x"\n  \n}\n\nprometheus.scrape "x" {\n  targets = [\n}\n');
    const r = run(alloyCheck, [file]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: `, 'm'));
  });

  it('fails a component outside the allow-list, an unlabelled component, a duplicate and a dangling reference, each located', () => {
    const file = join(dir, 'unknown.alloy');
    writeFileSync(
      file,
      [
        'prometheus.exporter.self "x" { }',
        'loki.write { }',
        'prometheus.scrape "a" {',
        '  targets    = prometheus.exporter.unix.missing.targets',
        '  forward_to = []',
        '}',
        'prometheus.scrape "a" {',
        '  targets    = []',
        '  forward_to = []',
        '}',
        '',
      ].join('\n'),
    );
    const r = run(alloyCheck, [file]);
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/unknown\.alloy:1:1: component "prometheus\.exporter\.self" is not in the allow-list/),
      expect.stringMatching(/unknown\.alloy:2:1: component "loki\.write" has no label$/),
      expect.stringMatching(/unknown\.alloy:7:1: component prometheus\.scrape\.a is declared twice \(first at .*:3:1\)$/),
      expect.stringMatching(/unknown\.alloy:4:16: reference to prometheus\.exporter\.unix\.missing, which is not declared in this file$/),
    ]);
  });
});
