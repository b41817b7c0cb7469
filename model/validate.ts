import type { Platform } from './schema.js';
import { oneOf } from './suggest.js';
import { checkObservability } from './validate-observability.js';
import { ansibleChecks } from './validate-ansible.js';
import { checkSchedules } from './validate-schedules.js';
import { connectionAddress, hostServiceOfKind, hostServicesOf, listenOf, resolveTarget, RUNTIME_SERVICES, servicesOn } from './views.js';

/** A problem before it is located in the source. */
export interface RawProblem {
  path: Array<string | number>;
  /** Point at the mapping key rather than its value. */
  atKey?: boolean;
  message: string;
  fix: string;
}

/**
 * Checks across the model that a schema cannot express: references between sections, cycles,
 * collisions, duplicates. Returns every problem; never throws.
 */
export function crossCheck(p: Platform): RawProblem[] {
  const out: RawProblem[] = [];
  const add = (path: RawProblem['path'], message: string, fix: string, atKey = false): void => {
    out.push({ path, message, fix, atKey });
  };
  const hosts = Object.keys(p.hosts);
  const services = Object.keys(p.services);

  // ---- hosts
  for (const [name, h] of Object.entries(p.hosts)) {
    if (!connectionAddress(h)) {
      add(['hosts', name], `host "${name}" has no address`, 'add "addresses: { tailnet: ... }" or a public address so Ansible can reach it', true);
    }
    const rules = h.firewall.inbound;
    dupes(rules.map((r) => r.name)).forEach((i) => add(['hosts', name, 'firewall', 'inbound', i, 'name'], `firewall rule "${rules[i]!.name}" is defined twice on host "${name}"`, 'give each rule a unique name'));
    const ssh = rules.some((r) => r.protocol === 'tcp' && portInRange(22, r.ports));
    if (!ssh) {
      add(['hosts', name, 'firewall'], `no inbound rule lets SSH (tcp/22) in to "${name}": the firewall would lock out Ansible and you`, 'add a rule { name: ssh, protocol: tcp, ports: "22", sources: [<your tailnet or admin CIDR>] }', true);
    }
    if (h.kind === 'vps' && h.instanceId === undefined) {
      add(['hosts', name], `VPS "${name}" has no instanceId, so its provider firewall cannot be attached`, 'add "instanceId:" with the provider\'s instance id', true);
    }
    const listens = hostServicesOf(p, name).flatMap(([svc, s]) => {
      const l = listenOf(s);
      return l ? [{ svc, ...l }] : [];
    });
    for (const [svc, s] of hostServicesOf(p, name)) {
      if (s.kind === 'ollama' && listenOf(s)?.address !== '127.0.0.1' && listenOf(s)?.address !== h.addresses.tailnet && listenOf(s)?.address !== '0.0.0.0') {
        add(['hosts', name, 'hostServices', svc, 'listen'], `Ollama listens on ${listenOf(s)?.address}, which is neither loopback nor this host's tailnet address`, `use "127.0.0.1:<port>" or "${h.addresses.tailnet ?? '<tailnet address>'}:<port>"`);
      }
    }
    // Published ports collide with each other and with host services' ports.
    const taken = new Map<string, string>();
    for (const l of listens) taken.set(`${l.port}`, `host service "${l.svc}"`);
    for (const [svc, s] of servicesOn(p, name)) {
      s.publish.forEach((pub, i) => {
        const prior = taken.get(`${pub.hostPort}`);
        if (prior) {
          add(['services', svc, 'publish', i, 'hostPort'], `host port ${pub.hostPort} on "${name}" is already taken by ${prior}`, 'publish on another host port, or remove one of the two');
        } else {
          taken.set(`${pub.hostPort}`, `service "${svc}"`);
        }
        if (!s.ports.some((x) => x.port === pub.port)) {
          add(['services', svc, 'publish', i, 'port'], `service "${svc}" publishes port ${pub.port}, which it does not list under "ports"`, `add { name: ..., port: ${pub.port} } to its ports, or publish one of: ${s.ports.map((x) => x.port).join(', ') || '(none)'}`);
        }
      });
    }
  }

  // ---- services
  for (const [name, s] of Object.entries(p.services)) {
    const host = p.hosts[s.host];
    if (!host) {
      add(['services', name, 'host'], `service "${name}" is placed on unknown host "${s.host}"`, oneOf(s.host, hosts));
      continue;
    }
    for (const dep of Object.keys(s.dependsOn)) {
      const target = p.services[dep];
      if (!target) add(['services', name, 'dependsOn', dep], `service "${name}" depends on unknown service "${dep}"`, oneOf(dep, services.filter((x) => x !== name)), true);
      else if (target.host !== s.host && p.hosts[target.host]) add(['services', name, 'dependsOn', dep], `service "${name}" on "${s.host}" depends on "${dep}" on "${target.host}"; compose can only order services on one host`, `place both on the same host, or drop the dependency`, true);
      else if (dep === name) add(['services', name, 'dependsOn', dep], `service "${name}" depends on itself`, 'remove it', true);
    }
    dupes(s.ports.map((x) => x.port)).forEach((i) => add(['services', name, 'ports', i, 'port'], `port ${s.ports[i]!.port} is listed twice`, 'list each port once'));
    dupes(s.ports.map((x) => x.name)).forEach((i) => add(['services', name, 'ports', i, 'name'], `port name "${s.ports[i]!.name}" is used twice`, 'give each port a unique name'));
    dupes(s.volumes.map((v) => v.target)).forEach((i) => add(['services', name, 'volumes', i, 'target'], `two volumes mount at ${s.volumes[i]!.target}`, 'mount each at its own path'));
    s.volumes.forEach((v, i) => {
      if (v.type === 'vault' && !host.vaultPath) add(['services', name, 'volumes', i, 'type'], `service "${name}" mounts the vault, but host "${s.host}" has no vaultPath`, `add "vaultPath:" to hosts.${s.host}`);
    });
    s.usesHostServices.forEach((hs, i) => {
      if (!host.hostServices[hs]) add(['services', name, 'usesHostServices', i], `service "${name}" uses host service "${hs}", which host "${s.host}" does not run`, oneOf(hs, Object.keys(host.hostServices)));
    });
    if (s.secrets.length && !p.infisical.identities.some((id) => id.hosts.includes(s.host))) {
      add(['services', name, 'secrets'], `service "${name}" needs secrets but no Infisical identity covers host "${s.host}"`, `add "${s.host}" to the hosts of an identity under infisical.identities`, true);
    }
    dupes(s.secrets).forEach((i) => add(['services', name, 'secrets', i], `secret "${s.secrets[i]}" is listed twice`, 'list each secret once'));
    for (const k of Object.keys(s.env)) {
      if (s.secrets.includes(k)) add(['services', name, 'env', k], `"${k}" is both a plain env value and a secret`, 'keep it under "secrets" only', true);
    }
    if (s.runtime && !p.runtimeImage) {
      add(['services', name, 'runtime'], `service "${name}" runs the runtime image, but the model names none`, 'add "runtimeImage: { registry: ghcr.io, repository: <owner>/platform-runtime, tag: <version> }"');
    }
  }
  for (const cycle of dependencyCycles(p)) {
    const [first, second] = cycle;
    add(['services', first!, 'dependsOn', second!], `depends_on forms a cycle: ${[...cycle, first].join(' -> ')}`, 'remove one dependency in the cycle so services can start in order', true);
  }
  for (const svc of RUNTIME_SERVICES) {
    if (!p.services[svc]) add(['services'], `the runtime service "${svc}" is missing`, `add services.${svc} (the runtime runs web, worker, mcp and rag)`, true);
  }
  // ---- mcp: the sandbox privileges and the tool server's token
  for (const [name, s] of Object.entries(p.services)) {
    if (s.sandbox && s.command?.[0] !== 'mcp') {
      add(['services', name, 'sandbox'], `service "${name}" asks for sandbox privileges, but only the MCP tool server (command [mcp]) runs untrusted code`, 'remove "sandbox" from this service');
    }
  }
  const mcpSvc = p.services.mcp;
  if (mcpSvc && mcpSvc.sandbox !== 'bubblewrap') {
    add(['services', 'mcp', 'sandbox'], 'the MCP tool server runs run_code under bubblewrap, which needs "sandbox: bubblewrap" to create its namespaces in the container', 'add "sandbox: bubblewrap" to services.mcp');
  }
  for (const svc of ['mcp', 'worker'] as const) {
    const s = p.services[svc];
    if (s && !s.secrets.includes(p.mcp.authTokenSecret)) {
      add(['services', svc, 'secrets'], `service "${svc}" does not get the MCP bearer token "${p.mcp.authTokenSecret}"`, `add "${p.mcp.authTokenSecret}" to services.${svc}.secrets (the ${svc === 'mcp' ? 'server checks it' : 'research client presents it'})`);
    }
  }
  const queueFolders = [p.vault.folders.queue, p.vault.folders.active, p.vault.folders.completed, p.vault.folders.failed];
  p.mcp.vault.writableFolders.forEach((f, i) => {
    const hit = queueFolders.find((q) => f === q || f.startsWith(`${q}/`) || q.startsWith(`${f}/`));
    if (hit !== undefined) add(['mcp', 'vault', 'writableFolders', i], `"${f}" overlaps the queue folder "${hit}": jobs enter the queue only through submit_job`, 'choose a folder outside the queue folders');
  });

  const runtimeHosts = new Set(RUNTIME_SERVICES.flatMap((s) => (p.services[s] && p.hosts[p.services[s].host] ? [p.services[s].host] : [])));
  if (runtimeHosts.size > 1) add(['services', 'worker', 'host'], `the runtime services are spread over ${[...runtimeHosts].join(', ')}; they share one vault and data volume`, 'place web, worker, mcp and rag on one host');

  // ---- cloudflare
  const zone = p.cloudflare.zone;
  if (p.domain !== zone && !p.domain.endsWith(`.${zone}`)) add(['cloudflare', 'zone'], `zone "${zone}" does not contain the domain "${p.domain}"`, `set the zone to "${p.domain}" or a parent of it`);
  const connector = p.services[p.cloudflare.tunnel.connector];
  if (!connector) add(['cloudflare', 'tunnel', 'connector'], `tunnel connector "${p.cloudflare.tunnel.connector}" is not a service`, oneOf(p.cloudflare.tunnel.connector, services));
  else if (!connector.secrets.includes(p.cloudflare.tunnel.tokenSecret)) {
    add(['cloudflare', 'tunnel', 'connector'], `the tunnel token is written to secret "${p.cloudflare.tunnel.tokenSecret}", but connector service "${p.cloudflare.tunnel.connector}" does not list it`, `add "${p.cloudflare.tunnel.tokenSecret}" to services.${p.cloudflare.tunnel.connector}.secrets (cloudflared reads TUNNEL_TOKEN)`);
  }
  p.cloudflare.hostnames.forEach((h, i) => {
    if (h.hostname !== zone && !h.hostname.endsWith(`.${zone}`)) add(['cloudflare', 'hostnames', i, 'hostname'], `hostname "${h.hostname}" is outside the zone "${zone}"`, `use a name ending in ".${zone}"`);
    if (!resolveTarget(p, h.target)) {
      const candidates = [...services, ...hosts.flatMap((hn) => hostServicesOf(p, hn).filter(([, s]) => listenOf(s)).map(([sn]) => `${hn}/${sn}`))];
      add(['cloudflare', 'hostnames', i, 'target'], `hostname "${h.hostname}" points at "${h.target}", which is neither a service with a port nor a host service with a listen address`, oneOf(h.target, candidates));
    }
  });
  dupes(p.cloudflare.hostnames.map((h) => h.hostname)).forEach((i) => add(['cloudflare', 'hostnames', i, 'hostname'], `hostname "${p.cloudflare.hostnames[i]!.hostname}" is defined twice`, 'define each hostname once'));

  // ---- infisical
  p.infisical.identities.forEach((id, i) => {
    id.hosts.forEach((h, j) => {
      if (!p.hosts[h]) add(['infisical', 'identities', i, 'hosts', j], `identity "${id.name}" names unknown host "${h}"`, oneOf(h, hosts));
    });
  });
  dupes(p.infisical.identities.map((x) => x.name)).forEach((i) => add(['infisical', 'identities', i, 'name'], `identity "${p.infisical.identities[i]!.name}" is defined twice`, 'give each identity a unique name'));
  const claimed = new Map<string, string>();
  p.infisical.identities.forEach((id, i) =>
    id.hosts.forEach((h, j) => {
      const prior = claimed.get(h);
      if (prior) add(['infisical', 'identities', i, 'hosts', j], `host "${h}" is covered by identities "${prior}" and "${id.name}"`, 'a host authenticates as exactly one identity: remove it from one');
      claimed.set(h, id.name);
    }),
  );

  // ---- aws
  const buckets = Object.entries(p.aws.buckets);
  dupes(buckets.map(([, b]) => b.name)).forEach((i) => add(['aws', 'buckets', buckets[i]![0], 'name'], `bucket name "${buckets[i]![1].name}" is used twice`, 'bucket names are global: give each its own'));

  // ---- routing
  const routes = p.routing.models;
  dupes(routes.map((r) => r.id)).forEach((i) => add(['routing', 'models', i, 'id'], `model id "${routes[i]!.id}" is routed twice`, 'route each model id once'));
  routes.forEach((r, i) => {
    if (r.provider === 'ollama') {
      if (r.host === undefined) {
        add(['routing', 'models', i], `Ollama model "${r.id}" has no host`, `add "host:" naming a host that runs Ollama: ${ollamaHostList(p)}`, true);
      } else if (!p.hosts[r.host]) {
        add(['routing', 'models', i, 'host'], `model "${r.id}" is routed to unknown host "${r.host}"`, oneOf(r.host, hosts));
      } else {
        const ollama = hostServiceOfKind(p, r.host, 'ollama');
        if (!ollama) add(['routing', 'models', i, 'host'], `model "${r.id}" is routed to "${r.host}", which runs no Ollama`, `route it to a host that runs Ollama (${ollamaHostList(p)}) or add an ollama host service to "${r.host}"`);
        else if (!ollama[1].models.includes(r.id)) add(['routing', 'models', i, 'id'], `model "${r.id}" is not pulled on "${r.host}"`, `add "${r.id}" to hosts.${r.host}.hostServices.${ollama[0]}.models`);
      }
    } else if (r.host !== undefined) {
      add(['routing', 'models', i, 'host'], `"host" applies to Ollama models only; "${r.id}" is served by ${r.provider}`, 'remove "host"', true);
    }
    if (r.provider === 'gemini' && !r.id.startsWith('models/')) add(['routing', 'models', i, 'id'], `Gemini model id "${r.id}" lacks the "models/" prefix its OpenAI-compatible endpoint requires`, `write "models/${r.id}"`);
  });
  if (!routes.some((r) => r.id === p.routing.default)) add(['routing', 'default'], `default model "${p.routing.default}" is not in routing.models`, oneOf(p.routing.default, routes.map((r) => r.id)));
  else if (routes.find((r) => r.id === p.routing.default)?.healthGated) add(['routing', 'default'], `default model "${p.routing.default}" is health-gated, so the default would vanish when its host is down`, 'make an always-on model the default');
  const emb = p.routing.embedding;
  if (!p.hosts[emb.host]) add(['routing', 'embedding', 'host'], `embedding host "${emb.host}" is unknown`, oneOf(emb.host, hosts));
  else {
    const ollama = hostServiceOfKind(p, emb.host, 'ollama');
    if (!ollama) add(['routing', 'embedding', 'host'], `embedding host "${emb.host}" runs no Ollama`, `use one of: ${ollamaHostList(p)}`);
    else if (!ollama[1].models.includes(emb.model)) add(['routing', 'embedding', 'model'], `embedding model "${emb.model}" is not pulled on "${emb.host}"`, `add "${emb.model}" to hosts.${emb.host}.hostServices.${ollama[0]}.models`);
  }
  out.push(...checkObservability(p));
  out.push(...ansibleChecks(p));
  // The clock only feeds the next-run times an error shows; no generator reads it.
  out.push(...checkSchedules(p, new Date()));
  return out;
}

function ollamaHostList(p: Platform): string {
  const list = Object.keys(p.hosts).filter((h) => hostServiceOfKind(p, h, 'ollama'));
  return list.length ? list.join(', ') : '(no host runs Ollama)';
}

function portInRange(port: number, range: string): boolean {
  if (range === 'any') return true;
  const [lo, hi] = range.split('-').map(Number);
  return port >= lo! && port <= (hi ?? lo)!;
}

/** Indexes of the second and later occurrences of each repeated value. */
function dupes<T>(values: readonly T[]): number[] {
  const seen = new Set<T>();
  const out: number[] = [];
  values.forEach((v, i) => {
    if (seen.has(v)) out.push(i);
    seen.add(v);
  });
  return out;
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
