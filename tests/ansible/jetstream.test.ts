import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { natsTlsNames } from '../../model/index.js';
import { envFilesOn, type EnvFile } from '../../playbooks-gen/groups.js';
import { natsConf } from '../../render/generators/nats-config.js';
import { generateAll } from '../../render/render.js';
import { freePort, tempDir } from '../helpers.js';
import { jetstreamPlatform, jetstreamTlsText } from '../helpers/jetstream.js';
import { makeTestCerts, type TestCerts } from '../helpers/test-ca.js';
import { natsServerBin, startServersFrom, waitForCluster, WireClient, type NatsServer } from '../helpers/nats-wire.js';
import { ansibleEnv, FIXTURES, recap, REPO, run, runAsync } from './helpers.js';

/*
 * The Ansible side of the jetstream backend: the generated inventory, vars and playbooks for the
 * jetstream variant of the example, and the env file the Infisical agent writes for a NATS server
 * (its template rendered by Ansible, then executed as the Go template the agent runs), which must
 * let three real servers form a cluster.
 */

const p = jetstreamPlatform();
const gen = tempDir('generated-js-');
for (const a of generateAll(p)) {
  mkdirSync(dirname(join(gen, a.path)), { recursive: true });
  writeFileSync(join(gen, a.path), a.content);
}
const playbooks = join(gen, 'ansible');

