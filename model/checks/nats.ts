import { CLOUD_GROUP, routeGroup } from '@platform/contract';
import { isGroupName, NATS_CA_MOUNT, natsClientHosts, routeGroupsInUse } from '../nats.js';
import type { Platform } from '../schema.js';
import { oneOf } from '../suggest.js';
import { connectionAddress, hostServiceOfKind, identityFor, listenOf, runtimeHost } from '../views.js';
import { cidrOverlaps, dupes, portInRange, problems, type RawProblem } from './problems.js';

/*
 * The queue backend and the NATS cluster behind it: the servers and worker hosts exist, the
 * cluster can form a quorum, every route's jobs have a worker that can run them, and each worker
 * reaches the models of the groups it takes. A `nats:` section's own shape is checked whether or
 * not the jetstream backend is on; what only matters once it runs (every route's group taken, no
 * idle group, firewalls, the runtime host's worker, secrets on the worker hosts) with it on.
 */
export function checkNats(p: Platform): RawProblem[] {
  const { list, add } = problems();
  const n = p.nats;
  const hosts = Object.keys(p.hosts);
  const jetstream = p.vault.queue.backend === 'jetstream';
  if (!n) {
    if (jetstream)
      add(
        ['vault', 'queue', 'backend'],
        'the jetstream backend needs a NATS cluster, but the model has no "nats:" section',
        'add "nats:" with at least "servers: [<host>]" and "workers: { <host>: [cloud, ...] }", or set the backend to "folder"',
      );
    return list;
  }

  // ---- servers
  n.servers.forEach((s, i) => {
    if (!p.hosts[s]) add(['nats', 'servers', i], `NATS server host "${s}" is not under hosts:`, oneOf(s, hosts));
  });
  dupes(n.servers).forEach((i) => add(['nats', 'servers', i], `host "${n.servers[i]}" is listed twice`, 'list each server host once'));
  const count = new Set(n.servers).size;
  if (count > 1 && count % 2 === 0)
    add(
      ['nats', 'servers'],
      `${count} NATS servers cannot keep JetStream's quorum through the loss of one more than ${count - 1} can`,
      `run 1 server, or an odd number of at least 3 (add a host or remove "${n.servers[n.servers.length - 1]}")`,
    );
  if (n.stream.replicas > count)
    add(
      ['nats', 'stream', 'replicas'],
      `streams with ${n.stream.replicas} replicas need at least ${n.stream.replicas} servers, but the cluster has ${count}`,
      `set replicas to at most ${count}, or list more hosts under nats.servers`,
    );
  const ports = Object.entries(n.ports);
  dupes(ports.map(([, v]) => v)).forEach((i) =>
    add(
      ['nats', 'ports', ports[i]![0]],
      `port ${ports[i]![1]} is used twice in nats.ports`,
      'give the client, cluster, monitor and exporter ports each their own',
    ),
  );
  const users = Object.entries(n.users);
  dupes(users.map(([, u]) => u.user)).forEach((i) =>
    add(
      ['nats', 'users', users[i]![0], 'user'],
      `NATS user "${users[i]![1].user}" is named twice`,
      'give the gateway, worker and route users distinct names',
    ),
  );
  if (n.tls.enabled) {
    // One file each: a secret named twice would put the certificate where the key belongs, or a password in either.
    const taken = new Map<string, string>(
      (['gateway', 'worker', 'route'] as const).map((u) => [n.users[u].passwordSecret, `the ${u} password`]),
    );
    for (const k of ['certSecret', 'keySecret', 'caSecret'] as const) {
      const name = n.tls[k];
      const other = taken.get(name);
      if (other)
        add(
          ['nats', 'tls', k],
          `${k} names "${name}", which already holds ${other}: TLS needs the certificate, its key and the CA each in a secret of its own`,
          `name a secret of its own, e.g. "${{ certSecret: 'NATS_TLS_CERT', keySecret: 'NATS_TLS_KEY', caSecret: 'NATS_TLS_CA' }[k]}"`,
        );
      else taken.set(name, `the TLS ${{ certSecret: 'certificate', keySecret: 'key', caSecret: 'CA' }[k]}`);
    }
    // The gateway and the workers read the CA where their compose service mounts it.
    const worker = p.services.worker;
    worker?.volumes.forEach((v, i) => {
      if (v.target === NATS_CA_MOUNT || v.target.startsWith(`${NATS_CA_MOUNT}/`))
        add(
          ['services', 'worker', 'volumes', i, 'target'],
          `with TLS on the NATS cluster the CA is mounted at ${NATS_CA_MOUNT} in the gateway and the workers, and this volume's target ${v.target} would clash with it`,
          `mount this volume elsewhere, e.g. under /data`,
        );
    });
  }
  if (n.stream.name === n.stream.resultsName)
    add(
      ['nats', 'stream', 'resultsName'],
      `the results stream has the same name as the job stream ("${n.stream.name}")`,
      'name them apart, e.g. "JOB_RESULTS"',
    );
  if (n.stream.progressIntervalSeconds * 2 > n.stream.ackWaitSeconds)
    add(
      ['nats', 'stream', 'progressIntervalSeconds'],
      `workers report progress every ${n.stream.progressIntervalSeconds}s, but a job not acked within ${n.stream.ackWaitSeconds}s is redelivered: one late report hands a running job to a second worker`,
      `set progressIntervalSeconds to at most ${Math.floor(n.stream.ackWaitSeconds / 2)}, or raise ackWaitSeconds`,
    );

  // ---- workers and the route groups they take
  const groupsInUse = routeGroupsInUse(p);
  const taken = new Set<string>();
  for (const [host, groups] of Object.entries(n.workers)) {
    if (!p.hosts[host]) {
      add(['nats', 'workers', host], `worker host "${host}" is not under hosts:`, oneOf(host, hosts), true);
      continue;
    }
    dupes(groups).forEach((i) => add(['nats', 'workers', host, i], `group "${groups[i]}" is listed twice`, 'list each group once'));
    groups.forEach((g, i) => {
      if (!isGroupName(p, g)) {
        add(
          ['nats', 'workers', host, i],
          `"${g}" is not a route group: a group is "${CLOUD_GROUP}" (hosted providers) or a host that runs Ollama`,
          oneOf(g, groupsInUse),
        );
        return;
      }
      taken.add(g);
      if (jetstream && !groupsInUse.includes(g))
        add(
          ['nats', 'workers', host, i],
          `no route in routing.models sends jobs to group "${g}", so this worker would wait for nothing`,
          `remove "${g}", or route a model to it; the groups in use are: ${groupsInUse.join(', ')}`,
        );
      if (g !== CLOUD_GROUP && g !== host) {
        // A worker reaches another host's Ollama over the tailnet: it must listen there, not on loopback.
        const ollama = hostServiceOfKind(p, g, 'ollama');
        const listen = ollama && listenOf(ollama[1]);
        if (listen?.address === '127.0.0.1')
          add(
            ['nats', 'workers', host, i],
            `the worker on "${host}" takes "${g}" jobs, but the Ollama on "${g}" listens on loopback only (${ollama![1].listen}), so "${host}" cannot reach its models`,
            `let only a worker on "${g}" take "${g}", or make hosts.${g}.hostServices.${ollama![0]}.listen the tailnet address (${p.hosts[g]!.addresses.tailnet ?? '<tailnet address>'}:${listen.port})`,
          );
      }
    });
  }
  // No job may wait forever: every route's group needs a worker.
  p.routing.models.forEach((r, i) => {
    const g = routeGroup(r);
    // A route to a host without Ollama is the routing check's to report.
    if (r.provider === 'ollama' && (r.host === undefined || !hostServiceOfKind(p, r.host, 'ollama'))) return;
    if (jetstream && !taken.has(g)) {
      const suggest = r.provider === 'ollama' && r.host !== undefined ? r.host : (Object.keys(n.workers)[0] ?? runtimeHost(p));
      add(
        ['routing', 'models', i],
        `jobs for "${r.id}" go to group "${g}", but no worker under nats.workers takes "${g}", so they would wait forever`,
        `add "${g}" to the groups of a worker, e.g. "nats.workers.${suggest}: [..., ${g}]"`,
        true,
      );
    }
  });

  if (!jetstream) return list;

  // ---- only with the backend on: the runtime host's worker, secrets on every host, firewalls
  const rt = runtimeHost(p);
  const worker = p.services.worker;
  if (worker?.runtime && !n.workers[worker.host])
    add(
      ['services', 'worker', 'host'],
      `with the jetstream backend the worker on "${worker.host}" pulls jobs too, but nats.workers does not list "${worker.host}"`,
      `add "${worker.host}: [${CLOUD_GROUP}${hostServiceOfKind(p, worker.host, 'ollama') ? `, ${worker.host}` : ''}]" under nats.workers`,
    );
  for (const host of [...new Set([...n.servers, ...Object.keys(n.workers)])]) {
    if (p.hosts[host] && !identityFor(p, host))
      add(
        n.servers.includes(host) ? ['nats', 'servers', n.servers.indexOf(host)] : ['nats', 'workers', host],
        `"${host}" needs the NATS passwords from Infisical, but no Infisical identity covers the host`,
        `add "${host}" to the hosts of an identity under infisical.identities`,
        !n.servers.includes(host),
      );
  }
  const reach = (server: string, port: number, from: string, what: string): void => {
    const h = p.hosts[server];
    const src = p.hosts[from] && connectionAddress(p.hosts[from]);
    if (!h || !src) return;
    const ok = h.firewall.inbound.some(
      (r) => r.protocol === 'tcp' && portInRange(port, r.ports) && r.sources.some((c) => cidrOverlaps(c, `${src}/32`)),
    );
    if (!ok)
      add(
        ['hosts', server, 'firewall', 'inbound'],
        `${what} on "${from}" (${src}) cannot reach NATS on "${server}": no inbound rule admits tcp/${port} from it`,
        `add a rule { name: nats-${port === n.ports.client ? 'client' : 'cluster'}, protocol: tcp, ports: "${port}", sources: [100.64.0.0/10] }`,
        true,
      );
  };
  for (const server of new Set(n.servers)) {
    for (const client of natsClientHosts(p, rt))
      if (client !== server) reach(server, n.ports.client, client, client === rt ? 'the gateway' : 'the worker');
    for (const peer of new Set(n.servers)) if (peer !== server) reach(server, n.ports.cluster, peer, 'the NATS server');
  }
  return list;
}
