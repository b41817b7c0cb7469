import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ansibleEnv, FIXTURES, recap, REPO, runAsync, type Run } from './helpers.js';

/*
 * A real converge of the roles that can run in a sandbox, on localhost under a temporary root,
 * with contabo's generated vars and fake docker/aws/ollama CLIs that record what they are asked.
 */

const BIN = join(FIXTURES, 'bin');
const NFT = ['/usr/sbin/nft', '/sbin/nft'].find((p) => existsSync(p));

interface ContaboVars {
  vault_path: string;
  vault_folders: string[];
  compose_services: string[];
  ollama_models: string[];
  ollama_listen: string;
  vault_snapshot_bucket: string;
  vault_snapshot_prefix: string;
  vault_snapshot_region: string;
  infisical_env_files: Array<{ name: string; dest: string; secrets: string[] }>;
}
const vars = parse(readFileSync(join(REPO, 'generated/ansible/host_vars/contabo.yml'), 'utf8')) as ContaboVars;

describe('converge: compose_project, infisical_agent, syncthing, vault_snapshot, ollama, firewall', () => {
  let tmp: string;
  let root: string;
  let env: NodeJS.ProcessEnv;
  let extraVars: Record<string, unknown>;
  const runs: Run[] = [];
  let dryRun: Run;
  let dryRunWrote: string[] = [];

  const playbook = (file: string, ...args: string[]): Promise<Run> =>
    runAsync('ansible-playbook', ['-i', 'localhost,', '-e', JSON.stringify(extraVars), ...args, join(FIXTURES, file)], env);
  const docker = (): string[][] =>
    readFileSync(join(tmp, 'docker.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as string[]);

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'converge-'));
    root = join(tmp, 'root');
    // The playbooks' directory layout: files are shipped from ../hosts/<host>/ relative to it.
    mkdirSync(join(tmp, 'files/ansible'), { recursive: true });
    cpSync(join(REPO, 'generated/hosts/contabo'), join(tmp, 'files/hosts/contabo'), { recursive: true });
    if (!existsSync(join(tmp, 'files/hosts/contabo/config.alloy')))
      writeFileSync(join(tmp, 'files/hosts/contabo/config.alloy'), 'logging { level = "info" }\n');
    env = ansibleEnv({
      FAKE_DOCKER_LOG: join(tmp, 'docker.log'),
      FAKE_DOCKER_STATE: join(tmp, 'docker.json'),
      FAKE_AWS_LOG: join(tmp, 'aws.log'),
      FAKE_S3_DIR: join(tmp, 's3'),
      FAKE_OLLAMA_LOG: join(tmp, 'ollama.log'),
      FAKE_OLLAMA_STATE: join(tmp, 'ollama.json'),
    });
    extraVars = {
      platform_root: root,
      platform_systemd: false,
      platform_files_dir: join(tmp, 'files/ansible'),
      ansible_python_interpreter: '/usr/bin/python3',
      firewall_install: false,
      ollama_install: false,
      syncthing_install: false,
      infisical_agent_install: false,
      vault_snapshot_install: false,
      docker_bin: join(BIN, 'docker'),
      aws_bin: join(BIN, 'aws'),
      ollama_bin: join(BIN, 'ollama'),
      nft_bin: NFT ?? 'true',
      syncthing_user: process.env.USER && process.getuid?.() !== 0 ? process.env.USER : 'root',
      compose_health_delay: 0,
      compose_env_wait_seconds: 5,
    };
    dryRun = await playbook('converge.yml', '--check');
    dryRunWrote = ['opt/platform/docker-compose.yml', 'etc/nftables.conf', 'etc/infisical-agent/agent.yaml'].filter((f) =>
      existsSync(join(root, f)),
    );
    runs.push(await playbook('converge.yml'));
    runs.push(await playbook('converge.yml'));
  }, 300_000);

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('a dry run (--check) on a fresh root fails nothing and writes nothing', () => {
    expect(dryRun.status, dryRun.stdout.slice(-3000)).toBe(0);
    expect(recap(dryRun.stdout).failed).toBe(0);
    expect(dryRunWrote).toEqual([]);
  });

  it('converges, then changes nothing on a second run', () => {
    const [first, second] = runs;
    expect(first!.status, first!.stdout.slice(-3000)).toBe(0);
    expect(recap(first!.stdout).changed).toBeGreaterThan(0);
    expect(second!.status, second!.stdout.slice(-3000)).toBe(0);
    const r = recap(second!.stdout);
    expect(r.failed).toBe(0);
    expect(
      r.changed,
      second!.stdout
        .split('\n')
        .filter((l) => l.startsWith('changed:') || l.startsWith('TASK'))
        .join('\n'),
    ).toBe(0);
  });

  it('is clean under --check after converging', async () => {
    const r = await playbook('converge.yml', '--check');
    expect(r.status, r.stdout.slice(-3000)).toBe(0);
    expect(recap(r.stdout).changed).toBe(0);
  }, 180_000);

  it('compose_project ships the compose and Alloy files and runs `up` once', () => {
    const project = join(root, 'opt/platform');
    expect(readFileSync(join(project, 'docker-compose.yml'), 'utf8')).toBe(
      readFileSync(join(REPO, 'generated/hosts/contabo/docker-compose.yml'), 'utf8'),
    );
    expect(existsSync(join(project, 'alloy/config.alloy'))).toBe(true);
    expect(statSync(join(project, 'secrets')).mode & 0o777).toBe(0o700);
    const calls = docker();
    const ups = calls.filter((a) => a.includes('up'));
    expect(ups).toEqual([['compose', '--project-directory', project, 'up', '--detach', '--remove-orphans']]);
    expect(calls.some((a) => a.includes('ps') && a.includes('json'))).toBe(true);
  });

  it('compose_project runs `up` again when a container is gone', async () => {
    writeFileSync(join(tmp, 'docker.json'), JSON.stringify(vars.compose_services.filter((s) => s !== 'rag')));
    const r = await playbook('converge.yml');
    expect(r.status, r.stdout.slice(-3000)).toBe(0);
    expect(recap(r.stdout).changed).toBe(1);
    expect(docker().filter((a) => a.includes('up'))).toHaveLength(2);
  }, 180_000);

  it('infisical_agent renders one template per env file, naming only its secrets', () => {
    const agentDir = join(root, 'etc/infisical-agent');
    const config = parse(readFileSync(join(agentDir, 'agent.yaml'), 'utf8')) as {
      infisical: { address: string };
      auth: { type: string; config: Record<string, string> };
      templates: Array<{ 'source-path': string; 'destination-path': string }>;
    };
    expect(config.infisical.address).toBe('https://eu.infisical.com');
    expect(config.auth.type).toBe('universal-auth');
    expect(config.auth.config['client-id']).toBe(join(agentDir, 'client-id'));
    expect(config.templates.map((t) => t['destination-path'])).toEqual(vars.infisical_env_files.map((f) => `${root}${f.dest}`));
    for (const f of vars.infisical_env_files) {
      const tmpl = readFileSync(join(agentDir, 'templates', `${f.name}.env.tmpl`), 'utf8');
      expect(tmpl).toContain('listSecretsByProjectSlug "homelab-rebuild" "prod" "/"');
      expect(tmpl).toContain(`eq .Key ${f.secrets.map((s) => `"${s}"`).join(' ')} }}`);
      expect(tmpl).toContain('{{ .Key }}={{ .Value }}');
    }
    expect(readFileSync(join(root, 'etc/systemd/system/infisical-agent.service'), 'utf8')).toContain(
      `agent --config ${agentDir}/agent.yaml`,
    );
  });

  it('syncthing creates the vault and its queue folders and ignores workspace and trash', () => {
    const vault = join(root, vars.vault_path);
    for (const f of vars.vault_folders) expect(statSync(join(vault, f)).isDirectory(), f).toBe(true);
    const ignore = readFileSync(join(vault, '.stignore'), 'utf8').split('\n');
    expect(ignore).toContain('(?d).obsidian/workspace*');
    expect(ignore).toContain('(?d).trash');
    for (const f of vars.vault_folders) expect(ignore.filter((l) => !l.startsWith('//') && l.includes(f))).toEqual([]);
    expect(
      readFileSync(join(root, `etc/systemd/system/syncthing@${String(extraVars.syncthing_user)}.service.d/gui.conf`), 'utf8'),
    ).toContain('STGUIADDRESS=127.0.0.1:8384');
  });

  it('ollama binds to the model address and pulls each model once', () => {
    expect(readFileSync(join(root, 'etc/systemd/system/ollama.service.d/listen.conf'), 'utf8')).toContain(
      `OLLAMA_HOST=${vars.ollama_listen}`,
    );
    const calls = readFileSync(join(tmp, 'ollama.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { argv: string[]; host: string });
    expect(calls.filter((c) => c.argv[0] === 'pull').map((c) => c.argv[1])).toEqual(vars.ollama_models);
    expect(new Set(calls.map((c) => c.host))).toEqual(new Set([vars.ollama_listen]));
  });

  it('firewall writes an nft-validated default-deny ruleset that keeps SSH open', () => {
    const conf = readFileSync(join(root, 'etc/nftables.conf'), 'utf8');
    expect(conf).toContain('policy drop;');
    expect(conf).toContain('ip saddr { 0.0.0.0/0 } tcp dport 22 accept comment "ssh"');
    expect(conf).not.toContain('flush ruleset');
  });

  it('firewall refuses a ruleset that would lock out SSH', async () => {
    const noSsh = { ...extraVars, firewall_inbound: [{ name: 'web', protocol: 'tcp', ports: '443', sources: ['0.0.0.0/0'] }] };
    const bad = await runAsync(
      'ansible',
      [
        'localhost',
        '-i',
        'localhost,',
        '-c',
        'local',
        '-m',
        'ansible.builtin.include_role',
        '-a',
        'name=firewall',
        '-e',
        JSON.stringify(noSsh),
      ],
      env,
    );
    expect(bad.status).not.toBe(0);
    expect(bad.stdout + bad.stderr).toMatch(/lock out Ansible/);
  }, 180_000);

  it('vault_snapshot installs a timer and a script that uploads a tarball without .trash', () => {
    expect(readFileSync(join(root, 'etc/systemd/system/vault-snapshot.timer'), 'utf8')).toContain('OnCalendar=');
    const vault = join(root, vars.vault_path);
    writeFileSync(join(vault, 'note.md'), '# a note\n');
    mkdirSync(join(vault, '.trash'), { recursive: true });
    writeFileSync(join(vault, '.trash/old.md'), 'gone\n');
    const script = join(root, 'usr/local/bin/vault-snapshot');
    const r = spawnSync(script, [], {
      env: { ...env, AWS_BIN: join(BIN, 'aws'), VAULT_SNAPSHOT_ENDPOINT: 'http://127.0.0.1:9' },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const dir = join(tmp, 's3', vars.vault_snapshot_bucket, vars.vault_snapshot_prefix);
    const uploads = readdirSync(dir);
    expect(uploads).toHaveLength(1);
    expect(uploads[0]).toMatch(/^vault-\d{8}T\d{6}Z\.tar\.gz$/);
    const listing = spawnSync('tar', ['-tzf', join(dir, uploads[0]!)], { encoding: 'utf8' }).stdout.split('\n');
    expect(listing).toContain('./note.md');
    expect(listing).toContain('./_queue/');
    expect(listing.some((l) => l.includes('.trash'))).toBe(false);
    const aws = readFileSync(join(tmp, 'aws.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { argv: string[]; region: string });
    expect(aws[0]!.argv.slice(0, 4)).toEqual(['--endpoint-url', 'http://127.0.0.1:9', 's3', 'cp']);
    expect(aws[0]!.region).toBe(vars.vault_snapshot_region);
  });

  it('the vault restore path brings back the newest snapshot', async () => {
    const vault = join(root, vars.vault_path);
    rmSync(join(vault, 'note.md'));
    const r = await playbook('restore-vault.yml');
    expect(r.status, r.stdout.slice(-3000)).toBe(0);
    expect(readFileSync(join(vault, 'note.md'), 'utf8')).toBe('# a note\n');
  }, 180_000);
});
