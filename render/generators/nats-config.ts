import {
  jetstreamOf,
  NATS_CONF_PATH,
  NATS_MAX_PAYLOAD,
  NATS_SECRETS_FILE,
  NATS_SECRETS_MOUNT,
  NATS_STORE_DIR,
  NATS_TLS_CA_FILE,
  NATS_TLS_CERT_FILE,
  NATS_TLS_KEY_FILE,
  NATS_TLS_TIMEOUT_SECONDS,
  natsRouteEnv,
  natsTlsNames,
  type Nats,
  type Platform,
} from '../../model/index.js';
import { notice, type Artifact, type Generator } from '../types.js';

/*
 * One nats.conf per NATS server host (generated/hosts/<host>/nats/nats.conf), shipped by the
 * compose_project role and mounted read-only into the `nats` container. Passwords and route URLs
 * (which carry the route password) are `$VARIABLE` references to the variables of secrets.conf,
 * which the Infisical agent writes (quoted) on the host; no secret value is written here. Not the
 * environment: the server parses a variable taken from there as config, so a password with a
 * space, a comma or a "#" would break it or be cut short.
 */

/** The environment variable a password secret reaches the server as: its own name. */
/** The account the queue's users and streams live in. */
export const NATS_ACCOUNT = 'QUEUE';

const envRef = (secret: string): string => `$${secret}`;

/** The JetStream API subjects each user needs, and the subjects it moves jobs and results on. */
export function natsPermissions(n: Nats): Record<'gateway' | 'worker', { publish: string[]; subscribe: string[] }> {
  const { name: jobs, resultsName: results, subjectPrefix: prefix } = n.stream;
  return {
    // The gateway owns the account's two streams: it creates and updates them and the consumers,
    // publishes jobs, pulls and acks results, drops settled jobs, and hears of a job given up
    // after its last delivery.
    gateway: {
      publish: [`${prefix}.run.>`, '$JS.API.>', `$JS.ACK.${results}.>`],
      subscribe: ['_INBOX.>', `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${jobs}.*`],
    },
    // A worker binds to (or creates) its group's durable consumer on the job stream, pulls, acks,
    // naks and reports progress, reads whether a job has its result already, and publishes
    // results. It cannot change, purge or delete a stream, nor publish a job.
    worker: {
      publish: [
        `${prefix}.result.>`,
        '$JS.API.INFO',
        `$JS.API.STREAM.INFO.${jobs}`,
        `$JS.API.CONSUMER.CREATE.${jobs}`,
        `$JS.API.CONSUMER.CREATE.${jobs}.>`,
        `$JS.API.CONSUMER.DURABLE.CREATE.${jobs}.>`,
        `$JS.API.CONSUMER.INFO.${jobs}.>`,
        `$JS.API.CONSUMER.MSG.NEXT.${jobs}.>`,
        `$JS.ACK.${jobs}.>`,
        `$JS.API.STREAM.MSG.GET.${results}`,
        `$JS.API.DIRECT.GET.${results}`,
        `$JS.API.DIRECT.GET.${results}.>`,
      ],
      subscribe: ['_INBOX.>'],
    },
  };
}

const q = (s: string): string => JSON.stringify(s);

/**
 * A `tls {}` block: the server's certificate, key and CA from the secrets folder. `verify` asks the
 * other side for a certificate the CA signed: on for routes (each server presents the shared
 * certificate to its peers), off for clients, who authenticate with their passwords.
 */
function tlsBlock(indent: string, verify: boolean): string[] {
  const file = (name: string): string => q(`${NATS_SECRETS_MOUNT}/${name}`);
  return [
    `${indent}tls {`,
    `${indent}  cert_file: ${file(NATS_TLS_CERT_FILE)}`,
    `${indent}  key_file: ${file(NATS_TLS_KEY_FILE)}`,
    `${indent}  ca_file: ${file(NATS_TLS_CA_FILE)}`,
    `${indent}  verify: ${verify}`,
    `${indent}  timeout: ${NATS_TLS_TIMEOUT_SECONDS}`,
    `${indent}}`,
  ];
}
const list = (items: readonly string[], indent: string): string => `[\n${items.map((i) => `${indent}  ${q(i)}`).join('\n')}\n${indent}]`;

