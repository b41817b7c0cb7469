/*
 * Render benchmark: the example model and a synthetic model 50x larger (50 hosts, 500 services).
 * Each case runs in a fresh process (tsx start-up excluded from the phase timings) and reports
 * wall time per phase, CPU time and peak RSS. Run: npx tsx bench/render.ts
 * (`--write-model FILE` writes the synthetic model and exits).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parse, stringify } from 'yaml';

const ROOT = resolve(import.meta.dirname, '..');

async function child(model: string, out: string): Promise<void> {
  const t0 = performance.now();
  const { loadPlatform } = await import('../model/index.js');
  const { generateAll, plan, writePlan } = await import('../render/render.js');
  const tImport = performance.now();
  const cpu0 = process.cpuUsage();
  const p = loadPlatform(model);
  const tLoad = performance.now();
  const artifacts = generateAll(p);
  const tGen = performance.now();
  writePlan(out, plan(out, artifacts));
  const tWrite = performance.now();
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(
    JSON.stringify({
      files: artifacts.length,
      bytes: artifacts.reduce((n, a) => n + a.content.length, 0),
      importMs: tImport - t0,
      loadMs: tLoad - tImport,
      generateMs: tGen - tLoad,
      writeMs: tWrite - tGen,
      renderMs: tWrite - tImport,
      cpuMs: (cpu.user + cpu.system) / 1000,
      maxRssMb: process.resourceUsage().maxRSS / 1024,
    }),
  );
}

/** 50 hosts, 10 services each, derived from the example so every rule still holds. */
function syntheticModel(): string {
  const base = parse(readFileSync(join(ROOT, 'platform.yaml'), 'utf8')) as {
    hosts: Record<string, unknown>;
    services: Record<string, unknown>;
    infisical: { identities: Array<{ name: string; hosts: string[] }> };
  };
  const hosts: Record<string, unknown> = { ...base.hosts };
  const services: Record<string, unknown> = { ...base.services };
  let count = Object.keys(services).length;
  for (let h = 0; Object.keys(hosts).length < 50; h++) {
    const name = `node-${String(h).padStart(2, '0')}`;
    hosts[name] = {
      kind: 'proxmox-vm',
      addresses: { tailnet: `100.102.${Math.floor(h / 200)}.${(h % 200) + 1}` },
      user: 'ops',
      hostServices: { alloy: { kind: 'alloy' }, tailscale: { kind: 'tailscale' } },
      firewall: { inbound: [{ name: 'ssh', protocol: 'tcp', ports: '22', sources: ['100.64.0.0/10'] }] },
    };
    for (let s = 0; s < 10 && count < 500; s++, count++) {
      const svc = `${name}-app-${s}`;
      services[svc] = {
        host: name,
        image: `registry.example.com/app-${s}:1.0.${h}`,
        ports: [{ name: 'http', port: 8000 + s }],
        ...(s === 0 ? { publish: [{ port: 8000, hostPort: 80 }] } : {}),
        volumes: [{ type: 'volume', source: `${svc}-data`, target: '/data' }],
        env: { LOG_LEVEL: 'info', SERVICE_NAME: svc },
        ...(s > 0 ? { dependsOn: { [`${name}-app-0`]: 'healthy' } } : {}),
        ...(s === 0 ? { healthcheck: { test: ['CMD', 'wget', '-qO-', 'http://127.0.0.1:8000/healthz'] } } : {}),
      };
    }
  }
  base.hosts = hosts;
  base.services = services;
  const homelab = base.infisical.identities.find((i) => i.name === 'homelab-prod')!;
  homelab.hosts = [...homelab.hosts, ...Object.keys(hosts).filter((h) => h.startsWith('node-'))];
  return stringify(base);
}

function runCase(label: string, model: string): void {
  const out = mkdtempSync(join(tmpdir(), 'bench-render-'));
  const runs: Array<Record<string, number>> = [];
  for (let i = 0; i < 5; i++) {
    // First run creates every file; later runs are the common "nothing changed" render.
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/render.ts'), '--child', model, out], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${label}: child failed\n${r.stderr}`);
    const wall = JSON.parse(r.stdout) as Record<string, number>;
    runs.push(wall);
  }
  rmSync(out, { recursive: true, force: true });
  const median = (k: string): number => runs.map((r) => r[k]!).sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
  const first = runs[0]!;
  console.log(
    `${label.padEnd(22)} files ${String(first.files).padStart(4)}  ${(first.bytes! / 1024).toFixed(0).padStart(5)} KiB | ` +
      `render ${median('renderMs').toFixed(0).padStart(5)} ms (load ${median('loadMs').toFixed(0)}, generate ${median('generateMs').toFixed(0)}, write ${median('writeMs').toFixed(0)}) | ` +
      `cpu ${median('cpuMs').toFixed(0).padStart(5)} ms | module import ${median('importMs').toFixed(0)} ms | peak RSS ${Math.max(...runs.map((r) => r.maxRssMb!)).toFixed(0)} MB | first (cold write) ${first.renderMs!.toFixed(0)} ms`,
  );
}

if (process.argv[2] === '--child') {
  await child(process.argv[3]!, process.argv[4]!);
} else if (process.argv[2] === '--write-model') {
  // The synthetic model alone, for profiling a generator: npx tsx bench/render.ts --write-model /tmp/50x.yaml
  writeFileSync(process.argv[3]!, syntheticModel());
} else {
  const dir = mkdtempSync(join(tmpdir(), 'bench-model-'));
  const big = join(dir, 'platform-50x.yaml');
  writeFileSync(big, syntheticModel());
  console.log('render benchmark: median of 5 fresh processes; times exclude node/tsx start-up');
  runCase('example model', join(ROOT, 'platform.yaml'));
  runCase('50x model (50 hosts)', big);
  rmSync(dir, { recursive: true, force: true });
}
