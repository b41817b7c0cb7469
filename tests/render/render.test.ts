import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { composeFile } from '../../compose.js';
import { loadPlatform, parsePlatform, RuntimeConfigSchema } from '../../model/index.js';
import { platformJsonSchema } from '../../render/generators/platform-schema.js';
import { runtimeConfig } from '../../render/generators/runtime-config.js';
import { generateAll, plan } from '../../render/render.js';
import { EXAMPLE_MODEL, ROOT, edit, exampleText, sharedSpec, tempDir } from '../helpers.js';

const platform = loadPlatform(EXAMPLE_MODEL);

function render(args: string[], cwd = ROOT): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'render/cli.ts'), ...args], { cwd, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('generated/ is the committed render output', () => {
  it('every artifact matches the committed file (golden)', () => {
    const stale = plan(join(ROOT, 'generated'), generateAll(platform)).filter((r) => r.status !== 'unchanged');
    expect(stale.map((r) => `${r.status} ${r.path}`)).toEqual([]);
  });

  it('is deterministic: two renders give the same bytes', () => {
    const a = generateAll(loadPlatform(EXAMPLE_MODEL));
    const b = generateAll(parsePlatform(exampleText()));
    expect(b).toEqual(a);
    for (const x of a) expect(x.content).not.toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/);
  });
});

describe('render CLI', () => {
  it('writes only what changed, removes orphans, and --check reports staleness with a diff', () => {
    const out = tempDir();
    const first = render(['--out', out, '--model', EXAMPLE_MODEL]);
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/render: \d+ files from .* in \d+ ms: \d+ created, 0 changed, 0 removed, 0 unchanged/);

    const again = render(['--out', out, '--model', EXAMPLE_MODEL]);
    expect(again.stdout).toMatch(/0 created, 0 changed, 0 removed, \d+ unchanged/);

    expect(render(['--check', '--out', out, '--model', EXAMPLE_MODEL]).status).toBe(0);

    const compose = join(out, 'hosts/contabo/docker-compose.yml');
    writeFileSync(compose, readFileSync(compose, 'utf8').replace('restart: unless-stopped', 'restart: always'));
    mkdirSync(join(out, 'old'), { recursive: true });
    writeFileSync(join(out, 'old/leftover.txt'), 'no generator owns me\n');
    const check = render(['--check', '--out', out, '--model', EXAMPLE_MODEL]);
    expect(check.status).toBe(1);
    expect(check.stdout).toContain('--- a/generated/hosts/contabo/docker-compose.yml');
    expect(check.stdout).toContain('-    restart: always');
    expect(check.stdout).toContain('+    restart: unless-stopped');
    expect(check.stdout).toContain('--- a/generated/old/leftover.txt');
    expect(check.stderr).toContain('2 file(s)');
    expect(readFileSync(compose, 'utf8')).toContain('restart: always'); // --check writes nothing

    const fix = render(['--out', out, '--model', EXAMPLE_MODEL]);
    expect(fix.stdout).toMatch(/0 created, 1 changed, 1 removed/);
    expect(existsSync(join(out, 'old'))).toBe(false);
  });

  it('exits 2 with located problems for an invalid model, and writes nothing', () => {
    const dir = tempDir();
    const model = join(dir, 'platform.yaml');
    writeFileSync(model, edit(exampleText(), 'target: web', 'target: webb'));
    const r = render(['--model', model, '--out', join(dir, 'generated')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`${model}:\\d+:\\d+ cloudflare\\.hostnames\\.0\\.target: `));
    expect(existsSync(join(dir, 'generated'))).toBe(false);
  });

  it('exits 2 for a missing model file and 3 for a bad argument', () => {
    expect(render(['--model', '/nonexistent/platform.yaml']).status).toBe(2);
    expect(render(['--frobnicate']).status).toBe(3);
  });
});

