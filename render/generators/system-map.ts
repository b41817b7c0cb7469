import { routeGroup } from '@platform/contract';
import {
  GATEWAY_SERVICE,
  hostServicesOf,
  jetstreamOf,
  listenOf,
  NATS_SERVICE,
  publicEndpoints,
  runtimeHost,
  servicesOn,
  WORKER_SERVICE,
  type Platform,
  type Service,
} from '../../model/index.js';
import { notice, type Generator } from '../types.js';

/** Images whose containers hold state worth drawing as a data store. */
const DATA_STORE = /(^|\/)(qdrant|neo4j|postgres|mysql|mariadb|redis|prometheus)[:@]/;

const id = (...parts: string[]): string => parts.join('_').replace(/[^A-Za-z0-9_]/g, '_');
const esc = (s: string): string => s.replace(/"/g, '#quot;');

/** A compose service's node: by name for the model's own, by host and name for those the queue adds to several hosts. */
function svcId(p: Platform, host: string, name: string): string {
  return p.services[name]?.host === host ? id('svc', name) : id('svc', host, name);
}

function serviceNode(p: Platform, host: string, name: string, s: Service): string {
  const ports = s.ports.map((x) => `:${x.port}`).join(' ');
  const label = esc(`${name}${ports ? ` ${ports}` : ''}`);
  const nodeId = svcId(p, host, name);
  return s.image && DATA_STORE.test(s.image) ? `${nodeId}[("${label}")]` : `${nodeId}["${label}"]`;
}

function mermaid(p: Platform): string[] {
  const lines = ['flowchart LR', '  users(("people and machines"))'];
  const endpoints = publicEndpoints(p);
  lines.push('  subgraph cloudflare["Cloudflare"]');
  lines.push(`    tunnel{{"tunnel ${esc(p.cloudflare.tunnel.name)}"}}`);
  for (const e of endpoints) {
    const access = e.access ? (e.access.policy === 'people' ? 'Access: people' : 'Access: service token') : 'public';
    lines.push(`    ${id('hn', e.hostname)}["${esc(e.hostname)}<br/>${access}"]`);
  }
  lines.push('  end');
  for (const [hostName, h] of Object.entries(p.hosts)) {
    lines.push(`  subgraph ${id('host', hostName)}["${esc(`${hostName} (${h.kind})`)}"]`);
    for (const [n, s] of servicesOn(p, hostName)) lines.push(`    ${serviceNode(p, hostName, n, s)}`);
    for (const [n, s] of hostServicesOf(p, hostName)) {
      const l = listenOf(s);
      lines.push(`    ${id('hs', hostName, n)}[["${esc(`${n}${l ? ` ${l.address}:${l.port}` : ''} (host)`)}"]]`);
    }
    if (h.vaultPath) lines.push(`    ${id('vault', hostName)}[/"vault ${esc(h.vaultPath)}"/]`);
    lines.push('  end');
  }
  lines.push('  subgraph aws["AWS S3"]');
  for (const [key, b] of Object.entries(p.aws.buckets)) lines.push(`    ${id('bucket', key)}[("${esc(b.name)}")]`);
  lines.push('  end');
  lines.push('  grafana(("Grafana Cloud"))');

  for (const e of endpoints) {
    lines.push(`  users --> ${id('hn', e.hostname)} --> tunnel`);
    const target = e.target.kind === 'service' ? id('svc', e.target.service) : id('hs', e.target.host, e.target.service);
    lines.push(`  tunnel --> ${target}`);
  }
  const connector = p.services[p.cloudflare.tunnel.connector];
  if (connector) lines.push(`  ${id('svc', p.cloudflare.tunnel.connector)} -.->|connects| tunnel`);
  for (const h of Object.keys(p.hosts)) {
    for (const [n, s] of servicesOn(p, h)) {
      for (const dep of Object.keys(s.dependsOn)) lines.push(`  ${svcId(p, h, n)} --> ${svcId(p, h, dep)}`);
      for (const hs of s.usesHostServices) lines.push(`  ${svcId(p, h, n)} -.->|host.docker.internal| ${id('hs', h, hs)}`);
      if (s.volumes.some((v) => v.type === 'vault')) lines.push(`  ${svcId(p, h, n)} --- ${id('vault', h)}`);
    }
  }
  const nats = jetstreamOf(p);
  if (nats) {
    // Clients without a server on their host dial the cluster over the tailnet; servers route to each other.
    const first = nats.servers[0]!;
    for (const h of Object.keys(p.hosts)) {
      if (nats.servers.includes(h)) continue;
      for (const [n] of servicesOn(p, h).filter(([x]) => x === WORKER_SERVICE || x === GATEWAY_SERVICE))
        lines.push(`  ${svcId(p, h, n)} -.->|tailnet| ${svcId(p, first, NATS_SERVICE)}`);
    }
    nats.servers.forEach((a, i) =>
      nats.servers.slice(i + 1).forEach((b) => lines.push(`  ${svcId(p, a, NATS_SERVICE)} <-.->|route| ${svcId(p, b, NATS_SERVICE)}`)),
    );
  }
  const routedHosts = [
    ...new Set(p.routing.models.flatMap((r) => (r.provider === 'ollama' && r.host && p.services.worker?.host !== r.host ? [r.host] : []))),
  ];
  for (const h of routedHosts) {
    const ollama = hostServicesOf(p, h).find(([, s]) => s.kind === 'ollama');
    if (ollama && p.services.worker) lines.push(`  ${id('svc', 'worker')} -.->|tailnet| ${id('hs', h, ollama[0])}`);
  }
  for (const [h] of Object.entries(p.hosts))
    if (hostServicesOf(p, h).some(([, s]) => s.kind === 'alloy') || servicesOn(p, h).some(([n]) => n === 'alloy'))
      lines.push(`  ${id('host', h)} -.->|telemetry| grafana`);
  const snapshotHosts = Object.entries(p.hosts).filter(([, h]) => h.vaultPath);
  if (snapshotHosts[0]) lines.push(`  ${id('vault', snapshotHosts[0][0])} -.->|snapshots| ${id('bucket', 'vault-snapshots')}`);
  return lines;
}

function table(header: string[], rows: string[][]): string[] {
  const cell = (s: string): string => s.replace(/\|/g, '\\|');
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)];
}

