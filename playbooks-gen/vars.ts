import { posix } from 'node:path';
import { COMPOSE_PROJECT_DIR, RUNTIME_IMAGE_VAR, composeHealthcheck } from '../compose.js';
import {
  alloyHosts,
  hostServiceOfKind,
  identityFor,
  NATS_CONF_PATH,
  NATS_SERVICE,
  runtimeHost,
  runtimeImageName,
  servicesOn,
  WORKER_RUNTIME_CONF_PATH,
  WORKER_SERVICE,
  type Platform,
  type Service,
} from '../model/index.js';
import { COMPOSE_PROJECT_NAME, envFilesOn, groupsOf, hostFile, vaultSnapshotHost } from './groups.js';

/*
 * group_vars and host_vars: exactly the variables the roles read, derived from the model.
 * Secret names appear here; secret values never do.
 */

export function groupVars(p: Platform): Record<string, unknown> {
  return {
    platform_name: p.name,
    platform_env: p.env,
    compose_project_dir: COMPOSE_PROJECT_DIR,
    compose_project_name: COMPOSE_PROJECT_NAME,
  };
}

/**
 * Files a compose project mounts from its project dir that another generator writes: the Alloy
 * config, a NATS server's nats.conf, and a worker host's own runtime.json.
 */
function composeFiles(p: Platform, host: string): Array<{ src: string; dest: string }> {
  const services = servicesOn(p, host);
  const prefix = `${COMPOSE_PROJECT_DIR}/`;
  const alloy = alloyHosts(p).includes(host) ? services.find(([n]) => n === 'alloy')?.[1] : undefined;
  const out = (alloy?.volumes ?? []).flatMap((v) =>
    v.type === 'bind' && v.source.startsWith(prefix) && v.source.endsWith('.alloy')
      ? [{ src: hostFile(host, 'config.alloy'), dest: v.source.slice(prefix.length) }]
      : [],
  );
  if (services.some(([n]) => n === NATS_SERVICE)) out.push({ src: hostFile(host, NATS_CONF_PATH), dest: NATS_CONF_PATH });
  if (host !== runtimeHost(p) && services.some(([n, s]) => n === WORKER_SERVICE && s.runtime))
    out.push({ src: hostFile(host, WORKER_RUNTIME_CONF_PATH), dest: WORKER_RUNTIME_CONF_PATH });
  return out;
}

/** A database engine the `dbs` restore path knows how to load a dump into. */
export function databaseOf(name: string, s: Service): { service: string; engine: 'postgres'; user: string; database: string } | undefined {
  const repo = posix.basename((s.image ?? '').split(':')[0] ?? '');
  if (repo !== 'postgres') return undefined;
  const user = s.env.POSTGRES_USER ?? 'postgres';
  return { service: name, engine: 'postgres', user, database: s.env.POSTGRES_DB ?? user };
}

export function hostVars(p: Platform, host: string): Record<string, unknown> {
  const h = p.hosts[host]!;
  const groups = new Set(groupsOf(p, host));
  const out: Record<string, unknown> = {
    firewall_inbound: h.firewall.inbound.map((r) => ({ name: r.name, protocol: r.protocol, ports: r.ports, sources: [...r.sources] })),
  };
  if (groups.has('tailscale_hosts')) out.tailscale_hostname = host;
  if (groups.has('compose_hosts')) {
    const services = servicesOn(p, host);
    out.compose_file_src = hostFile(host, 'docker-compose.yml');
    out.compose_files = composeFiles(p, host);
    out.compose_services = services.map(([n]) => n);
    out.compose_healthchecked = services.filter(([, s]) => composeHealthcheck(s)).map(([n]) => n);
    out.compose_env_files = envFilesOn(p, host)
      .filter((f) => f.dest.startsWith(`${COMPOSE_PROJECT_DIR}/`))
      .map((f) => f.dest.slice(COMPOSE_PROJECT_DIR.length + 1));
    const image = runtimeImageName(p);
    if (image && services.some(([, s]) => s.runtime)) {
      // The deploy passes runtime_image_digest (what CI pushed); the role pins compose to name@digest.
      out.runtime_image_name = image;
      out.runtime_image_tag = p.runtimeImage!.tag;
      out.runtime_image_var = RUNTIME_IMAGE_VAR;
    }
  }
  if (groups.has('infisical_hosts')) {
    out.infisical_site_url = p.infisical.siteUrl;
    out.infisical_project = p.infisical.project;
    out.infisical_env = p.infisical.env;
    out.infisical_identity = identityFor(p, host)!.name;
    out.infisical_env_files = envFilesOn(p, host);
  }
  if (groups.has('alloy_hosts')) {
    out.alloy_config_src = hostFile(host, 'config.alloy');
  }
  const ollama = hostServiceOfKind(p, host, 'ollama');
  if (ollama) {
    out.ollama_listen = ollama[1].listen;
    out.ollama_models = [...ollama[1].models];
  }
  if (h.vaultPath) {
    out.vault_path = h.vaultPath;
    out.vault_folders = Object.values(p.vault.folders);
    out.vault_owner_uid = p.vault.owner.uid;
    out.vault_owner_gid = p.vault.owner.gid;
  }
  const syncthing = hostServiceOfKind(p, host, 'syncthing');
  if (syncthing) {
    out.syncthing_user = p.vault.owner.user;
    out.syncthing_gui_address = syncthing[1].listen ?? '127.0.0.1:8384';
  }
  if (vaultSnapshotHost(p) === host) {
    const bucket = p.aws.buckets['vault-snapshots'];
    out.vault_snapshot_bucket = bucket.name;
    out.vault_snapshot_region = p.aws.region;
    out.vault_snapshot_prefix = `${host}/`;
  }
  return out;
}
