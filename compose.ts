import { composeHosts, namedVolumesOn, servicesOn, type Platform, type Service, type Volume } from './model/index.js';
import type { Artifact, Generator } from './render/types.js';
import { toYaml } from './render/yaml.js';

/*
 * docker-compose files, one per host that runs compose services. Secrets reach containers only
 * through env files the Infisical agent writes next to the compose file (secrets/<service>.env);
 * nothing secret is inlined. Ports stay on the compose network unless the model publishes them.
 */

/** The compose project directory on every host; Ansible ships the file here. */
export const COMPOSE_PROJECT_DIR = '/opt/platform';
export const COMPOSE_NETWORK = 'platform';

/**
 * What bubblewrap needs inside a container: Docker's default seccomp profile refuses the
 * clone/unshare flags that create user, mount, pid and network namespaces unless the container
 * holds CAP_SYS_ADMIN, and the docker-default AppArmor profile refuses mount. Lifting those two
 * filters is less than adding SYS_ADMIN: the container keeps no extra capability, and each
 * sandbox drops every capability inside its own user namespace.
 */
export const BUBBLEWRAP_SECURITY_OPT = ['seccomp=unconfined', 'apparmor=unconfined'] as const;

const CONDITION = { started: 'service_started', healthy: 'service_healthy', completed: 'service_completed_successfully' } as const;

export function secretsEnvFile(service: string): string {
  return `secrets/${service}.env`;
}

function volume(p: Platform, s: Service, v: Volume): Record<string, unknown> {
  const source = v.type === 'vault' ? p.hosts[s.host]!.vaultPath! : v.source;
  const type = v.type === 'volume' ? 'volume' : 'bind';
  return { type, source, target: v.target, ...(v.readOnly ? { read_only: true } : {}) };
}

function composeService(p: Platform, name: string, s: Service): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (s.image) out.image = s.image;
  if (s.build) out.build = { context: s.build.context, ...(s.build.dockerfile ? { dockerfile: s.build.dockerfile } : {}) };
  if (s.command) out.command = [...s.command];
  out.restart = s.restart;
  if (Object.keys(s.dependsOn).length) {
    out.depends_on = Object.fromEntries(Object.entries(s.dependsOn).map(([dep, cond]) => [dep, { condition: CONDITION[cond] }]));
  }
  if (Object.keys(s.env).length) out.environment = Object.fromEntries(Object.entries(s.env).sort(([a], [b]) => (a < b ? -1 : 1)));
  if (s.secrets.length) out.env_file = [secretsEnvFile(name)];
  if (s.ports.length) out.expose = s.ports.map((x) => String(x.port));
  if (s.publish.length) out.ports = s.publish.map((x) => `${x.hostIp}:${x.hostPort}:${x.port}`);
  if (s.volumes.length) out.volumes = s.volumes.map((v) => volume(p, s, v));
  if (s.usesHostServices.length) out.extra_hosts = ['host.docker.internal:host-gateway'];
  if (s.healthcheck) {
    const h = s.healthcheck;
    out.healthcheck = { test: [...h.test], interval: h.interval, timeout: h.timeout, retries: h.retries, start_period: h.startPeriod };
  }
  if (s.memLimit) out.mem_limit = s.memLimit;
  if (s.sandbox === 'bubblewrap') out.security_opt = [...BUBBLEWRAP_SECURITY_OPT];
  out.networks = [COMPOSE_NETWORK];
  out.labels = { 'platform.service': name, 'platform.host': s.host, 'platform.env': p.env };
  out.logging = { driver: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } };
  return out;
}

export function composeFile(p: Platform, host: string): Record<string, unknown> {
  const services = servicesOn(p, host);
  const volumes = namedVolumesOn(p, host);
  return {
    services: Object.fromEntries(services.map(([n, s]) => [n, composeService(p, n, s)])),
    networks: { [COMPOSE_NETWORK]: { name: COMPOSE_NETWORK } },
    ...(volumes.length ? { volumes: Object.fromEntries(volumes.map((v) => [v, {}])) } : {}),
  };
}

export const composeGenerator: Generator = {
  name: 'compose',
  generate(p): Artifact[] {
    return composeHosts(p).map((host) => ({ path: `hosts/${host}/docker-compose.yml`, content: toYaml(composeFile(p, host)) }));
  },
};
