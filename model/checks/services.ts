import type { Platform } from '../schema.js';
import { oneOf } from '../suggest.js';
import { alloyHosts, RUNTIME_SERVICES, runtimeHost, servicePort } from '../views.js';
import { dupes, problems, type RawProblem } from './problems.js';

/* services: placement, dependencies, ports, volumes, secrets, and the runtime's own four. */
export function checkServices(p: Platform): RawProblem[] {
  const { list, add } = problems();
  const hosts = Object.keys(p.hosts);
  const services = Object.keys(p.services);
  for (const [name, s] of Object.entries(p.services)) {
    const host = p.hosts[s.host];
    if (!host) {
      add(['services', name, 'host'], `service "${name}" is placed on unknown host "${s.host}"`, oneOf(s.host, hosts));
      continue;
    }
    for (const dep of Object.keys(s.dependsOn)) {
      const target = p.services[dep];
      if (!target)
        add(
          ['services', name, 'dependsOn', dep],
          `service "${name}" depends on unknown service "${dep}"`,
          oneOf(
            dep,
            services.filter((x) => x !== name),
          ),
          true,
        );
      else if (target.host !== s.host && p.hosts[target.host])
        add(
          ['services', name, 'dependsOn', dep],
          `service "${name}" on "${s.host}" depends on "${dep}" on "${target.host}"; compose can only order services on one host`,
          `place both on the same host, or drop the dependency`,
          true,
        );
      else if (dep === name) add(['services', name, 'dependsOn', dep], `service "${name}" depends on itself`, 'remove it', true);
    }
    dupes(s.ports.map((x) => x.port)).forEach((i) =>
      add(['services', name, 'ports', i, 'port'], `port ${s.ports[i]!.port} is listed twice`, 'list each port once'),
    );
    dupes(s.ports.map((x) => x.name)).forEach((i) =>
      add(['services', name, 'ports', i, 'name'], `port name "${s.ports[i]!.name}" is used twice`, 'give each port a unique name'),
    );
    dupes(s.volumes.map((v) => v.target)).forEach((i) =>
      add(['services', name, 'volumes', i, 'target'], `two volumes mount at ${s.volumes[i]!.target}`, 'mount each at its own path'),
    );
    s.volumes.forEach((v, i) => {
      if (v.type === 'vault' && !host.vaultPath)
        add(
          ['services', name, 'volumes', i, 'type'],
          `service "${name}" mounts the vault, but host "${s.host}" has no vaultPath`,
          `add "vaultPath:" to hosts.${s.host}`,
        );
    });
    s.usesHostServices.forEach((hs, i) => {
      if (!host.hostServices[hs])
        add(
          ['services', name, 'usesHostServices', i],
          `service "${name}" uses host service "${hs}", which host "${s.host}" does not run`,
          oneOf(hs, Object.keys(host.hostServices)),
        );
    });
    if (s.secrets.length && !p.infisical.identities.some((id) => id.hosts.includes(s.host))) {
      add(
        ['services', name, 'secrets'],
        `service "${name}" needs secrets but no Infisical identity covers host "${s.host}"`,
        `add "${s.host}" to the hosts of an identity under infisical.identities`,
        true,
      );
    }
    dupes(s.secrets).forEach((i) =>
      add(['services', name, 'secrets', i], `secret "${s.secrets[i]}" is listed twice`, 'list each secret once'),
    );
    for (const k of Object.keys(s.env)) {
      if (s.secrets.includes(k))
        add(['services', name, 'env', k], `"${k}" is both a plain env value and a secret`, 'keep it under "secrets" only', true);
    }
    if (s.runtime && !p.runtimeImage) {
      add(
        ['services', name, 'runtime'],
        `service "${name}" runs the runtime image, but the model names none`,
        'add "runtimeImage: { registry: ghcr.io, repository: <owner>/platform-runtime, tag: <version> }"',
      );
    }
  }
  for (const cycle of dependencyCycles(p)) {
    const [first, second] = cycle;
    add(
      ['services', first!, 'dependsOn', second!],
      `depends_on forms a cycle: ${[...cycle, first].join(' -> ')}`,
      'remove one dependency in the cycle so services can start in order',
      true,
    );
  }
  for (const svc of RUNTIME_SERVICES) {
    if (!p.services[svc])
      add(['services'], `the runtime service "${svc}" is missing`, `add services.${svc} (the runtime runs web, worker, mcp and rag)`, true);
  }
  // The runtime's slice takes these ports from the model and invents none.
  for (const svc of ['web', 'mcp', 'rag', 'qdrant'] as const) {
    const s = p.services[svc];
    if (s && s.ports.length === 0)
      add(
        ['services', svc, 'ports'],
        `service "${svc}" lists no port, so the runtime cannot be told where to reach it`,
        `add ports: [{ name: http, port: <port> }] to services.${svc}`,
        true,
      );
  }
  const worker = p.services.worker;
  // Where Alloy scrapes the worker, the observability check reports a missing metrics port.
  if (worker && servicePort(worker, 'metrics') === undefined && !alloyHosts(p).includes(worker.host)) {
    add(
      ['services', 'worker', 'ports'],
      'the worker has no port named "metrics", which the runtime serves /metrics on',
      'add { name: metrics, port: 9464 } to services.worker.ports',
      true,
    );
  }
  if (worker && !worker.volumes.some((v) => v.type === 'vault')) {
    add(
      ['services', 'worker', 'volumes'],
      'the worker does not mount the vault, which holds its queue',
      'add { type: vault, target: /vault } to services.worker.volumes',
      true,
    );
  }
  const neo4j = p.services.neo4j;
  if (neo4j && servicePort(neo4j, 'bolt') === undefined)
    add(
      ['services', 'neo4j', 'ports'],
      'neo4j has no port named "bolt", which the runtime connects to',
      'add { name: bolt, port: 7687 } to services.neo4j.ports',
      true,
    );
  const alloy = p.services.alloy;
  if (alloy && alloy.host === runtimeHost(p) && servicePort(alloy, 'otlp-http') === undefined) {
    add(
      ['services', 'alloy', 'ports'],
      `Alloy runs beside the runtime on "${alloy.host}" but has no port named "otlp-http" to receive its traces`,
      'add { name: otlp-http, port: 4318 } to services.alloy.ports',
      true,
    );
  }
  const runtimeHosts = new Set(RUNTIME_SERVICES.flatMap((s) => (p.services[s] && p.hosts[p.services[s].host] ? [p.services[s].host] : [])));
  if (runtimeHosts.size > 1)
    add(
      ['services', 'worker', 'host'],
      `the runtime services are spread over ${[...runtimeHosts].join(', ')}; they share one vault and data volume`,
      'place web, worker, mcp and rag on one host',
    );
  return list;
}

/** Each elementary cycle once, as the list of services in it (starting at its smallest name). */
function dependencyCycles(p: Platform): string[][] {
  const cycles = new Map<string, string[]>();
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 'visiting');
    stack.push(n);
    for (const dep of Object.keys(p.services[n]?.dependsOn ?? {})) {
      if (!p.services[dep] || dep === n) continue;
      if (state.get(dep) === 'visiting') {
        const cycle = stack.slice(stack.indexOf(dep));
        const start = cycle.indexOf([...cycle].sort()[0]!);
        const canon = [...cycle.slice(start), ...cycle.slice(0, start)];
        cycles.set(canon.join('>'), canon);
      } else if (!state.has(dep)) visit(dep);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of Object.keys(p.services)) if (!state.has(n)) visit(n);
  return [...cycles.values()];
}