export function systemMap(p: Platform): string {
  const out: string[] = [notice('<!--').trimEnd(), '', `# System map: ${p.name}`, ''];
  out.push(
    `Environment \`${p.env}\`, domain \`${p.domain}\`, ${Object.keys(p.hosts).length} hosts, ${Object.keys(p.services).length} compose services, ${p.routing.models.length} routed models.`,
    '',
  );
  out.push('```mermaid', ...mermaid(p), '```', '');

  out.push('## Services per host', '');
  for (const [hostName, h] of Object.entries(p.hosts)) {
    const addr = [h.addresses.public && `public ${h.addresses.public}`, h.addresses.tailnet && `tailnet ${h.addresses.tailnet}`]
      .filter(Boolean)
      .join(', ');
    out.push(`### ${hostName}`, '', `${h.kind}${h.description ? `: ${h.description}` : ''}. ${addr}; Ansible user \`${h.user}\`.`, '');
    const rows = servicesOn(p, hostName).map(([n, s]) => [
      n,
      'compose',
      s.ports.map((x) => `${x.port} (${x.name})`).join(', ') || '-',
      s.publish.map((x) => `${x.hostIp}:${x.hostPort}`).join(', ') || '-',
      Object.entries(s.dependsOn)
        .map(([d, c]) => `${d} (${c})`)
        .join(', ') || '-',
    ]);
    for (const [n, s] of hostServicesOf(p, hostName)) {
      const l = listenOf(s);
      rows.push([n, `host (${s.kind})`, l ? String(l.port) : '-', l ? `${l.address}:${l.port}` : '-', '-']);
    }
    out.push(...table(['service', 'runs as', 'ports', 'listens / published', 'depends on'], rows), '');
    if (h.firewall.inbound.length) {
      out.push(
        ...table(
          ['inbound rule', 'protocol', 'ports', 'from'],
          h.firewall.inbound.map((r) => [r.name, r.protocol, r.ports, r.sources.join(', ')]),
        ),
        '',
      );
    }
  }

  out.push('## Public hostnames', '');
  out.push(
    ...table(
      ['hostname', 'target', 'origin (from the tunnel connector)', 'access'],
      publicEndpoints(p).map((e) => [
        e.hostname,
        e.target.kind === 'service' ? `${e.target.service} on ${e.target.host}` : `${e.target.service} on ${e.target.host} (host)`,
        e.origin,
        e.access
          ? e.access.policy === 'people'
            ? `people: ${e.access.emails.join(', ')}`
            : `service token ${e.access.serviceToken}`
          : 'public',
      ]),
    ),
    '',
  );

  out.push('## Model routing', '');
  out.push(
    ...table(
      ['model', 'provider', 'host', 'purpose', 'health-gated'],
      p.routing.models.map((r) => [
        `${r.id}${r.id === p.routing.default ? ' (default)' : ''}`,
        r.provider,
        r.host ?? '-',
        r.purpose,
        r.healthGated ? 'yes' : 'no',
      ]),
    ),
    '',
    `Embeddings: \`${p.routing.embedding.model}\` on ${p.routing.embedding.host} (${p.routing.embedding.dimensions} dimensions).`,
    '',
  );

  out.push(...queueSection(p));

  out.push('## Schedules', '');
  const schedules = Object.entries(p.schedules).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (schedules.length === 0) out.push('None.', '');
  else {
    // No next-run times here: they depend on the clock, and this file is a pure function of the model.
    out.push(
      ...table(
        ['schedule', 'cron', 'time zone', 'job', 'catch-up', 'enabled'],
        schedules.map(([n, s]) => [
          n,
          `\`${s.cron}\``,
          s.timezone,
          `${s.job.type}${s.job.model ? ` on ${s.job.model}` : ''}${s.job.template ? `, template ${s.job.template}` : ''}`,
          s.catchUp,
          s.enabled ? 'yes' : 'no',
        ]),
      ),
      '',
      'Upcoming runs: `runtime schedule next NAME`.',
      '',
    );
  }

  out.push('## Data stores', '');
  const stores: string[][] = Object.entries(p.services)
    .filter(([, s]) => s.image && DATA_STORE.test(s.image))
    .map(([n, s]) => [
      n,
      s.host,
      s.image!,
      s.volumes.map((v) => (v.type === 'volume' ? v.source : v.type === 'bind' ? v.source : 'vault')).join(', ') || '-',
    ]);
  for (const [key, b] of Object.entries(p.aws.buckets)) stores.push([key, `S3 ${p.aws.region}`, b.name, b.purpose]);
  for (const [h, host] of Object.entries(p.hosts))
    if (host.vaultPath) stores.push(['vault', h, host.vaultPath, 'Obsidian vault (Syncthing)']);
  out.push(...table(['store', 'where', 'image / name', 'holds'], stores), '');
  return `${out.join('\n')}`;
}