describe('compose files', () => {
  const spec = JSON.parse(readFileSync(sharedSpec('compose-spec.json'), 'utf8')) as Record<string, unknown>;
  const composeArtifacts = generateAll(platform).filter((a) => a.path.endsWith('docker-compose.yml'));

  it('exist for every host that runs compose services', () => {
    expect(composeArtifacts.map((a) => a.path)).toEqual([
      'hosts/contabo/docker-compose.yml',
      'hosts/dev-learning/docker-compose.yml',
      'hosts/prod-services/docker-compose.yml',
    ]);
  });

  it('validate against the compose specification schema', async () => {
    const { Ajv } = await import('ajv');
    const ajv = new Ajv({ strict: false, validateSchema: false, allErrors: true });
    const validate = ajv.compile(spec);
    for (const a of composeArtifacts) {
      const ok = validate(parse(a.content));
      expect(validate.errors ?? [], a.path).toEqual([]);
      expect(ok).toBe(true);
    }
  });

  it('pass docker-compose config -q', () => {
    for (const a of composeArtifacts) {
      const dir = tempDir('compose-');
      writeFileSync(join(dir, 'docker-compose.yml'), a.content);
      // The Infisical agent writes these on the host; docker-compose requires them to exist.
      const doc = parse(a.content) as { services: Record<string, { env_file?: string[] }> };
      for (const s of Object.values(doc.services))
        for (const f of s.env_file ?? []) {
          mkdirSync(join(dir, 'secrets'), { recursive: true });
          writeFileSync(join(dir, f), '');
        }
      const r = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], { cwd: dir, encoding: 'utf8' });
      expect(r.error, 'docker-compose must be installed (scripts/install-tools.sh)').toBeUndefined();
      expect(r.stderr, a.path).toBe('');
      expect(r.status, a.path).toBe(0);
    }
  });

  it('reach host Ollama through host-gateway, keep secrets in env files and publish nothing on contabo', () => {
    const c = composeFile(platform, 'contabo') as { services: Record<string, Record<string, unknown>>; volumes: Record<string, unknown> };
    expect(c.services.worker!.extra_hosts).toEqual(['host.docker.internal:host-gateway']);
    expect(c.services.qdrant!.extra_hosts).toBeUndefined();
    expect(c.services.web!.env_file).toEqual(['secrets/web.env']);
    expect(JSON.stringify(c)).not.toContain('ANTHROPIC_API_KEY');
    for (const s of Object.values(c.services)) expect(s.ports).toBeUndefined();
    expect(c.services.web!.depends_on).toEqual({ rag: { condition: 'service_healthy' }, mcp: { condition: 'service_healthy' } });
    expect(c.services.worker!.volumes).toContainEqual({ type: 'bind', source: '/srv/obsidian-vault-v2', target: '/vault' });
    expect(Object.keys(c.volumes)).toEqual(['alloy-data', 'neo4j-data', 'qdrant-data', 'runtime-data']);
  });

  it('run the runtime image as the vault owner, with a read-only root, pinnable by digest', () => {
    const text = readFileSync(join(ROOT, 'generated/hosts/contabo/docker-compose.yml'), 'utf8');
    const c = parse(text) as { services: Record<string, Record<string, unknown>> };
    for (const name of ['web', 'worker', 'mcp', 'rag']) {
      expect(c.services[name]!.image, name).toBe('${PLATFORM_RUNTIME_IMAGE:-ghcr.io/davidcockson/platform-runtime:0.1.0}');
      expect(c.services[name]!.user, name).toBe('1000:1000');
      expect(c.services[name]!.read_only, name).toBe(true);
      expect(c.services[name]!.tmpfs, name).toEqual(['/tmp']);
    }
    // Quoted: a YAML 1.1 reader (podman-compose, Ansible) takes 1000:33 for a base-60 number.
    expect(text).toContain('user: "1000:1000"');
    // The worker's check is the runtime's /healthz on its metrics port, with the model's default timings.
    expect(c.services.worker!.healthcheck).toEqual({
      test: ['CMD', 'node', '/app/runtime/bin/healthcheck.js', 'http://127.0.0.1:9464/healthz'],
      interval: '30s',
      timeout: '5s',
      retries: 3,
      start_period: '10s',
    });
    expect(c.services.qdrant!.user).toBeUndefined();
    expect(c.services.qdrant!.read_only).toBeUndefined();

    const other = parsePlatform(
      edit(
        edit(exampleText(), 'owner: { user: syncthing, uid: 1000, gid: 1000 }', 'owner: { user: st, uid: 1500, gid: 33 }'),
        'tag: 0.1.0',
        'tag: 0.2.0-rc.1',
      ),
    );
    const o = composeFile(other, 'contabo') as { services: Record<string, Record<string, unknown>> };
    expect(String(o.services.worker!.user)).toBe('1500:33');
    expect(o.services.worker!.image).toBe('${PLATFORM_RUNTIME_IMAGE:-ghcr.io/davidcockson/platform-runtime:0.2.0-rc.1}');
    // The check follows the metrics port; a runtime service with neither a check nor that port turns the image's off.
    const moved = parsePlatform(edit(exampleText(), 'ports: [{ name: metrics, port: 9464 }]', 'ports: [{ name: metrics, port: 9465 }]'));
    expect(
      (composeFile(moved, 'contabo') as { services: Record<string, { healthcheck: { test: string[] } }> }).services.worker!.healthcheck
        .test[3],
    ).toBe('http://127.0.0.1:9465/healthz');
    const bare = structuredClone(other);
    bare.services.worker!.ports = [];
    expect((composeFile(bare, 'contabo') as { services: Record<string, Record<string, unknown>> }).services.worker!.healthcheck).toEqual({
      test: ['NONE'],
    });
  });

  it('publish only what the model asks, on the address it names', () => {
    const c = composeFile(platform, 'prod-services') as { services: Record<string, Record<string, unknown>> };
    expect(c.services.nginx!.ports).toEqual(['0.0.0.0:80:80', '100.101.20.1:8888:8888']);
    expect(c.services.gitea!.ports).toBeUndefined();
  });
});

