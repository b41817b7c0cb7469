import { CLOUD_GROUP, routeGroup } from '@platform/contract';
import type { Nats, Platform, Service } from './schema.js';

/*
 * Derived views of the JetStream queue: which hosts run a NATS server, a gateway or a worker, the
 * compose services the `nats:` section adds to each host, and the addresses each host reaches the
 * cluster at. Nothing here applies while `vault.queue.backend` is `folder`.
 */

/** The compose project path the NATS server's config is shipped to (under /opt/platform). */
export const NATS_CONF_PATH = 'nats/nats.conf';
/** Where the server's config is mounted in its container. */
export const NATS_CONF_MOUNT = '/etc/nats/nats.conf';
/** The server's JetStream store, a named volume. */
export const NATS_DATA_VOLUME = 'nats-data';
export const NATS_STORE_DIR = '/data/jetstream';
/**
 * The server's passwords and route URLs: NATS config variables the Infisical agent writes (quoted)
 * into this folder under the compose project, mounted beside nats.conf, which includes the file.
 */
export const NATS_SECRETS_DIR = 'secrets/nats';
export const NATS_SECRETS_FILE = 'secrets.conf';
export const NATS_SECRETS_MOUNT = '/etc/nats/secrets';
/**
 * With `nats.tls.enabled`: the server's certificate, key and CA, which the agent writes from their
 * secrets into the server's secrets folder (mounted at NATS_SECRETS_MOUNT), root-only like
 * secrets.conf: the nats container runs as root.
 */
export const NATS_TLS_CERT_FILE = 'server-cert.pem';
export const NATS_TLS_KEY_FILE = 'server-key.pem';
export const NATS_TLS_CA_FILE = 'ca.pem';
/**
 * The CA the gateway and the workers verify the servers with: a folder of its own on every client
 * host, readable by the runtime's unprivileged user (the CA is no secret), mounted read-only.
 */
export const NATS_CA_DIR = 'secrets/nats-ca';
export const NATS_CA_MOUNT = '/etc/platform/nats-ca';
/** Seconds a server gives a client or a peer to finish the TLS handshake (NATS's default, 0.5, is tight across the internet). */
export const NATS_TLS_TIMEOUT_SECONDS = 2;
/** The per-host runtime.json a worker on a host other than the runtime host reads. */
export const WORKER_RUNTIME_CONF_PATH = 'runtime/runtime.json';
export const WORKER_RUNTIME_CONF_MOUNT = '/etc/platform/runtime.json';
/** Largest message a server accepts: a job (vault.worker.maxJobBytes) or a result with its answer. */
export const NATS_MAX_PAYLOAD = '8MB';

/** The compose service names the queue adds. */
export const NATS_SERVICE = 'nats';
export const NATS_EXPORTER_SERVICE = 'nats-exporter';
export const GATEWAY_SERVICE = 'gateway';
export const WORKER_SERVICE = 'worker';

/** The `nats:` section when the jetstream backend is on; undefined otherwise. */
export function jetstreamOf(p: Platform): Nats | undefined {
  return p.vault.queue.backend === 'jetstream' ? p.nats : undefined;
}

/** The route groups the routing table uses (`cloud` and the Ollama hosts), sorted. */
export function routeGroupsInUse(p: Platform): string[] {
  return [...new Set(p.routing.models.map((r) => routeGroup(r)))].sort();
}

/** Groups a worker may take: `cloud` and every host that runs Ollama. */
export function isGroupName(p: Platform, group: string): boolean {
  return group === CLOUD_GROUP || Object.values(p.hosts[group]?.hostServices ?? {}).some((s) => s.kind === 'ollama');
}

/** Hosts that run a worker, in model order of `nats.workers`. */
export function natsWorkerHosts(p: Platform): string[] {
  return Object.keys(jetstreamOf(p)?.workers ?? {});
}

/** The config variable a server reads the route URL to `peer` from (credentials included). */
export function natsRouteEnv(peer: string): string {
  return `NATS_ROUTE_${peer.toUpperCase().replace(/-/g, '_')}`;
}

/** The address other hosts reach `host` at: tailnet first, then public. */
function addressOf(p: Platform, host: string): string | undefined {
  const a = p.hosts[host]?.addresses;
  return a?.tailnet ?? a?.public;
}

/** Client URLs of every server as containers on `fromHost` reach them: by service name on the same host. */
export function natsClientUrls(p: Platform, fromHost: string): string[] {
  const n = jetstreamOf(p);
  if (!n) return [];
  const scheme = n.tls.enabled ? 'tls' : 'nats';
  return n.servers.map((s) => `${scheme}://${s === fromHost ? NATS_SERVICE : addressOf(p, s)}:${n.ports.client}`);
}

