import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parser } from '@prometheus-io/lezer-promql';
import { loadPlatform, type Platform } from '../../model/index.js';
import type { Artifact } from '../../render/types.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const TOOLS = join(ROOT, '.tools');

export function platform(): Platform {
  return loadPlatform(join(ROOT, 'platform.yaml'));
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: readonly string[], cwd = ROOT): RunResult {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 540_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Builds (once, cached in .tools/) the Go tools: amtool and tools/alloy-check. Serialised by a lock. */
export function goTools(): { amtool: string; alloyCheck: string } {
  mkdirSync(TOOLS, { recursive: true });
  const r = run('flock', [join(TOOLS, '.lock'), 'bash', 'scripts/install-go-tools.sh']);
  if (r.status !== 0) throw new Error(`scripts/install-go-tools.sh failed:\n${r.stdout}${r.stderr}`);
  return { amtool: join(TOOLS, 'amtool'), alloyCheck: join(TOOLS, 'alloy-check') };
}

/** Writes artifacts under a fresh temporary directory, as `make render` lays them out. */
export function writeArtifacts(artifacts: readonly Artifact[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'obs-'));
  for (const a of artifacts) {
    const file = join(dir, a.path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, a.content);
  }
  return dir;
}

export interface Selector {
  name: string;
  labels: string[];
}

/** Grafana's built-in interval variables, replaced so the query parses as plain PromQL. */
function ungrafana(expr: string): string {
  return expr.replace(/\$__(rate_interval|interval|range)/g, '5m');
}

/**
 * Every vector selector in a PromQL expression, parsed with Prometheus's own lezer grammar:
 * the metric name and the label names it matches on. Throws on a syntax error.
 */
export function selectors(expr: string): Selector[] {
  const text = ungrafana(expr);
  const tree = parser.parse(text);
  const out: Selector[] = [];
  let error: number | undefined;
  tree.iterate({
    enter(n) {
      if (n.type.isError && error === undefined) error = n.from;
      if (n.name !== 'VectorSelector') return;
      const sel: Selector = { name: '', labels: [] };
      const c = n.node.cursor();
      c.iterate((x) => {
        if (x.name === 'Identifier' && sel.name === '') sel.name = text.slice(x.from, x.to);
        if (x.name === 'UnquotedLabelMatcher') {
          const label = x.node.getChild('LabelName');
          const value = x.node.getChild('StringLiteral');
          const name = label ? text.slice(label.from, label.to) : '';
          if (name === '__name__' && value) sel.name = JSON.parse(text.slice(value.from, value.to)) as string;
          else if (name) sel.labels.push(name);
        }
      });
      out.push(sel);
    },
  });
  if (error !== undefined) throw new Error(`PromQL syntax error at offset ${error} in: ${expr}`);
  return out;
}

/** A first build of amtool downloads and compiles Alertmanager: allow it several minutes. */
export const GO_BUILD_TIMEOUT = 600_000;