describe('runtime.json', () => {
  const runtime = RuntimeConfigSchema.parse(JSON.parse(readFileSync(join(ROOT, 'generated/runtime/runtime.json'), 'utf8')));

  it('validates with the schema the runtime imports and carries the routing table', () => {
    expect(runtime.routing.default).toBe('qwen2.5:14b');
    expect(runtime.routing.models.map((m) => m.id)).toEqual([
      'qwen2.5:14b',
      'gemma4:27b',
      'llama-3.3-70b-versatile',
      'qwen/qwen3-32b',
      'models/gemini-2.5-flash',
      'claude-sonnet-4-6',
    ]);
    expect(runtime.routing.models.find((m) => m.provider === 'anthropic')?.maxTokens).toBe(8192);
    expect(runtime.routing.models.find((m) => m.id === 'llama-3.3-70b-versatile')?.timeoutMs).toBe(60_000);
    expect(runtime.routing.models.find((m) => m.id === 'gemma4:27b')?.healthGated).toBe(true);
  });

  it('gives Ollama URLs as the runtime containers see them', () => {
    expect(runtime.ollamaHosts).toEqual({ contabo: 'http://host.docker.internal:11434', davas: 'http://100.101.40.1:11434' });
    expect(runtime.vault.path).toBe('/vault');
    expect(runtime.vault.folders.queue).toBe('_queue');
    expect(JSON.stringify(runtime)).not.toMatch(/sk-|gsk_|AIza/);
  });

  it('takes every port and default from the model, inventing none for services it lacks', () => {
    expect(runtime.ports).toEqual({ web: 8000, mcp: 8001, rag: 8002, metrics: 9464 });
    expect(runtime.providers.anthropic.defaultMaxTokens).toBe(8192);
    expect(runtime.services).toMatchObject({ qdrantUrl: 'http://qdrant:6333', neo4jUri: 'bolt://neo4j:7687' });
    expect(runtime.telemetry.otlpEndpoint).toBe('http://alloy:4318');
    // The alt model runs no Qdrant, no Neo4j and no Alloy container beside the runtime.
    const alt = runtimeConfig(loadPlatform(join(ROOT, 'tests/fixtures/platform-alt.yaml')));
    expect(alt.services).not.toHaveProperty('qdrantUrl');
    expect(alt.services).not.toHaveProperty('neo4jUri');
    expect(alt.telemetry.otlpEndpoint).toBe('http://127.0.0.1:4318');
    expect(alt.providers.anthropic.defaultMaxTokens).toBe(
      parsePlatform(readFileSync(join(ROOT, 'tests/fixtures/platform-alt.yaml'), 'utf8')).routing.providers.anthropic.defaultMaxTokens,
    );
  });
});

describe('platform.schema.json', () => {
  it('accepts the example model and rejects a typo, so editors can complete platform.yaml', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const validate = ajv.compile(platformJsonSchema());
    expect(validate(parse(exampleText()))).toBe(true);
    expect(validate(parse(edit(exampleText(), 'protocol: tcp', 'protocl: tcp')))).toBe(false);
  });

  it('is the committed file', () => {
    expect(JSON.parse(readFileSync(join(ROOT, 'generated/platform.schema.json'), 'utf8'))).toEqual(platformJsonSchema());
  });
});

describe('system map', () => {
  it('draws hosts, services, hostnames, tunnel and stores', () => {
    const map = readFileSync(join(ROOT, 'generated/docs/system-map.md'), 'utf8');
    expect(map).toContain('```mermaid\nflowchart LR');
    expect(map).toContain('tunnel{{"tunnel davidcockson-platform"}}');
    expect(map).toContain('| control.davidcockson.com | web on contabo | http://web:8000 | people: david@davidcockson.com |');
    expect(map).toContain(
      '| davas-ollama.davidcockson.com | ollama on davas (host) | http://100.101.40.1:11434 | service token davas-ollama-client |',
    );
    expect(map).toContain('svc_qdrant[("qdrant :6333 :6334")]');
  });

  it('renders a model outside the repository into any folder', () => {
    const dir = tempDir();
    cpSync(EXAMPLE_MODEL, join(dir, 'platform.yaml'));
    expect(render(['--model', join(dir, 'platform.yaml'), '--out', join(dir, 'generated'), '--quiet']).status).toBe(0);
    expect(existsSync(join(dir, 'generated/docs/system-map.md'))).toBe(true);
  });
});