/** Where the runtime's containers read the CA from, with TLS on; undefined with it off. */
export function natsCaFile(p: Platform): string | undefined {
  return jetstreamOf(p)?.tls.enabled ? `${NATS_CA_MOUNT}/${NATS_TLS_CA_FILE}` : undefined;
}

/**
 * The names the servers' certificate must carry with TLS on (one certificate serves every server):
 * `nats`, which containers on a server's own host dial, and each server's address, which clients on
 * other hosts and the peers' routes dial.
 */
export function natsTlsNames(p: Platform): { dns: string[]; ip: string[] } {
  const n = jetstreamOf(p);
  if (!n) return { dns: [], ip: [] };
  const addresses = [...new Set(n.servers.map((s) => addressOf(p, s)).filter((a): a is string => a !== undefined))];
  const isIp = (a: string): boolean => /^[0-9.]+$/.test(a) || a.includes(':');
  return { dns: [NATS_SERVICE, ...addresses.filter((a) => !isIp(a))], ip: addresses.filter(isIp) };
}

/** The compose services on `host` that connect to NATS (the gateway, a worker): with TLS on they read the CA. */
export function natsTlsClientServices(services: ReadonlyArray<[string, Service]>): string[] {
  return services.filter(([name, s]) => s.runtime && (name === GATEWAY_SERVICE || name === WORKER_SERVICE)).map(([name]) => name);
}

/** The route URL to `peer` without credentials (the agent adds them in secrets.conf). */
export function natsRouteTarget(p: Platform, peer: string): string {
  return `${addressOf(p, peer)}:${p.nats!.ports.cluster}`;
}

/** The secrets the NATS server on `host` reads from secrets.conf: the users' passwords, and the route password with peers. */
export function natsServerSecrets(p: Platform, host: string): string[] {
  const n = jetstreamOf(p);
  if (!n?.servers.includes(host)) return [];
  const peers = n.servers.some((s) => s !== host);
  return [n.users.gateway.passwordSecret, n.users.worker.passwordSecret, ...(peers ? [n.users.route.passwordSecret] : [])];
}

/** Hosts that connect to the cluster as clients: the gateway's (the runtime host) and every worker host. */
export function natsClientHosts(p: Platform, runtimeHost: string): string[] {
  return [...new Set([runtimeHost, ...natsWorkerHosts(p)])];
}

const secretsOf = (n: Nats, who: 'gateway' | 'worker'): string[] => [n.users[who].passwordSecret];

function merged<T>(a: readonly T[], b: readonly T[]): T[] {
  return [...new Set([...a, ...b])];
}

/**
 * The compose services on `host` once the queue is accounted for: the model's own (the runtime
 * host's worker gains its NATS credentials), then the NATS server and its exporter on a server
 * host, the gateway on the runtime host, and a worker on each other worker host.
 */