/** The server config for `host`, one of the servers under `nats.servers`. */
export function natsConf(p: Platform, host: string): string {
  const n = p.nats!;
  const peers = n.servers.filter((s) => s !== host);
  const perms = natsPermissions(n);
  const user = (who: 'gateway' | 'worker'): string[] => [
    '      {',
    `        user: ${q(n.users[who].user)}`,
    `        password: ${envRef(n.users[who].passwordSecret)}`,
    '        permissions: {',
    `          publish: { allow: ${list(perms[who].publish, '          ')} }`,
    `          subscribe: { allow: ${list(perms[who].subscribe, '          ')} }`,
    '        }',
    '      }',
  ];
  const lines = [
    notice('#').trimEnd(),
    `# NATS server on ${host}: ${n.servers.length === 1 ? 'the only server' : `one of ${n.servers.length} in cluster "${n.cluster}"`}, JetStream on.`,
    '',
    `# Passwords and route URLs (the Infisical agent writes them; see the hosts' infisical_env_files).`,
    `include ${q(`${NATS_SECRETS_MOUNT.slice(NATS_SECRETS_MOUNT.lastIndexOf('/') + 1)}/${NATS_SECRETS_FILE}`)}`,
    '',
    `server_name: ${q(host)}`,
    `listen: "0.0.0.0:${n.ports.client}"`,
    // Monitoring stays on the compose network: the exporter reads it, nothing publishes it.
    `http: "0.0.0.0:${n.ports.monitor}"`,
    `max_payload: ${NATS_MAX_PAYLOAD}`,
    '',
    'jetstream {',
    `  store_dir: ${q(NATS_STORE_DIR)}`,
    `  max_file_store: ${n.storage.maxFileStore}`,
    `  max_memory_store: ${n.storage.maxMemoryStore}`,
    '}',
  ];
  if (n.tls.enabled) {
    const names = natsTlsNames(p);
    lines.push(
      '',
      '# TLS on client connections; plain ones are refused. The agent writes the files from the secrets',
      `# ${n.tls.certSecret}, ${n.tls.keySecret} and ${n.tls.caSecret}. The certificate must name:`,
      `#   ${[...names.dns.map((d) => `DNS:${d}`), ...names.ip.map((i) => `IP:${i}`)].join(', ')}`,
      ...tlsBlock('', false),
    );
  }
  if (peers.length) {
    lines.push(
      '',
      '# Routes to the other servers; each URL carries the route password, so it comes from secrets.conf.',
      'cluster {',
      `  name: ${q(n.cluster)}`,
      `  listen: "0.0.0.0:${n.ports.cluster}"`,
      '  authorization {',
      `    user: ${q(n.users.route.user)}`,
      `    password: ${envRef(n.users.route.passwordSecret)}`,
      '  }',
      `  routes: [\n${peers.map((peer) => `    $${natsRouteEnv(peer)}`).join('\n')}\n  ]`,
      ...(n.tls.enabled ? ['  # Routes over TLS too, both ends presenting the certificate.', ...tlsBlock('  ', true)] : []),
      '}',
    );
  }
  lines.push(
    '',
    '# One account holds both streams; the gateway and the workers are its only users.',
    'accounts {',
    `  ${NATS_ACCOUNT}: {`,
    '    jetstream: enabled',
    '    users: [',
    ...user('gateway'),
    ...user('worker'),
    '    ]',
    '  }',
    '}',
  );
  return `${lines.join('\n')}\n`;
}

export const natsConfigGenerator: Generator = {
  name: 'nats-config',
  generate(p): Artifact[] {
    const n = jetstreamOf(p);
    return n ? n.servers.map((host) => ({ path: `hosts/${host}/${NATS_CONF_PATH}`, content: natsConf(p, host) })) : [];
  },
};