describe('the generated Ansible of the jetstream variant', () => {
  it('puts davas among the Docker and compose hosts, and ships each host the files its containers mount', () => {
    const r = run('ansible-inventory', ['-i', join(playbooks, 'inventory.yml'), '--list']);
    expect(r.status, r.stderr).toBe(0);
    const inv = JSON.parse(r.stdout) as Record<string, { hosts?: string[] }> & {
      _meta: { hostvars: Record<string, { compose_files?: Array<{ src: string; dest: string }> }> };
    };
    expect(inv.docker_hosts!.hosts).toContain('davas');
    expect(inv.compose_hosts!.hosts).toContain('davas');
    const files = (h: string) => inv._meta.hostvars[h]!.compose_files ?? [];
    expect(files('davas')).toEqual([{ src: '../hosts/davas/runtime/runtime.json', dest: 'runtime/runtime.json' }]);
    for (const h of ['contabo', 'prod-services', 'dev-learning'])
      expect(files(h), h).toContainEqual({ src: `../hosts/${h}/nats/nats.conf`, dest: 'nats/nats.conf' });
    for (const h of Object.keys(p.hosts)) for (const f of files(h)) expect(existsSync(join(playbooks, f.src)), `${h}: ${f.src}`).toBe(true);
  });

  for (const pb of ['site.yml', 'restore.yml']) {
    it(`ansible-playbook --syntax-check ${pb}`, () => {
      const r = run('ansible-playbook', ['-i', join(playbooks, 'inventory.yml'), '--syntax-check', join(playbooks, pb)]);
      expect(r.status, r.stdout + r.stderr).toBe(0);
    });
  }

  it('ansible-lint (production profile) passes on its playbooks', async () => {
    const r = await runAsync('ansible-lint', ['--nocolor', '-q', join(playbooks, 'site.yml'), join(playbooks, 'restore.yml')]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  }, 120_000);

  it('restore.yml can bring back the NATS data volume', () => {
    const r = run('ansible-playbook', ['-i', join(playbooks, 'inventory.yml'), '--list-tags', join(playbooks, 'restore.yml')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/TAGS: \[[^\]]*\bnats\b/);
  });
});

const bin = natsServerBin();
const go = spawnSync('go', ['version'], { encoding: 'utf8' }).status === 0;
if (!bin || !go) console.warn(`skipping the agent env file checks: ${!bin ? 'no nats-server (scripts/install-nats.sh)' : 'no go'}`);

/** The agent's template for `file`, rendered by Ansible's template module from the role's env.tmpl.j2. */
function agentTemplate(file: EnvFile, out: string, platform = p): void {
  const vars = join(dirname(out), 'vars.json');
  writeFileSync(vars, JSON.stringify({ infisical_project: platform.infisical.project, infisical_env: platform.infisical.env, item: file }));
  const r = run('ansible', [
    'localhost',
    '-c',
    'local',
    '-i',
    'localhost,',
    '-m',
    'ansible.builtin.template',
    '-a',
    `src=${join(REPO, 'ansible/roles/infisical_agent/templates/env.tmpl.j2')} dest=${out}`,
    '-e',
    `@${vars}`,
  ]);
  expect(r.status, r.stdout + r.stderr).toBe(0);
}

/** Runs a Go template as the agent does, with `listSecretsByProjectSlug` answering from `secrets` (Infisical's double). */
function executeTemplate(template: string, secrets: Record<string, string>): string {
  const dir = tempDir('agent-go-');
  writeFileSync(join(dir, 'go.mod'), 'module agenttemplate\n\ngo 1.22\n');
  writeFileSync(
    join(dir, 'main.go'),
    `package main

import (
	"encoding/json"
	"os"
	"text/template"
)

type secret struct{ Key, Value string }

func main() {
	var secrets []secret
	if err := json.NewDecoder(os.Stdin).Decode(&secrets); err != nil {
		panic(err)
	}
	t := template.Must(template.New("env").Funcs(template.FuncMap{
		"listSecretsByProjectSlug": func(project, env, path string) []secret { return secrets },
	}).Parse(string(must(os.ReadFile(os.Args[1])))))
	if err := t.Execute(os.Stdout, nil); err != nil {
		panic(err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
`,
  );
  const input = JSON.stringify(Object.entries(secrets).map(([Key, Value]) => ({ Key, Value })));
  const r = spawnSync('go', ['run', '.', template], { cwd: dir, input, encoding: 'utf8', env: { ...process.env, GOFLAGS: '-mod=mod' } });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

/** The `KEY: "value"` lines of a secrets.conf, unquoted (Go's %q of printable text reads back as JSON). */
function confVars(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => {
        const m = /^([A-Z_][A-Z0-9_]*): (".*")$/.exec(l);
        if (!m) throw new Error(`not a NATS variable line: ${l}`);
        return [m[1]!, JSON.parse(m[2]!) as string];
      }),
  );
}

describe.skipIf(!bin || !go)("the agent's env file for a NATS server", () => {
  // A route password a URL cannot carry as is: the template escapes it, the server unescapes it.
  const secrets = {
    NATS_GATEWAY_PASSWORD: 'gw #1',
    NATS_WORKER_PASSWORD: 'wk, "x"',
    NATS_ROUTE_PASSWORD: 'r@ute/pa:ss+word',
    UNRELATED: 'x',
  };
  const servers = ['contabo', 'prod-services', 'dev-learning'];
  const rendered: Record<string, string> = {};
  const running: NatsServer[] = [];

  beforeAll(() => {
    for (const host of servers) {
      const file = envFilesOn(p, host).find((f) => f.name === 'nats')!;
      const out = join(tempDir('agent-'), `${host}.env.tmpl`);
      agentTemplate(file, out);
      rendered[host] = executeTemplate(out, secrets);
    }
  }, 180_000);

  afterAll(async () => {
    await Promise.all(running.map((s) => s.stop()));
  });

  it('holds the secrets the server names and a route URL to each peer, quoted, nothing else', () => {
    expect(confVars(rendered['prod-services']!)).toEqual({
      NATS_GATEWAY_PASSWORD: 'gw #1',
      NATS_WORKER_PASSWORD: 'wk, "x"',
      NATS_ROUTE_PASSWORD: 'r@ute/pa:ss+word',
      NATS_ROUTE_CONTABO: 'nats-route://route:r%40ute%2Fpa%3Ass%2Bword@100.101.10.1:6222',
      NATS_ROUTE_DEV_LEARNING: 'nats-route://route:r%40ute%2Fpa%3Ass%2Bword@100.101.30.1:6222',
    });
  });

  it('lets three real servers form the cluster from the generated nats.conf files, with streams of three replicas', async () => {
    const ports = Object.fromEntries(
      await Promise.all(
        servers.map(async (h) => [h, { client: await freePort(), cluster: await freePort(), monitor: await freePort() }] as const),
      ),
    );
    const address = (h: string): string => `${p.hosts[h]!.addresses.tailnet}:${p.nats!.ports.cluster}`;
    const confs: Record<string, string> = {};
    for (const host of servers) {
      const dir = tempDir('nats-cluster-');
      // The store goes to a temporary folder; every address (tailnet, 0.0.0.0) is pinned to loopback.
      const conf = natsConf(p, host).replace('store_dir: "/data/jetstream"', `store_dir: ${JSON.stringify(join(dir, 'js'))}`);
      writeFileSync(join(dir, 'nats.conf'), conf);
      // The agent's own output, with the peers' tailnet addresses pinned to their loopback route ports.
      const secretsConf = servers.reduce(
        (acc, peer) => acc.replaceAll(`@${address(peer)}"`, `@127.0.0.1:${ports[peer]!.cluster}"`),
        rendered[host]!,
      );
      mkdirSync(join(dir, 'secrets'));
      writeFileSync(join(dir, 'secrets/secrets.conf'), secretsConf);
      confs[host] = join(dir, 'nats.conf');
    }
    running.push(...(await startServersFrom(bin!, servers, (h) => confs[h]!, ports)));
    const state = await waitForCluster(servers, ports, running);
    expect(state.map((s) => s.peers)).toEqual([
      ['dev-learning', 'prod-services'],
      ['contabo', 'dev-learning'],
      ['contabo', 'prod-services'],
    ]);
    expect(new Set(state.map((s) => s.leader)).size).toBe(1);
    expect(running.map((s) => s.log()).join('\n')).not.toMatch(/Authorization Violation|authentication error/);
    // The gateway, with its quoted password, creates the job stream with the model's replicas.
    const gw = await WireClient.connect(ports['prod-services']!.client, 'gateway', secrets.NATS_GATEWAY_PASSWORD);
    try {
      const config = {
        name: 'JOBS',
        subjects: ['jobs.run.>'],
        retention: 'workqueue',
        storage: 'file',
        num_replicas: p.nats!.stream.replicas,
      };
      const created = await gw.request('$JS.API.STREAM.CREATE.JOBS', JSON.stringify(config));
      const body = JSON.parse(created!.data) as { config?: { num_replicas: number }; cluster?: { replicas?: unknown[] }; error?: unknown };
      expect(body.error).toBeUndefined();
      expect(body.config!.num_replicas).toBe(3);
      expect(gw.errors).toEqual([]);
    } finally {
      gw.close();
    }
  }, 60_000);
});

describe('the TLS variant (nats.tls.enabled): the agent delivers the PEM files', () => {
  const tp = jetstreamPlatform(jetstreamTlsText());
  const genTls = tempDir('generated-js-tls-');
  for (const a of generateAll(tp)) {
    mkdirSync(dirname(join(genTls, a.path)), { recursive: true });
    writeFileSync(join(genTls, a.path), a.content);
  }
  const servers = ['contabo', 'prod-services', 'dev-learning'];

  it('ansible-playbook --syntax-check site.yml', () => {
    const pbs = join(genTls, 'ansible');
    const r = run('ansible-playbook', ['-i', join(pbs, 'inventory.yml'), '--syntax-check', join(pbs, 'site.yml')]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('infisical_agent and compose_project, converged under a temporary root, lay out the files and wait for the CA', async () => {
    const root = tempDir('agent-root-');
    const pbDir = tempDir('agent-pb-');
    // Stands in for the agent's renders: every env file, and the PEM files but the CA unless `ca` is set.
    writeFileSync(
      join(pbDir, 'agent.yml'),
      `---
- name: Converge the Infisical agent and the compose project with contabo's vars of the TLS variant
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files:
    - ${join(genTls, 'ansible/group_vars/all.yml')}
    - ${join(genTls, 'ansible/host_vars/contabo.yml')}
  pre_tasks:
    - name: Place the machine identity's credentials, as bootstrap does
      ansible.builtin.copy:
        dest: "{{ platform_root }}/etc/infisical-agent/{{ item }}"
        content: "test-{{ item }}\n"
        mode: "0600"
        force: false
      loop: [client-id, client-secret]
    - name: Create the folders the agent writes to
      ansible.builtin.file:
        path: "{{ platform_root }}{{ compose_project_dir }}/{{ item | dirname }}"
        state: directory
        mode: "0700"
      loop: "{{ compose_env_files | reject('search', 'nats-ca') | list }}"
    - name: Stand in for the agent's first render of each file
      ansible.builtin.copy:
        dest: "{{ platform_root }}{{ compose_project_dir }}/{{ item }}"
        content: "{{ '-----BEGIN X-----\\n-----END X-----\\n' if item is search('[.]pem$') else '# rendered by the agent\\n' }}"
        mode: "0600"
        force: false
      loop: "{{ compose_env_files | reject('search', 'nats-ca') | list }}"
    - name: Stand in for the agent's render of the CA into the public file
      ansible.builtin.copy:
        dest: "{{ platform_root }}{{ compose_project_dir }}/secrets/nats-ca/ca.pem"
        content: "-----BEGIN CERTIFICATE-----\\n-----END CERTIFICATE-----\\n"
        mode: "0644"
      when: ca | default(false) | bool
  roles:
    - infisical_agent
    - compose_project
`,
    );
    mkdirSync(join(root, 'etc/infisical-agent'), { recursive: true, mode: 0o700 });
    const env = ansibleEnv({ FAKE_DOCKER_LOG: join(pbDir, 'docker.log'), FAKE_DOCKER_STATE: join(pbDir, 'docker.json') });
    const extra = (ca: boolean): string =>
      JSON.stringify({
        platform_root: root,
        platform_systemd: false,
        platform_files_dir: join(genTls, 'ansible'),
        infisical_agent_install: false,
        docker_bin: join(FIXTURES, 'bin/docker'),
        compose_env_wait_seconds: 2,
        compose_health_delay: 0,
        ca,
      });
    const converge = (ca: boolean) => runAsync('ansible-playbook', ['-i', 'localhost,', '-e', extra(ca), join(pbDir, 'agent.yml')], env);

    // Before the agent fills the CA the role created, the project does not start.
    const early = await converge(false);
    expect(early.status).not.toBe(0);
    expect(early.stdout).toMatch(
      /Wait for the Infisical agent to render the env files[\s\S]*secrets\/nats-ca\/ca\.pem[\s\S]*Timeout when waiting for search string -----END/,
    );
    const mode = (path: string): string => (statSync(join(root, path)).mode & 0o777).toString(8);
    // The server's files stay root's; the CA the runtime's user reads is public, a comment until the agent fills it.
    expect(mode('opt/platform/secrets/nats')).toBe('700');
    expect(mode('opt/platform/secrets/nats/server-key.pem')).toBe('600');
    expect(mode('opt/platform/secrets/nats-ca')).toBe('755');
    expect(mode('opt/platform/secrets/nats-ca/ca.pem')).toBe('644');
    expect(readFileSync(join(root, 'opt/platform/secrets/nats-ca/ca.pem'), 'utf8')).toBe('# the Infisical agent writes NATS_TLS_CA here\n');

    const first = await converge(true);
    expect(first.status, first.stdout.slice(-3000)).toBe(0);
    expect(mode('opt/platform/secrets/nats-ca/ca.pem')).toBe('644');
    const second = await converge(true);
    expect(second.status, second.stdout.slice(-3000)).toBe(0);
    expect(recap(second.stdout).changed, second.stdout.slice(-3000)).toBe(0);

    const agent = parse(readFileSync(join(root, 'etc/infisical-agent/agent.yaml'), 'utf8')) as {
      templates: Array<{ 'source-path': string; 'destination-path': string; config: { execute: { command: string } } }>;
    };
    const byDest = (dest: string) => agent.templates.find((t) => t['destination-path'] === `${root}${dest}`);
    const compose = `${join(FIXTURES, 'bin/docker')} compose --project-directory ${root}/opt/platform`;
    for (const f of ['server-cert.pem', 'server-key.pem', 'ca.pem'])
      expect(byDest(`/opt/platform/secrets/nats/${f}`)?.config.execute.command, f).toBe(`${compose} restart nats`);
    expect(byDest('/opt/platform/secrets/nats-ca/ca.pem')?.config.execute.command).toBe(`${compose} restart worker gateway`);
  }, 300_000);

  describe.skipIf(!bin || !go)('three real servers from the generated TLS configs, with the files the agent writes', () => {
    const secrets = {
      NATS_GATEWAY_PASSWORD: 'gw #1',
      NATS_WORKER_PASSWORD: 'wk, "x"',
      NATS_ROUTE_PASSWORD: 'r@ute/pa:ss+word',
    };
    const running: NatsServer[] = [];
    let certs: TestCerts;
    const ports: Record<string, { client: number; cluster: number; monitor: number }> = {};
    /** Each server's folder: nats.conf and secrets/ with secrets.conf and the PEM files, all as the agent renders them. */
    const dirs: Record<string, string> = {};

    beforeAll(async () => {
      // One certificate for every server: "nats" and the addresses the generated configs name, and
      // loopback, where the servers and the clients meet here.
      certs = makeTestCerts({ dns: natsTlsNames(tp).dns, ip: ['127.0.0.1', ...natsTlsNames(tp).ip] });
      const values = { ...secrets, NATS_TLS_CERT: certs.cert, NATS_TLS_KEY: certs.key, NATS_TLS_CA: certs.ca, UNRELATED: 'x' };
      for (const h of servers) ports[h] = { client: await freePort(), cluster: await freePort(), monitor: await freePort() };
      const address = (h: string): string => `${tp.hosts[h]!.addresses.tailnet}:${tp.nats!.ports.cluster}`;
      for (const host of servers) {
        const dir = tempDir('nats-tls-');
        dirs[host] = dir;
        mkdirSync(join(dir, 'secrets'));
        for (const file of envFilesOn(tp, host).filter((f) => f.dest.startsWith('/opt/platform/secrets/nats/'))) {
          const out = join(tempDir('agent-'), `${file.name}.env.tmpl`);
          agentTemplate(file, out, tp);
          let text = executeTemplate(out, values);
          // The route URLs, with the peers' tailnet addresses pinned to their loopback route ports.
          for (const peer of servers) text = text.replaceAll(`@${address(peer)}"`, `@127.0.0.1:${ports[peer]!.cluster}"`);
          writeFileSync(join(dir, 'secrets', file.dest.slice('/opt/platform/secrets/nats/'.length)), text, { mode: 0o600 });
        }
        const conf = natsConf(tp, host)
          .replace('store_dir: "/data/jetstream"', `store_dir: ${JSON.stringify(join(dir, 'js'))}`)
          .replaceAll('"/etc/nats/secrets/', `"${join(dir, 'secrets')}/`);
        writeFileSync(join(dir, 'nats.conf'), conf);
      }
    }, 300_000);

    afterAll(async () => {
      await Promise.all(running.map((s) => s.stop()));
    });

    it('the agent writes each PEM file as the secret holds it', () => {
      // The PEM, ending in a newline (the template's last line adds one).
      const pem = (text: string): string => `${text.trimEnd()}\n`;
      for (const host of servers) {
        expect(pem(readFileSync(join(dirs[host]!, 'secrets/server-cert.pem'), 'utf8')), host).toBe(pem(certs.cert));
        expect(pem(readFileSync(join(dirs[host]!, 'secrets/server-key.pem'), 'utf8')), host).toBe(pem(certs.key));
        expect(pem(readFileSync(join(dirs[host]!, 'secrets/ca.pem'), 'utf8')), host).toBe(pem(certs.ca));
      }
      const clientCa = envFilesOn(tp, 'davas').find((f) => f.public)!;
      const out = join(tempDir('agent-'), `${clientCa.name}.env.tmpl`);
      agentTemplate(clientCa, out, tp);
      // Only the CA, though the project holds the key too; a secret stored without a final newline gets one.
      expect(executeTemplate(out, { NATS_TLS_KEY: certs.key, NATS_TLS_CA: certs.ca.trimEnd() })).toBe(pem(certs.ca));
    }, 120_000);

    it('form the cluster over TLS routes; a client with the CA gets in, a plain one is refused', async () => {
      running.push(...(await startServersFrom(bin!, servers, (h) => join(dirs[h]!, 'nats.conf'), ports)));
      const state = await waitForCluster(servers, ports, running);
      expect(state.map((s) => s.peers)).toEqual([
        ['dev-learning', 'prod-services'],
        ['contabo', 'dev-learning'],
        ['contabo', 'prod-services'],
      ]);
      // Every server requires TLS of its clients, and of its routes with the peer's certificate verified.
      for (const s of state) {
        expect(s.clientTls).toBe(true);
        expect(s.routeTls).toMatchObject({ tls_required: true, tls_verify: true });
      }
      expect(running.map((s) => s.log()).join('\n')).not.toMatch(/Authorization Violation|authentication error/);

      // A route port speaks TLS first, and only to a peer that presents a certificate the CA signed.
      const route = (withCert: boolean): Promise<string> =>
        new Promise((resolve) => {
          const sock = tlsConnect({
            host: '127.0.0.1',
            port: ports.contabo!.cluster,
            ca: certs.ca,
            servername: 'nats',
            ...(withCert ? { cert: certs.cert, key: certs.key } : {}),
          });
          const done = (what: string): void => {
            clearTimeout(timer);
            sock.destroy();
            resolve(what);
          };
          const timer = setTimeout(() => done('nothing'), 5000);
          sock
            .once('data', (d: Buffer) => done(d.toString().slice(0, 5)))
            .once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
        });
      expect(await route(true)).toBe('INFO ');
      expect(await route(false)).toBe('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
      // The gateway, as a container on the server's own host dials it (tls://nats:4222), verifying with the CA.
      const port = ports['prod-services']!.client;
      const gw = await WireClient.connect(port, 'gateway', secrets.NATS_GATEWAY_PASSWORD, { ca: certs.ca, servername: 'nats' });
      try {
        const config = {
          name: 'JOBS',
          subjects: ['jobs.run.>'],
          retention: 'workqueue',
          storage: 'file',
          num_replicas: tp.nats!.stream.replicas,
        };
        const created = await gw.request('$JS.API.STREAM.CREATE.JOBS', JSON.stringify(config));
        const body = JSON.parse(created!.data) as { config?: { num_replicas: number }; error?: unknown };
        expect(body.error).toBeUndefined();
        expect(body.config!.num_replicas).toBe(3);
        const ack = await gw.request('jobs.run.cloud', '{"job":"j-1"}');
        expect(JSON.parse(ack!.data)).toMatchObject({ stream: 'JOBS', seq: 1 });
        expect(gw.errors).toEqual([]);
      } finally {
        gw.close();
      }
      // A plain client gets nowhere, nor does one that trusts another CA.
      await expect(WireClient.connect(port, 'worker', secrets.NATS_WORKER_PASSWORD)).rejects.toThrow(/connection closed|no PONG/);
      const other = makeTestCerts({ dns: ['nats'], ip: ['127.0.0.1'] }, 'another CA');
      await expect(WireClient.connect(port, 'worker', secrets.NATS_WORKER_PASSWORD, { ca: other.ca, servername: 'nats' })).rejects.toThrow(
        /self[- ]signed|unable to verify|certificate/i,
      );
    }, 60_000);
  });
});

// The committed example renders no NATS secrets: its backend is folder.
it('the example model (folder backend) gives no host NATS secrets', () => {
  const example = readFileSync(join(REPO, 'generated/ansible/host_vars/contabo.yml'), 'utf8');
  expect(example).not.toContain('NATS_');
});