export function withQueueServices(p: Platform, host: string, own: Array<[string, Service]>, runtimeHost: string): Array<[string, Service]> {
  const n = jetstreamOf(p);
  if (!n) return own;
  const isServer = n.servers.includes(host);
  const needsNats: Service['dependsOn'] = isServer ? { [NATS_SERVICE]: 'healthy' } : {};
  // With TLS on, the gateway and the workers read the CA from its own folder (the agent replaces the file).
  const caVolume: Service['volumes'] = n.tls.enabled
    ? [{ type: 'bind', source: `/opt/platform/${NATS_CA_DIR}`, target: NATS_CA_MOUNT, readOnly: true }]
    : [];
  const out: Array<[string, Service]> = own.map(([name, s]) =>
    host === runtimeHost && name === WORKER_SERVICE && s.runtime
      ? [
          name,
          {
            ...s,
            secrets: merged(s.secrets, secretsOf(n, 'worker')),
            volumes: [...s.volumes, ...caVolume],
            dependsOn: { ...s.dependsOn, ...needsNats },
          },
        ]
      : [name, s],
  );
  const address = addressOf(p, host) ?? '127.0.0.1';
  const alloyOnHost = own.some(([name]) => name === 'alloy');
  if (isServer) {
    const remoteClients = natsClientHosts(p, runtimeHost).some((h) => h !== host);
    const peers = n.servers.filter((s) => s !== host);
    out.push([
      NATS_SERVICE,
      {
        host,
        description: `NATS server with JetStream, one of ${n.servers.length} in cluster "${n.cluster}"`,
        image: n.image,
        runtime: false,
        command: ['--config', NATS_CONF_MOUNT],
        ports: [
          { name: 'client', port: n.ports.client },
          ...(peers.length ? [{ name: 'cluster', port: n.ports.cluster }] : []),
          { name: 'monitor', port: n.ports.monitor },
        ],
        // Clients on other hosts and the peers reach the server on the tailnet only.
        publish: [
          ...(remoteClients ? [{ port: n.ports.client, hostPort: n.ports.client, hostIp: address }] : []),
          ...(peers.length ? [{ port: n.ports.cluster, hostPort: n.ports.cluster, hostIp: address }] : []),
        ],
        volumes: [
          { type: 'bind', source: `/opt/platform/${NATS_CONF_PATH}`, target: NATS_CONF_MOUNT, readOnly: true },
          { type: 'volume', source: NATS_DATA_VOLUME, target: '/data', readOnly: false },
          // A folder, not the file: the agent replaces the file, and a file mount would keep the old one.
          { type: 'bind', source: `/opt/platform/${NATS_SECRETS_DIR}`, target: NATS_SECRETS_MOUNT, readOnly: true },
        ],
        dependsOn: {},
        healthcheck: {
          test: ['CMD', 'wget', '-qO-', `http://127.0.0.1:${n.ports.monitor}/healthz?js-enabled-only=true`],
          interval: '30s',
          timeout: '5s',
          retries: 3,
          startPeriod: '10s',
        },
        env: {},
        // Its passwords come through the mounted secrets.conf (see natsSecrets), not an env file.
        secrets: [],
        usesHostServices: [],
        restart: 'unless-stopped',
        memLimit: '1g',
      },
    ]);
    out.push([
      NATS_EXPORTER_SERVICE,
      {
        host,
        description: 'Prometheus exporter for the NATS server (server, routes, JetStream streams and consumers)',
        image: n.exporterImage,
        runtime: false,
        command: [
          '-port',
          String(n.ports.exporter),
          '-varz',
          '-connz',
          ...(peers.length ? ['-routez'] : []),
          '-jsz=all',
          `http://${NATS_SERVICE}:${n.ports.monitor}`,
        ],
        ports: [{ name: 'metrics', port: n.ports.exporter }],
        // A host-installed Alloy reaches the exporter through a loopback port; one in compose by name.
        publish: alloyOnHost ? [] : [{ port: n.ports.exporter, hostPort: n.ports.exporter, hostIp: '127.0.0.1' }],
        volumes: [],
        dependsOn: { [NATS_SERVICE]: 'healthy' },
        env: {},
        secrets: [],
        usesHostServices: [],
        restart: 'unless-stopped',
        memLimit: '128m',
      },
    ]);
  }
  const worker = p.services[WORKER_SERVICE];
  if (host === runtimeHost && worker) {
    out.push([
      GATEWAY_SERVICE,
      {
        ...worker,
        description: 'Claims jobs from the vault queue, publishes them to JetStream and settles their results in the vault',
        command: ['gateway'],
        secrets: merged(
          worker.secrets.filter((s) => s !== n.users.worker.passwordSecret),
          secretsOf(n, 'gateway'),
        ),
        volumes: [...worker.volumes, ...caVolume],
        dependsOn: { ...needsNats },
        healthcheck: undefined,
      },
    ]);
  }
  if (host !== runtimeHost && worker && n.workers[host]) {
    const hasOllama = Object.values(p.hosts[host]?.hostServices ?? {}).some((s) => s.kind === 'ollama');
    const env = Object.fromEntries(Object.entries(worker.env).filter(([k]) => k !== 'VAULT_DIR'));
    const metrics = worker.ports.find((x) => x.name === 'metrics');
    out.push([
      WORKER_SERVICE,
      {
        ...worker,
        host,
        description: `Runs the ${n.workers[host].join(', ')} jobs it pulls from JetStream (no vault here)`,
        command: ['worker'],
        env: { ...env, RUNTIME_CONFIG: WORKER_RUNTIME_CONF_MOUNT },
        secrets: merged(worker.secrets, secretsOf(n, 'worker')),
        // No vault: the gateway writes outputs back. Only this host's runtime.json and its own data.
        volumes: [
          { type: 'bind', source: `/opt/platform/${WORKER_RUNTIME_CONF_PATH}`, target: WORKER_RUNTIME_CONF_MOUNT, readOnly: true },
          ...worker.volumes.filter((v) => v.type === 'volume'),
          ...caVolume,
        ],
        ports: metrics ? [metrics] : [],
        publish: metrics && !alloyOnHost ? [{ port: metrics.port, hostPort: metrics.port, hostIp: '127.0.0.1' }] : [],
        usesHostServices: hasOllama ? ['ollama'] : [],
        dependsOn: { ...needsNats },
        healthcheck: undefined,
      },
    ]);
  }
  return out;
}
