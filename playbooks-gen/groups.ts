import { posix } from 'node:path';
import { COMPOSE_PROJECT_DIR } from '../compose.js';
import {
  composeHosts,
  hostNames,
  hostServiceOfKind,
  identityFor,
  jetstreamOf,
  NATS_CA_DIR,
  NATS_SECRETS_DIR,
  NATS_SECRETS_FILE,
  NATS_SERVICE,
  NATS_TLS_CA_FILE,
  NATS_TLS_CERT_FILE,
  NATS_TLS_KEY_FILE,
  natsTlsClientServices,
  natsRouteEnv,
  natsServerSecrets,
  natsRouteTarget,
  runtimeHost,
  servicesOn,
  type Platform,
} from '../model/index.js';

/*
 * Which host gets which role, answered once for the inventory, the vars and the playbooks.
 * Group names use underscores: Ansible warns on dashes in group names.
 */

export const COMPOSE_PROJECT_NAME = posix.basename(COMPOSE_PROJECT_DIR);

/** Where the agent writes the Grafana Cloud tokens a host-installed Alloy reads. */
export const ALLOY_ENV_FILE = '/etc/alloy/secrets/alloy.env';

/** Playbooks live in generated/ansible; files they ship are addressed relative to it. */
export const hostFile = (host: string, file: string): string => `../hosts/${host}/${file}`;

/** Grafana Cloud token secret names, for a host that runs Alloy outside compose. */
export function alloyTokenSecrets(p: Platform): string[] {
  const g = p.observability.grafanaCloud;
  return [...new Set([g.loki.tokenSecret, g.prometheus.tokenSecret, g.tempo.tokenSecret])].sort();
}

/** Hosts whose Alloy is a host service (the role installs it), as opposed to a compose container. */
export function hostAlloyHosts(p: Platform): string[] {
  return hostNames(p).filter((h) => hostServiceOfKind(p, h, 'alloy') !== undefined);
}

/** The one host that snapshots the vault: the runtime's host when it holds the vault, else the first that does. */
export function vaultSnapshotHost(p: Platform): string | undefined {
  const rt = runtimeHost(p);
  if (p.hosts[rt]?.vaultPath) return rt;
  return hostNames(p).find((h) => p.hosts[h]!.vaultPath);
}

/** An env variable the agent composes from a secret: `name=<prefix><secret, URL-escaped><suffix>`. */
export interface DerivedEnv {
  name: string;
  secret: string;
  prefix: string;
  suffix: string;
}

export interface EnvFile {
  /** The compose service or systemd unit that reads the file. */
  name: string;
  /** Absolute path on the host. */
  dest: string;
  secrets: string[];
  /** What the agent restarts when the file changes: `up` a compose service, restart one, or a systemd unit. */
  reload: { compose_service: string } | { compose_restart: string } | { systemd_unit: string };
  /**
   * `nats`: NATS config variables (`KEY: "value"`), included by nats.conf, instead of KEY=VALUE
   * lines. `pem`: the one secret's value as it is (a certificate, key or CA in PEM).
   */
  format?: 'nats' | 'pem';
  /**
   * Readable by a container's unprivileged user (the NATS CA, no secret): Ansible creates its folder
   * 0755 and the file 0644 before the agent first writes it, and the agent truncates it in place,
   * keeping that mode. Any other file is the agent's, 0600 (its unit's umask), in a 0700 folder.
   */
  public?: true;
  /** Variables built from a secret (`nats` format only): a NATS route URL that carries the route password. */
  derived?: DerivedEnv[];
}

/** The route URLs a NATS server dials, each carrying the route password (see render/generators/nats-config.ts). */
function natsRoutes(p: Platform, host: string): DerivedEnv[] {
  const n = jetstreamOf(p);
  if (!n?.servers.includes(host)) return [];
  const r = n.users.route;
  return n.servers
    .filter((peer) => peer !== host)
    .map((peer) => ({
      name: natsRouteEnv(peer),
      secret: r.passwordSecret,
      prefix: `nats-route://${r.user}:`,
      suffix: `@${natsRouteTarget(p, peer)}`,
    }));
}

