import {
  HealthcheckSchema,
  composeHosts,
  namedVolumesOn,
  runtimeImageRef,
  servicePort,
  servicesOn,
  type Platform,
  type Service,
  type Volume,
} from './model/index.js';
import { Scalar } from 'yaml';
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
 * The compose variable that pins the runtime image by digest: the deploy writes it to the project's
 * `.env` (`name@sha256:...`); without it compose runs the model's tag.
 */
export const RUNTIME_IMAGE_VAR = 'PLATFORM_RUNTIME_IMAGE';

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

/** YAML 1.1 readers (PyYAML: podman-compose, Ansible) take an unquoted 1000:33 for a base-60 number. */
function quoted(value: string): Scalar<string> {
  const s = new Scalar(value);
  s.type = Scalar.QUOTE_DOUBLE;
  return s;
}

function volume(p: Platform, s: Service, v: Volume): Record<string, unknown> {
  const source = v.type === 'vault' ? p.hosts[s.host]!.vaultPath! : v.source;
  const type = v.type === 'volume' ? 'volume' : 'bind';
  return { type, source, target: v.target, ...(v.readOnly ? { read_only: true } : {}) };
}

/** The image's health check script: exits 0 when the URL answers 2xx (runtime/bin/healthcheck.js). */
export const RUNTIME_HEALTHCHECK_SCRIPT = '/app/runtime/bin/healthcheck.js';

/**
 * The check of a runtime service the model gives none: the runtime's own /healthz on the port
 * named metrics, where `runtime worker` serves /metrics and /healthz (healthy while it holds the
 * queue lease and runs its queue), with the model's default timings.
 */
function runtimeHealthcheck(s: Service): Service['healthcheck'] {
  const port = servicePort(s, 'metrics');
  if (port === undefined) return undefined;
  return HealthcheckSchema.parse({ test: ['CMD', 'node', RUNTIME_HEALTHCHECK_SCRIPT, `http://127.0.0.1:${port}/healthz`] });
}

/** The health check compose runs for a service: the model's, else the runtime's own (above). */
export function composeHealthcheck(s: Service): Service['healthcheck'] {
  return s.healthcheck ?? (s.runtime ? runtimeHealthcheck(s) : undefined);
}

function composeService(p: Platform, name: string, s: Service): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (s.image) out.image = s.image;
  if (s.runtime) {
    const ref = runtimeImageRef(p);
    if (ref) out.image = `\${${RUNTIME_IMAGE_VAR}:-${ref}}`;
  }
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
  if (s.runtime) {
    // The vault belongs to the Syncthing user: the runtime writes into it as that user. The image
    // writes only to /data, the vault and /tmp, so its root stays read-only.
    const o = p.vault.owner;
    out.user = quoted(`${o.uid}:${o.gid}`);
    out.read_only = true;
    out.tmpfs = ['/tmp'];
  }
  const h = composeHealthcheck(s);
  if (h) {
    out.healthcheck = { test: [...h.test], interval: h.interval, timeout: h.timeout, retries: h.retries, start_period: h.startPeriod };
  } else if (s.runtime) {
    // The image's own check probes the web port; a runtime service with neither a check of its
    // own nor a metrics port turns it off rather than report unhealthy forever.
    out.healthcheck = { test: ['NONE'] };
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
