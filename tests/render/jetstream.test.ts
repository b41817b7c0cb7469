import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeConfigSchema } from '../../model/index.js';
import { envFilesOn } from '../../playbooks-gen/index.js';
import { natsConf } from '../../render/generators/nats-config.js';
import { generateAll } from '../../render/render.js';
import { edit, freePort, sharedSpec, tempDir } from '../helpers.js';
import { jetstreamPlatform, jetstreamText, jetstreamTlsText } from '../helpers/jetstream.js';
import { makeTestCerts } from '../helpers/test-ca.js';
import { natsServerBin, startNatsServer, WireClient, type NatsServer } from '../helpers/nats-wire.js';

const p = jetstreamPlatform();
const artifacts = generateAll(p);
const content = (path: string): string => {
  const a = artifacts.find((x) => x.path === path);
  if (!a) throw new Error(`no artifact ${path}`);
  return a.content;
};

/** A one-server cluster on contabo: the shape a first switch to jetstream usually has. */
const single = jetstreamPlatform(
  edit(edit(jetstreamText(), 'servers: [contabo, prod-services, dev-learning]', 'servers: [contabo]'), 'replicas: 3', 'replicas: 1'),
);

/**
 * The secrets.conf the Infisical agent writes beside the server's config on `host` (each password,
 * and the route URLs built from the route password), with stand-in passwords as values.
 */
function agentSecrets(platform: typeof p, host: string): Record<string, string> {
  const file = envFilesOn(platform, host).find((f) => f.name === 'nats');
  if (!file) throw new Error(`no secrets file for nats on ${host}`);
  expect(file.format).toBe('nats');
  const pw = (secret: string): string => `pw ${secret}#1`;
  return {
    ...Object.fromEntries(file.secrets.map((s) => [s, pw(s)])),
    ...Object.fromEntries((file.derived ?? []).map((d) => [d.name, `${d.prefix}${encodeURIComponent(pw(d.secret))}${d.suffix}`])),
  };
}

/**
 * nats.conf and its secrets.conf (and, with TLS, the PEM `files`) in a fresh folder, as the nats
 * container sees them, the config's /etc/nats paths pointed there; returns the config's path.
 */
function layOut(conf: string, secrets: Record<string, string>, files: Record<string, string> = {}): string {
  const dir = tempDir('nats-conf-');
  mkdirSync(join(dir, 'secrets'));
  for (const [name, pem] of Object.entries(files)) writeFileSync(join(dir, 'secrets', name), pem, { mode: 0o600 });
  conf = conf.replaceAll('"/etc/nats/secrets/', `"${join(dir, 'secrets')}/`);
  writeFileSync(
    join(dir, 'secrets/secrets.conf'),
    Object.entries(secrets)
      .map(([k, v]) => `${k}: ${JSON.stringify(v)}\n`)
      .join(''),
  );
  writeFileSync(join(dir, 'nats.conf'), conf);
  return join(dir, 'nats.conf');
}