/** Every env file the Infisical agent renders on `host`, with the secret names in each (never values). */
export function envFilesOn(p: Platform, host: string): EnvFile[] {
  const compose: EnvFile[] = servicesOn(p, host)
    .filter(([, s]) => s.secrets.length > 0)
    .map(([name, s]) => ({
      name,
      dest: `${COMPOSE_PROJECT_DIR}/secrets/${name}.env`,
      secrets: [...s.secrets],
      reload: { compose_service: name },
    }));
  const natsSecrets = natsServerSecrets(p, host);
  const nats: EnvFile[] = natsSecrets.length
    ? [
        {
          name: NATS_SERVICE,
          dest: `${COMPOSE_PROJECT_DIR}/${NATS_SECRETS_DIR}/${NATS_SECRETS_FILE}`,
          secrets: natsSecrets,
          // The file is read at start-up: a changed password needs a restart, which `up` would not do.
          reload: { compose_restart: NATS_SERVICE },
          format: 'nats',
          ...(natsRoutes(p, host).length ? { derived: natsRoutes(p, host) } : {}),
        },
      ]
    : [];
  const alloy = hostServiceOfKind(p, host, 'alloy');
  return [...compose, ...nats, ...natsTlsFiles(p, host), ...(alloy ? [hostAlloyEnv(p, alloy[0])] : [])];
}

/**
 * With `nats.tls.enabled`: on a server host its certificate, key and CA beside secrets.conf (the
 * agent restarts `nats` when one changes), and on a host whose gateway or worker connects, the CA
 * in a folder of its own that those containers mount (the agent restarts them when it changes).
 */
function natsTlsFiles(p: Platform, host: string): EnvFile[] {
  const n = jetstreamOf(p);
  if (!n?.tls.enabled) return [];
  const pem = (name: string, dir: string, file: string, secret: string, restart: string[]): EnvFile => ({
    name,
    dest: `${COMPOSE_PROJECT_DIR}/${dir}/${file}`,
    secrets: [secret],
    reload: { compose_restart: restart.join(' ') },
    format: 'pem',
  });
  const out: EnvFile[] = [];
  if (n.servers.includes(host))
    out.push(
      pem('nats-tls-cert', NATS_SECRETS_DIR, NATS_TLS_CERT_FILE, n.tls.certSecret, [NATS_SERVICE]),
      pem('nats-tls-key', NATS_SECRETS_DIR, NATS_TLS_KEY_FILE, n.tls.keySecret, [NATS_SERVICE]),
      pem('nats-tls-ca', NATS_SECRETS_DIR, NATS_TLS_CA_FILE, n.tls.caSecret, [NATS_SERVICE]),
    );
  const clients = natsTlsClientServices(servicesOn(p, host));
  if (clients.length) out.push({ ...pem('nats-client-ca', NATS_CA_DIR, NATS_TLS_CA_FILE, n.tls.caSecret, clients), public: true });
  return out;
}

function hostAlloyEnv(p: Platform, unit: string): EnvFile {
  return { name: unit, dest: ALLOY_ENV_FILE, secrets: alloyTokenSecrets(p), reload: { systemd_unit: 'alloy' } };
}

export function infisicalHosts(p: Platform): string[] {
  return hostNames(p).filter((h) => envFilesOn(p, h).length > 0 && identityFor(p, h) !== undefined);
}

/** Inventory groups in a stable order, each with its hosts in model order; empty groups are left out. */
export function ansibleGroups(p: Platform): Array<[string, string[]]> {
  // Host vars ask for every host's groups; the model is frozen, so compute them once per model.
  let groups = groupCache.get(p);
  if (!groups) groupCache.set(p, (groups = computeGroups(p)));
  return groups;
}

const groupCache = new WeakMap<Platform, Array<[string, string[]]>>();

function computeGroups(p: Platform): Array<[string, string[]]> {
  const hosts = hostNames(p);
  const byKind = (kind: string): string[] => hosts.filter((h) => p.hosts[h]!.kind === kind);
  const withService = (kind: 'ollama' | 'syncthing' | 'tailscale'): string[] =>
    hosts.filter((h) => hostServiceOfKind(p, h, kind) !== undefined);
  const snapshot = vaultSnapshotHost(p);
  const groups: Array<[string, string[]]> = [
    ['vps', byKind('vps')],
    ['proxmox_vm', byKind('proxmox-vm')],
    ['gpu', byKind('gpu')],
    ['tailscale_hosts', withService('tailscale')],
    ['docker_hosts', composeHosts(p)],
    ['compose_hosts', composeHosts(p)],
    ['infisical_hosts', infisicalHosts(p)],
    ['alloy_hosts', hostAlloyHosts(p)],
    ['ollama_hosts', withService('ollama')],
    ['syncthing_hosts', withService('syncthing')],
    ['vault_hosts', hosts.filter((h) => p.hosts[h]!.vaultPath)],
    ['vault_snapshot_hosts', snapshot ? [snapshot] : []],
  ];
  return groups.filter(([, members]) => members.length > 0);
}

export function groupsOf(p: Platform, host: string): string[] {
  return ansibleGroups(p)
    .filter(([, members]) => members.includes(host))
    .map(([g]) => g);
}
