import { describe, expect, it } from 'vitest';
import { natsClientUrls, natsTlsNames, parsePlatform, servicesOn } from '../../model/index.js';
import { edit, exampleText, lineOf } from '../helpers.js';
import { jetstreamText, jetstreamTlsText } from '../helpers/jetstream.js';
import { problems, only } from './problems.js';

const folder = exampleText();
const js = jetstreamText();

describe('the queue backend', () => {
  it('defaults to the folder queue, and the example keeps it with its nats section unused', () => {
    const p = parsePlatform(folder);
    expect(p.vault.queue.backend).toBe('folder');
    expect(p.nats?.servers).toEqual(['contabo', 'prod-services', 'dev-learning']);
    // Nothing is added to any host while the backend is folder.
    expect(servicesOn(p, 'davas')).toEqual([]);
    expect(servicesOn(p, 'contabo').map(([n]) => n)).not.toContain('nats');
    const bare = parsePlatform(edit(folder, '  queue:\n    backend: folder\n', ''));
    expect(bare.vault.queue.backend).toBe('folder');
  });

  it('the jetstream variant of the example is valid and adds the queue services', () => {
    const p = parsePlatform(js);
    expect(p.vault.queue.backend).toBe('jetstream');
    expect(servicesOn(p, 'contabo').map(([n]) => n)).toEqual(expect.arrayContaining(['worker', 'nats', 'nats-exporter', 'gateway']));
    expect(servicesOn(p, 'prod-services').map(([n]) => n)).toEqual(expect.arrayContaining(['nats', 'nats-exporter']));
    expect(servicesOn(p, 'davas').map(([n]) => n)).toEqual(['worker']);
    // The davas worker has no vault mount: outputs reach the vault through the gateway.
    const davasWorker = servicesOn(p, 'davas')[0]![1];
    expect(davasWorker.volumes.some((v) => v.type === 'vault')).toBe(false);
    expect(davasWorker.secrets).toContain('NATS_WORKER_PASSWORD');
    expect(natsClientUrls(p, 'contabo')).toEqual(['nats://nats:4222', 'nats://100.101.20.1:4222', 'nats://100.101.30.1:4222']);
    expect(natsClientUrls(p, 'davas')).toEqual(['nats://100.101.10.1:4222', 'nats://100.101.20.1:4222', 'nats://100.101.30.1:4222']);
  });

  it('the jetstream backend without a nats section', () => {
    const text = js.replace(/\nnats:\n( {2}.*\n|\s*#.*\n)+/, '\n');
    expect(text).not.toContain('\nnats:');
    const p = only(text);
    expect(p).toMatchObject({ path: 'vault.queue.backend', line: lineOf(text, 'backend: jetstream') });
    expect(p.message).toBe('the jetstream backend needs a NATS cluster, but the model has no "nats:" section');
    expect(p.fix).toContain('set the backend to "folder"');
  });

  it('an unknown backend names the allowed ones', () => {
    const text = edit(folder, 'backend: folder', 'backend: jetstram');
    const p = only(text);
    expect(p).toMatchObject({ path: 'vault.queue.backend', line: lineOf(text, 'backend: jetstram') });
    expect(p.fix).toContain('did you mean "jetstream"?');
  });
});

describe('the NATS cluster', () => {
  it('a server host that does not exist', () => {
    const text = edit(folder, 'servers: [contabo, prod-services, dev-learning]', 'servers: [contabo, prod-service, dev-learning]');
    const p = only(text);
    expect(p).toMatchObject({ path: 'nats.servers.1', line: lineOf(text, 'prod-service,') });
    expect(p.message).toBe('NATS server host "prod-service" is not under hosts:');
    expect(p.fix).toContain('did you mean "prod-services"?');
  });

  it('an even number of servers', () => {
    let text = edit(folder, 'servers: [contabo, prod-services, dev-learning]', 'servers: [contabo, prod-services]');
    text = edit(text, 'replicas: 3', 'replicas: 2');
    const p = only(text);
    expect(p).toMatchObject({ path: 'nats.servers', line: lineOf(text, 'servers: [contabo, prod-services]') });
    expect(p.fix).toContain('an odd number of at least 3');
  });

  it('more replicas than servers', () => {
    const text = edit(folder, 'servers: [contabo, prod-services, dev-learning]', 'servers: [contabo]');
    const p = only(text);
    expect(p).toMatchObject({ path: 'nats.stream.replicas', line: lineOf(text, 'replicas: 3') });
    expect(p.message).toBe('streams with 3 replicas need at least 3 servers, but the cluster has 1');
    expect(p.fix).toBe('set replicas to at most 1, or list more hosts under nats.servers');
  });

  it('ports and users that collide', () => {
    let text = edit(folder, 'exporter: 7777', 'exporter: 8222');
    text = edit(text, 'worker: { user: worker,', 'worker: { user: gateway,');
    const list = problems(text);
    expect(list.map((p) => [p.path, p.line])).toEqual([
      ['nats.ports.exporter', lineOf(text, 'exporter: 8222')],
      ['nats.users.worker.user', lineOf(text, 'worker: { user: gateway,')],
    ]);
  });

  it('a progress interval too close to the ack wait', () => {
    const text = edit(folder, 'progressIntervalSeconds: 20', 'progressIntervalSeconds: 45');
    const p = only(text);
    expect(p).toMatchObject({ path: 'nats.stream.progressIntervalSeconds', line: lineOf(text, 'progressIntervalSeconds: 45') });
    expect(p.fix).toBe('set progressIntervalSeconds to at most 30, or raise ackWaitSeconds');
  });

  it('TLS on the cluster is accepted, and its files come from three secrets of their own', () => {
    const p = parsePlatform(jetstreamTlsText());
    expect(p.nats!.tls).toMatchObject({ enabled: true, certSecret: 'NATS_TLS_CERT', keySecret: 'NATS_TLS_KEY', caSecret: 'NATS_TLS_CA' });
    expect(natsClientUrls(p, 'davas')).toEqual(['tls://100.101.10.1:4222', 'tls://100.101.20.1:4222', 'tls://100.101.30.1:4222']);
    expect(natsTlsNames(p)).toEqual({ dns: ['nats'], ip: ['100.101.10.1', '100.101.20.1', '100.101.30.1'] });
  });

  it("TLS with the key under the certificate's secret name", () => {
    const text = edit(
      jetstreamTlsText(),
      'tls: { enabled: true }',
      'tls: { enabled: true, certSecret: NATS_TLS_PEM, keySecret: NATS_TLS_PEM }',
    );
    const p = only(text);
    expect(p).toMatchObject({ path: 'nats.tls.keySecret', line: lineOf(text, 'keySecret: NATS_TLS_PEM') });
    expect(p.message).toContain('already holds the TLS certificate');
    expect(p.fix).toBe('name a secret of its own, e.g. "NATS_TLS_KEY"');
  });

  it("TLS with the CA under a password's secret name", () => {
    const text = edit(jetstreamTlsText(), 'tls: { enabled: true }', 'tls: { enabled: true, caSecret: NATS_ROUTE_PASSWORD }');
    const p = only(text);
    expect(p).toMatchObject({ path: 'nats.tls.caSecret', line: lineOf(text, 'caSecret: NATS_ROUTE_PASSWORD') });
    expect(p.message).toContain('already holds the route password');
  });

  it('TLS with a worker volume where the CA is mounted', () => {
    const text = edit(
      jetstreamTlsText(),
      '      - { type: volume, source: runtime-data, target: /data }\n',
      '      - { type: volume, source: runtime-data, target: /data }\n      - { type: volume, source: certs, target: /etc/platform/nats-ca }\n',
      '  worker:\n    host: contabo',
    );
    const p = only(text);
    expect(p).toMatchObject({ path: 'services.worker.volumes.2.target', line: lineOf(text, 'target: /etc/platform/nats-ca') });
    expect(p.message).toContain('the CA is mounted at /etc/platform/nats-ca');
    // With TLS off the same volume is the model's own business.
    expect(() => parsePlatform(edit(text, 'tls: { enabled: true }', 'tls: { enabled: false }'))).not.toThrow();
  });

  it('a password pasted where a secret name belongs', () => {
    const text = edit(folder, 'passwordSecret: NATS_WORKER_PASSWORD', 'passwordSecret: "hunter2-hunter2-hunter2"');
    const list = problems(text);
    expect(list.some((p) => p.path === 'nats.users.worker.passwordSecret')).toBe(true);
  });
});

describe('workers and route groups', () => {
  it('a worker host that does not exist', () => {
    const text = edit(folder, '    davas: [davas]\n', '    dava: [davas]\n', 'workers:');
    const list = problems(text);
    const p = list.find((x) => x.path === 'nats.workers.dava')!;
    expect(p).toMatchObject({ line: lineOf(text, 'dava: [davas]') });
    expect(p.message).toBe('worker host "dava" is not under hosts:');
    expect(p.fix).toContain('did you mean "davas"?');
  });

  it('a group that is neither cloud nor an Ollama host', () => {
    const text = edit(folder, 'contabo: [cloud, contabo]', 'contabo: [clod, contabo]', 'workers:');
    const p = only(text);
    expect(p).toMatchObject({ path: 'nats.workers.contabo.0', line: lineOf(text, 'contabo: [clod, contabo]') });
    expect(p.message).toContain('"clod" is not a route group');
    expect(p.fix).toContain('did you mean "cloud"?');
  });

  it('every route group needs a worker: the error names the route and the fix', () => {
    const text = edit(js, '    davas: [davas]\n', '', 'workers:');
    const p = only(text);
    expect(p).toMatchObject({ path: 'routing.models.1', line: lineOf(text, '- id: gemma4:27b') });
    expect(p.message).toBe(
      'jobs for "gemma4:27b" go to group "davas", but no worker under nats.workers takes "davas", so they would wait forever',
    );
    expect(p.fix).toBe('add "davas" to the groups of a worker, e.g. "nats.workers.davas: [..., davas]"');
    // With the folder backend the one worker runs everything: no such problem.
    expect(() => parsePlatform(edit(folder, '    davas: [davas]\n', '', 'workers:'))).not.toThrow();
  });

  it('hosted routes need a worker that takes cloud', () => {
    const text = edit(js, 'contabo: [cloud, contabo]', 'contabo: [contabo]', 'workers:');
    const list = problems(text);
    expect(list.map((p) => p.path)).toEqual(['routing.models.2', 'routing.models.3', 'routing.models.4', 'routing.models.5']);
    expect(list[0]!.message).toContain('group "cloud"');
  });

  it('a worker cannot take the jobs of an Ollama it cannot reach', () => {
    const text = edit(js, 'contabo: [cloud, contabo]', 'contabo: [cloud, contabo]\n    prod-services: [contabo]', 'workers:');
    const p = only(text);
    expect(p).toMatchObject({ path: 'nats.workers.prod-services.0', line: lineOf(text, 'prod-services: [contabo]', 'workers:') });
    expect(p.message).toContain('the Ollama on "contabo" listens on loopback only (127.0.0.1:11434)');
    expect(p.fix).toContain('100.101.10.1:11434');
    // davas's Ollama listens on its tailnet address: a worker elsewhere may take davas jobs.
    expect(() => parsePlatform(edit(js, 'contabo: [cloud, contabo]', 'contabo: [cloud, contabo, davas]', 'workers:'))).not.toThrow();
  });

  it('a group no route uses', () => {
    let text = edit(js, 'host: davas\n      label', 'host: contabo\n      label');
    text = edit(text, 'models: [qwen2.5:14b, nomic-embed-text]', 'models: [qwen2.5:14b, nomic-embed-text, "gemma4:27b"]');
    const p = only(text);
    expect(p).toMatchObject({ path: 'nats.workers.davas.0', line: lineOf(text, 'davas: [davas]', 'workers:') });
    expect(p.message).toContain('no route in routing.models sends jobs to group "davas"');
  });

  it("the runtime host's worker must be a worker of the cluster", () => {
    const text = edit(js, '    contabo: [cloud, contabo]\n', '    davas: [davas, cloud]\n', 'workers:').replace(
      /\n {4}davas: \[davas\]\n/,
      '\n',
    );
    const list = problems(text);
    const p = list.find((x) => x.path === 'services.worker.host')!;
    expect(p).toBeDefined();
    expect(p.message).toContain('nats.workers does not list "contabo"');
    expect(p.fix).toBe('add "contabo: [cloud, contabo]" under nats.workers');
  });

  it('a worker host without an Infisical identity', () => {
    const text = edit(js, 'hosts: [prod-services, dev-learning, davas]', 'hosts: [prod-services, dev-learning]');
    const list = problems(text);
    const p = list.find((x) => x.path === 'nats.workers.davas')!;
    expect(p).toMatchObject({ line: lineOf(text, 'davas: [davas]', 'workers:') });
    expect(p.message).toContain('no Infisical identity covers the host');
  });

  it('a server host whose firewall keeps the clients out', () => {
    const text = edit(
      js,
      '        - name: nats-client\n          protocol: tcp\n          ports: "4222"\n',
      '        - name: nats-client\n          protocol: tcp\n          ports: "4223"\n',
      'prod-services:\n    kind',
    );
    const list = problems(text);
    expect(list.map((p) => p.message)).toEqual([
      'the gateway on "contabo" (100.101.10.1) cannot reach NATS on "prod-services": no inbound rule admits tcp/4222 from it',
      'the worker on "davas" (100.101.40.1) cannot reach NATS on "prod-services": no inbound rule admits tcp/4222 from it',
    ]);
    expect(list[0]).toMatchObject({ path: 'hosts.prod-services.firewall.inbound' });
    expect(list[0]!.fix).toContain('ports: "4222"');
  });
});