function references(conf: string): string[] {
  return [...new Set([...conf.replace(/"[^"]*"/g, '""').matchAll(/\$([A-Z_][A-Z0-9_]*)/g)].map((m) => m[1]!))].sort();
}

const bin = natsServerBin();
if (!bin) console.warn('skipping the nats-server checks: no nats-server (run scripts/install-nats.sh or set NATS_SERVER_BIN)');

describe('the jetstream backend renders', () => {
  it('a nats.conf per server host and a runtime.json per worker host besides the runtime host', () => {
    const paths = artifacts.map((a) => a.path);
    expect(paths.filter((x) => x.endsWith('nats.conf'))).toEqual([
      'hosts/contabo/nats/nats.conf',
      'hosts/dev-learning/nats/nats.conf',
      'hosts/prod-services/nats/nats.conf',
    ]);
    expect(paths.filter((x) => x.endsWith('runtime.json'))).toEqual(['hosts/davas/runtime/runtime.json', 'runtime/runtime.json']);
    expect(paths).toContain('hosts/davas/docker-compose.yml');
    expect(generateAll(jetstreamPlatform())).toEqual(artifacts);
  });

  it('runtime.json carries the queue as the runtime host sees it', () => {
    const rt = RuntimeConfigSchema.parse(JSON.parse(content('runtime/runtime.json')));
    expect(rt.host).toBe('contabo');
    expect(rt.queue).toEqual({
      backend: 'jetstream',
      jetstream: {
        servers: ['nats://nats:4222', 'nats://100.101.20.1:4222', 'nats://100.101.30.1:4222'],
        gateway: { user: 'gateway', passwordSecret: 'NATS_GATEWAY_PASSWORD' },
        worker: { user: 'worker', passwordSecret: 'NATS_WORKER_PASSWORD' },
        stream: 'JOBS',
        resultsStream: 'JOB_RESULTS',
        subjectPrefix: 'jobs',
        replicas: 3,
        ackWaitMs: 60_000,
        maxDeliver: 5,
        duplicateWindowMs: 600_000,
        nakDelayMs: 15_000,
        progressIntervalMs: 20_000,
        maxAgeMs: 7 * 24 * 3600 * 1000,
        workers: { contabo: ['cloud', 'contabo'], davas: ['davas'] },
      },
    });
  });

  it("davas's runtime.json names davas and reaches the cluster and the Ollama hosts over the tailnet", () => {
    const rt = RuntimeConfigSchema.parse(JSON.parse(content('hosts/davas/runtime/runtime.json')));
    expect(rt.host).toBe('davas');
    expect(rt.queue.jetstream!.servers).toEqual(['nats://100.101.10.1:4222', 'nats://100.101.20.1:4222', 'nats://100.101.30.1:4222']);
    // davas's Ollama listens on its tailnet address only: its own worker goes there, not through the host gateway.
    expect(rt.ollamaHosts).toEqual({ contabo: 'http://100.101.10.1:11434', davas: 'http://100.101.40.1:11434' });
    expect(rt.queue.jetstream!.workers.davas).toEqual(['davas']);
  });

  it('the folder backend renders none of it, and says so in runtime.json', () => {
    const folder = generateAll(jetstreamPlatform(edit(jetstreamText(), 'backend: jetstream', 'backend: folder')));
    expect(folder.some((a) => a.path.includes('nats') || a.path.startsWith('hosts/davas/docker'))).toBe(false);
    const rt = JSON.parse(folder.find((a) => a.path === 'runtime/runtime.json')!.content) as { queue: unknown };
    expect(rt.queue).toEqual({ backend: 'folder' });
  });

  it('nats.conf names no secret value: passwords and route URLs are references to secrets.conf', () => {
    const conf = content('hosts/prod-services/nats/nats.conf');
    expect(conf.startsWith('# generated from platform.yaml by make render, do not edit\n')).toBe(true);
    expect(conf).toContain('password: $NATS_ROUTE_PASSWORD');
    expect(conf).toContain('password: $NATS_GATEWAY_PASSWORD');
    expect(conf).toContain('password: $NATS_WORKER_PASSWORD');
    expect(conf).toMatch(/routes: \[\n {4}\$NATS_ROUTE_CONTABO\n {4}\$NATS_ROUTE_DEV_LEARNING\n {2}\]/);
    expect(conf).toContain('server_name: "prod-services"');
    expect(conf).toContain('store_dir: "/data/jetstream"');
    // One server: no cluster block at all.
    expect(natsConf(single, 'contabo')).not.toContain('cluster {');
  });
});

describe('compose files of the jetstream variant', () => {
  const compose = artifacts.filter((a) => a.path.endsWith('docker-compose.yml'));
  const doc = (host: string) =>
    parse(content(`hosts/${host}/docker-compose.yml`)) as {
      services: Record<
        string,
        { command?: string[]; ports?: string[]; volumes?: Array<{ source: string; target: string }>; env_file?: string[] }
      >;
    };

  it('validate against the compose specification schema', async () => {
    const { readFileSync } = await import('node:fs');
    const spec = JSON.parse(readFileSync(sharedSpec('compose-spec.json'), 'utf8')) as Record<string, unknown>;
    const { Ajv } = await import('ajv');
    const ajv = new Ajv({ strict: false, validateSchema: false, allErrors: true });
    const validate = ajv.compile(spec);
    expect(compose.map((a) => a.path)).toEqual([
      'hosts/contabo/docker-compose.yml',
      'hosts/davas/docker-compose.yml',
      'hosts/dev-learning/docker-compose.yml',
      'hosts/prod-services/docker-compose.yml',
    ]);
    for (const a of compose) {
      validate(parse(a.content));
      expect(validate.errors ?? [], a.path).toEqual([]);
    }
  });

  it('pass docker-compose config -q', () => {
    for (const a of compose) {
      const dir = tempDir('compose-js-');
      writeFileSync(join(dir, 'docker-compose.yml'), a.content);
      mkdirSync(join(dir, 'secrets'), { recursive: true });
      for (const s of Object.values((parse(a.content) as { services: Record<string, { env_file?: string[] }> }).services))
        for (const f of s.env_file ?? []) writeFileSync(join(dir, f), '');
      const r = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], { cwd: dir, encoding: 'utf8' });
      expect(r.error, 'docker-compose must be installed (scripts/install-tools.sh)').toBeUndefined();
      expect(r.stderr, a.path).toBe('');
      expect(r.status, a.path).toBe(0);
    }
  });

  it('a server host runs nats and its exporter, publishing client and route ports on the tailnet only', () => {
    const d = doc('prod-services');
    expect(d.services.nats!.command).toEqual(['--config', '/etc/nats/nats.conf']);
    expect(d.services.nats!.ports).toEqual(['100.101.20.1:4222:4222', '100.101.20.1:6222:6222']);
    // No env file: the passwords arrive in secrets.conf, read-only, beside nats.conf.
    expect(d.services.nats!.env_file).toBeUndefined();
    expect(d.services.nats!.volumes).toContainEqual({
      type: 'bind',
      source: '/opt/platform/secrets/nats',
      target: '/etc/nats/secrets',
      read_only: true,
    });
    expect(d.services['nats-exporter']!.command).toContain('-jsz=all');
    // Alloy runs on the host there: it scrapes the exporter through loopback.
    expect(d.services['nats-exporter']!.ports).toEqual(['127.0.0.1:7777:7777']);
  });

  it('the runtime host adds the gateway with the vault; the davas worker has no vault', () => {
    const c = doc('contabo');
    expect(c.services.gateway!.command).toEqual(['gateway']);
    expect(c.services.gateway!.volumes!.map((v) => v.target)).toContain('/vault');
    expect(c.services.gateway!.env_file).toEqual(['secrets/gateway.env']);
    const d = doc('davas');
    expect(Object.keys(d.services)).toEqual(['worker']);
    expect(d.services.worker!.volumes!.map((v) => v.target)).toEqual(['/etc/platform/runtime.json', '/data']);
  });
});

describe('every generated nats.conf passes the real nats-server', () => {
  const confs: Array<[string, string, Record<string, string>]> = [
    ...['contabo', 'prod-services', 'dev-learning'].map((h): [string, string, Record<string, string>] => [
      h,
      content(`hosts/${h}/nats/nats.conf`),
      agentSecrets(p, h),
    ]),
    ['contabo (the only server)', natsConf(single, 'contabo'), agentSecrets(single, 'contabo')],
  ];

  it.each(confs)('the secrets.conf the agent writes on %s defines every variable the config references', (_host, conf, secrets) => {
    expect(references(conf)).toEqual(Object.keys(secrets).sort());
    expect(conf).toContain('include "secrets/secrets.conf"');
  });

  it.skipIf(!bin).each(confs)('nats-server --config <%s> -t', (host, conf, secrets) => {
    const r = spawnSync(bin!, ['--config', layOut(conf, secrets), '-t'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    expect(r.stdout + r.stderr, host).toContain('is valid');
    expect(r.status, host).toBe(0);
  });

  it.skipIf(!bin)('and the check bites: a missing password fails it', () => {
    const secrets = agentSecrets(p, 'contabo');
    delete secrets.NATS_WORKER_PASSWORD;
    const r = spawnSync(bin!, ['--config', layOut(content('hosts/contabo/nats/nats.conf'), secrets), '-t'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '' },
    });
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toContain("variable reference for 'NATS_WORKER_PASSWORD'");
  });
});

describe.skipIf(!bin)('the generated permissions on a running nats-server', () => {
  let server: NatsServer;
  // Passwords a bare config value could not carry: secrets.conf quotes them.
  const users = { gateway: 'gw pass #1', worker: 'wk, "pass"' };
  const stream = (name: string, subject: string) =>
    JSON.stringify({ name, subjects: [subject], retention: name === 'JOBS' ? 'workqueue' : 'limits', storage: 'file', num_replicas: 1 });

  beforeAll(async () => {
    const conf = natsConf(single, 'contabo');
    const file = layOut(conf, { NATS_GATEWAY_PASSWORD: users.gateway, NATS_WORKER_PASSWORD: users.worker });
    // The store goes to a temporary folder, and the listen addresses (0.0.0.0) are pinned to loopback below.
    writeFileSync(file, conf.replace('store_dir: "/data/jetstream"', `store_dir: ${JSON.stringify(join(dirname(file), 'js'))}`));
    const port = await freePort();
    const monitor = await freePort();
    server = await startNatsServer(bin!, ['--config', file, '-a', '127.0.0.1', '-p', String(port), '-m', String(monitor)], {}, port);
  }, 30_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('the gateway creates the streams and publishes a job; a worker pulls, acks it and publishes the result', async () => {
    const gw = await WireClient.connect(server.port, 'gateway', users.gateway);
    const wk = await WireClient.connect(server.port, 'worker', users.worker);
    try {
      const created = await gw.request('$JS.API.STREAM.CREATE.JOBS', stream('JOBS', 'jobs.run.>'));
      expect(JSON.parse(created!.data)).not.toHaveProperty('error');
      const results = await gw.request('$JS.API.STREAM.CREATE.JOB_RESULTS', stream('JOB_RESULTS', 'jobs.result.>'));
      expect(JSON.parse(results!.data)).not.toHaveProperty('error');

      const ack = await gw.request('jobs.run.cloud', '{"job":"j-1"}');
      expect(JSON.parse(ack!.data)).toMatchObject({ stream: 'JOBS', seq: 1 });

      const consumer = JSON.stringify({
        stream_name: 'JOBS',
        config: { durable_name: 'cloud', filter_subject: 'jobs.run.cloud', ack_policy: 'explicit', ack_wait: 60e9, max_deliver: 5 },
      });
      const made = await wk.request('$JS.API.CONSUMER.CREATE.JOBS.cloud.jobs.run.cloud', consumer);
      expect(JSON.parse(made!.data)).not.toHaveProperty('error');
      const job = await wk.request('$JS.API.CONSUMER.MSG.NEXT.JOBS.cloud', JSON.stringify({ batch: 1, expires: 2e9 }));
      expect(job?.data).toBe('{"job":"j-1"}');
      expect(job?.reply).toMatch(/^\$JS\.ACK\.JOBS\.cloud\./);
      wk.publish(job!.reply!, '+WPI');
      wk.publish(job!.reply!, '+ACK');
      // Has this job its result already? (a redelivered job that finished elsewhere is not run again)
      const none = await wk.request('$JS.API.STREAM.MSG.GET.JOB_RESULTS', JSON.stringify({ last_by_subj: 'jobs.result.cloud.j-1' }));
      expect(JSON.parse(none!.data)).toMatchObject({ error: { code: 404 } });
      const resultAck = await wk.request('jobs.result.cloud.j-1', '{"job":"j-1","ok":true}');
      expect(JSON.parse(resultAck!.data)).toMatchObject({ stream: 'JOB_RESULTS', seq: 1 });
      const stored = await wk.request('$JS.API.STREAM.MSG.GET.JOB_RESULTS', JSON.stringify({ last_by_subj: 'jobs.result.cloud.j-1' }));
      expect(JSON.parse(stored!.data)).toMatchObject({ message: { subject: 'jobs.result.cloud.j-1' } });
      await wk.flush();
      expect(wk.errors).toEqual([]);
      expect(gw.errors).toEqual([]);
      // The work-queue stream dropped the acked job.
      const info = await gw.request('$JS.API.STREAM.INFO.JOBS');
      expect((JSON.parse(info!.data) as { state: { messages: number } }).state.messages).toBe(0);
    } finally {
      gw.close();
      wk.close();
    }
  });

  it('a worker cannot publish jobs or touch the streams; the gateway cannot publish results', async () => {
    const gw = await WireClient.connect(server.port, 'gateway', users.gateway);
    const wk = await WireClient.connect(server.port, 'worker', users.worker);
    try {
      // The gateway hears of a job given up after its last delivery; a worker may not listen in.
      gw.subscribe('$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.JOBS.*');
      wk.subscribe('$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.JOBS.*');
      wk.publish('jobs.run.cloud', 'forged');
      wk.publish('$JS.API.STREAM.DELETE.JOBS');
      wk.publish('$JS.API.STREAM.PURGE.JOB_RESULTS');
      gw.publish('jobs.result.cloud', 'forged');
      await wk.flush();
      await gw.flush();
      expect(wk.errors).toEqual([
        `-ERR 'Permissions Violation for Subscription to "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.JOBS.*"'`,
        `-ERR 'Permissions Violation for Publish to "jobs.run.cloud"'`,
        `-ERR 'Permissions Violation for Publish to "$JS.API.STREAM.DELETE.JOBS"'`,
        `-ERR 'Permissions Violation for Publish to "$JS.API.STREAM.PURGE.JOB_RESULTS"'`,
      ]);
      expect(gw.errors).toEqual([`-ERR 'Permissions Violation for Publish to "jobs.result.cloud"'`]);
    } finally {
      gw.close();
      wk.close();
    }
  });

  it('a wrong password is refused', async () => {
    await expect(WireClient.connect(server.port, 'worker', 'not-the-password')).rejects.toThrow(
      /Authorization Violation|connection closed/,
    );
  });
});

describe('the system map of the jetstream variant', () => {
  const map = content('docs/system-map.md');

  it('shows the backend, the cluster and which host takes which group', () => {
    expect(map).toContain('Backend `jetstream`: the gateway on contabo claims files from `_queue/`');
    expect(map).toContain('| prod-services | 100.101.20.1:4222 | 6222 | 8222 | 7777 |');
    expect(map).toContain('| davas | davas | gemma4:27b |');
    expect(map).toContain('svc_prod_services_nats <-.->|route| svc_dev_learning_nats');
    expect(map).toContain('svc_davas_worker -.->|tailnet| svc_contabo_nats');
  });

  it('draws each service once: a name the queue adds on several hosts gets one node per host', () => {
    const nodes = [...map.matchAll(/^ {4}(svc_[A-Za-z0-9_]+)[[(]/gm)].map((m) => m[1]!);
    expect(nodes.length).toBeGreaterThan(10);
    expect(new Set(nodes).size).toBe(nodes.length);
    expect(nodes).toEqual(expect.arrayContaining(['svc_worker', 'svc_davas_worker', 'svc_contabo_nats', 'svc_dev_learning_nats']));
  });
});

describe('the TLS variant (nats.tls.enabled)', () => {
  const tp = jetstreamPlatform(jetstreamTlsText());
  const tlsArtifacts = generateAll(tp);
  const tlsContent = (path: string): string => {
    const a = tlsArtifacts.find((x) => x.path === path);
    if (!a) throw new Error(`no artifact ${path}`);
    return a.content;
  };
  type ComposeDoc = {
    services: Record<string, { volumes?: Array<{ type: string; source: string; target: string; read_only?: boolean }> }>;
  };
  const composeOf = (host: string): ComposeDoc => parse(tlsContent(`hosts/${host}/docker-compose.yml`)) as ComposeDoc;
  const servers = ['contabo', 'prod-services', 'dev-learning'];
  // The names the generated config says the certificate must carry, and loopback for the servers started below.
  const certs = bin ? makeTestCerts({ dns: ['nats'], ip: ['127.0.0.1', '100.101.10.1', '100.101.20.1', '100.101.30.1'] }) : undefined;
  /** The server's TLS files as the agent writes them beside secrets.conf. */
  const pemFiles = (host: string): Record<string, string> => {
    const byFile: Record<string, string> = {};
    for (const f of envFilesOn(tp, host).filter((x) => x.format === 'pem' && x.dest.startsWith('/opt/platform/secrets/nats/'))) {
      const value = { NATS_TLS_CERT: certs!.cert, NATS_TLS_KEY: certs!.key, NATS_TLS_CA: certs!.ca }[f.secrets[0]!];
      byFile[f.dest.slice('/opt/platform/secrets/nats/'.length)] = value!;
    }
    return byFile;
  };

  it('runtime.json on each client host dials tls:// URLs and names the CA where compose mounts it', () => {
    for (const [path, host] of [
      ['runtime/runtime.json', 'contabo'],
      ['hosts/davas/runtime/runtime.json', 'davas'],
    ] as const) {
      const js = RuntimeConfigSchema.parse(JSON.parse(tlsContent(path))).queue.jetstream!;
      expect(
        js.servers.every((u) => u.startsWith('tls://')),
        path,
      ).toBe(true);
      expect(js.tls).toEqual({ caFile: '/etc/platform/nats-ca/ca.pem' });
      const services = host === 'contabo' ? ['worker', 'gateway'] : ['worker'];
      for (const s of services) {
        const mount = composeOf(host).services[s]!.volumes!.find((v) => v.target === dirname(js.tls!.caFile));
        expect(mount, `${host}/${s}`).toEqual({
          type: 'bind',
          source: '/opt/platform/secrets/nats-ca',
          target: '/etc/platform/nats-ca',
          read_only: true,
        });
        // The agent writes the CA there, readable by the runtime's user, and restarts the clients when it changes.
        const ca = envFilesOn(tp, host).find((f) => f.dest === `${mount!.source}/ca.pem`);
        expect(ca, host).toMatchObject({
          secrets: ['NATS_TLS_CA'],
          format: 'pem',
          public: true,
          reload: { compose_restart: services.join(' ') },
        });
      }
    }
    expect(RuntimeConfigSchema.parse(JSON.parse(tlsContent('runtime/runtime.json'))).queue.jetstream!.servers).toEqual([
      'tls://nats:4222',
      'tls://100.101.20.1:4222',
      'tls://100.101.30.1:4222',
    ]);
  });

  it('each server reads its certificate, key and CA from the files the agent writes in its mounted secrets folder', () => {
    for (const host of servers) {
      const conf = tlsContent(`hosts/${host}/nats/nats.conf`);
      // One block for clients (no client certificate asked: they log in with passwords), one for routes.
      expect(conf.match(/^tls \{$/gm), host).toHaveLength(1);
      expect(conf.match(/^ {2}tls \{$/gm), host).toHaveLength(1);
      expect(conf).toMatch(/^tls \{[^}]*verify: false[^}]*\}/m);
      expect(conf).toMatch(/^ {2}tls \{[^}]*verify: true[^}]*\}/m);
      expect(conf).toContain('#   DNS:nats, IP:100.101.10.1, IP:100.101.20.1, IP:100.101.30.1');
      // Monitoring stays plain HTTP on the compose network, where the exporter and the healthcheck read it.
      expect(conf).toContain('http: "0.0.0.0:8222"');
      const mount = composeOf(host).services.nats!.volumes!.find((v) => v.target === '/etc/nats/secrets')!;
      expect(mount).toMatchObject({ source: '/opt/platform/secrets/nats', read_only: true });
      const files = [...conf.matchAll(/(cert|key|ca)_file: "([^"]+)"/g)].map((m) => m[2]!);
      expect(new Set(files), host).toEqual(
        new Set(['/etc/nats/secrets/server-cert.pem', '/etc/nats/secrets/server-key.pem', '/etc/nats/secrets/ca.pem']),
      );
      const written = envFilesOn(tp, host).filter((f) => f.format === 'pem' && f.dest.startsWith(`${mount.source}/`));
      expect(written.map((f) => [f.dest.replace(mount.source, mount.target), f.secrets, f.public, f.reload])).toEqual([
        ['/etc/nats/secrets/server-cert.pem', ['NATS_TLS_CERT'], undefined, { compose_restart: 'nats' }],
        ['/etc/nats/secrets/server-key.pem', ['NATS_TLS_KEY'], undefined, { compose_restart: 'nats' }],
        ['/etc/nats/secrets/ca.pem', ['NATS_TLS_CA'], undefined, { compose_restart: 'nats' }],
      ]);
    }
    // Without TLS nothing of it is rendered.
    expect(content('hosts/contabo/nats/nats.conf')).not.toContain('tls {');
    expect(envFilesOn(p, 'contabo').some((f) => f.format === 'pem')).toBe(false);
  });

  it('no host gets two agent templates of one name, nor a folder holding both public and private files', () => {
    for (const host of Object.keys(tp.hosts)) {
      const files = envFilesOn(tp, host);
      expect(new Set(files.map((f) => f.name)).size, host).toBe(files.length);
      const dirs = new Map<string, boolean>();
      for (const f of files) {
        const d = dirname(f.dest);
        expect(dirs.get(d) ?? !!f.public, `${host}: ${d}`).toBe(!!f.public);
        dirs.set(d, !!f.public);
      }
    }
  });

  it('the compose files validate against the compose specification schema and pass docker-compose config -q', async () => {
    const { readFileSync } = await import('node:fs');
    const spec = JSON.parse(readFileSync(sharedSpec('compose-spec.json'), 'utf8')) as Record<string, unknown>;
    const { Ajv } = await import('ajv');
    const validate = new Ajv({ strict: false, validateSchema: false, allErrors: true }).compile(spec);
    const compose = tlsArtifacts.filter((a) => a.path.endsWith('docker-compose.yml'));
    expect(compose).toHaveLength(4);
    for (const a of compose) {
      validate(parse(a.content));
      expect(validate.errors ?? [], a.path).toEqual([]);
      const dir = tempDir('compose-tls-');
      writeFileSync(join(dir, 'docker-compose.yml'), a.content);
      mkdirSync(join(dir, 'secrets'), { recursive: true });
      for (const s of Object.values((parse(a.content) as { services: Record<string, { env_file?: string[] }> }).services))
        for (const f of s.env_file ?? []) writeFileSync(join(dir, f), '');
      const r = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], { cwd: dir, encoding: 'utf8' });
      expect(r.stderr, a.path).toBe('');
      expect(r.status, a.path).toBe(0);
    }
  });

  it.skipIf(!bin).each(servers)('nats-server --config <%s, TLS> -t, with a certificate made for it', (host) => {
    const file = layOut(tlsContent(`hosts/${host}/nats/nats.conf`), agentSecrets(tp, host), pemFiles(host));
    const r = spawnSync(bin!, ['--config', file, '-t'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    expect(r.stdout + r.stderr, host).toContain('is valid');
    expect(r.status, host).toBe(0);
  });

  it.skipIf(!bin)('and the check bites: without the key file the config is refused', () => {
    const files = pemFiles('contabo');
    delete files['server-key.pem'];
    const file = layOut(tlsContent('hosts/contabo/nats/nats.conf'), agentSecrets(tp, 'contabo'), files);
    const r = spawnSync(bin!, ['--config', file, '-t'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('server-key.pem');
  });
});