/** The job queue: its backend and, for jetstream, the cluster, the streams and which host runs which group. */
function queueSection(p: Platform): string[] {
  const out = ['## Job queue', ''];
  const n = jetstreamOf(p);
  const f = p.vault.folders;
  if (!n) {
    out.push(
      `Backend \`folder\`: the worker on ${runtimeHost(p)} claims files from \`${f.queue}/\` and runs every job itself.${p.nats ? ' The model describes a NATS cluster, unused until `vault.queue.backend: jetstream`.' : ''}`,
      '',
    );
    return out;
  }
  const st = n.stream;
  out.push(
    `Backend \`jetstream\`: the gateway on ${runtimeHost(p)} claims files from \`${f.queue}/\`, publishes each job to stream \`${st.name}\` on \`${st.subjectPrefix}.run.<group>\`, and writes the results workers publish to \`${st.resultsName}\` back into the vault. Workers need no vault.`,
    '',
    ...table(
      ['NATS server', 'client', 'cluster', 'monitor', 'exporter'],
      n.servers.map((h) => [
        h,
        `${p.hosts[h]?.addresses.tailnet ?? p.hosts[h]?.addresses.public ?? '-'}:${n.ports.client}`,
        n.servers.length > 1 ? String(n.ports.cluster) : '-',
        String(n.ports.monitor),
        String(n.ports.exporter),
      ]),
    ),
    '',
    `Cluster \`${n.cluster}\`, ${n.servers.length} server${n.servers.length === 1 ? '' : 's'}; streams \`${st.name}\` (work queue) and \`${st.resultsName}\` with ${st.replicas} replica${st.replicas === 1 ? '' : 's'}; ack wait ${st.ackWaitSeconds}s, at most ${st.maxDeliver} deliveries, duplicate window ${st.duplicateWindowSeconds}s, kept ${st.maxAgeHours}h.`,
    '',
    ...table(
      ['worker host', 'groups', 'models'],
      Object.entries(n.workers).map(([h, groups]) => [
        h,
        groups.join(', '),
        p.routing.models
          .filter((r) => groups.includes(routeGroup(r)))
          .map((r) => r.id)
          .join(', ') || '-',
      ]),
    ),
    '',
  );
  return out;
}

export const systemMapGenerator: Generator = {
  name: 'system-map',
  generate: (p) => [{ path: 'docs/system-map.md', content: systemMap(p) }],
};
