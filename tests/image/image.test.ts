import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadPlatform, runtimeImageRef } from '../../model/index.js';
import { EXAMPLE_MODEL, ROOT } from '../helpers.js';
import { buildImage, inspectImage, podman, podmanMissing, podmanOk, type ImageFacts } from './podman.js';
// @ts-expect-error -- a plain ESM script of the build, no type declarations
import { runtimeDeployManifest } from '../../scripts/runtime-deps.mjs';

/*
 * The runtime image, built with podman from the Dockerfile (as `make image` builds it) and run
 * for real: its entry point, its user, a read-only root, its health check, its labels.
 */

const missing = podmanMissing();
if (missing) console.warn(`tests/image: skipped: ${missing}`);

const platform = loadPlatform(EXAMPLE_MODEL);
const compose = parse(readFileSync(`${ROOT}/generated/hosts/contabo/docker-compose.yml`, 'utf8')) as {
  services: Record<string, { user?: string; healthcheck?: { test: string[] }; read_only?: boolean; tmpfs?: string[] }>;
};
const suffix = randomBytes(4).toString('hex');
const cleanup: string[][] = [];

describe.skipIf(missing !== undefined)('the runtime image', () => {
  let ref: string;
  let facts: ImageFacts;

  beforeAll(async () => {
    ref = await buildImage();
    facts = await inspectImage(ref);
  }, 30 * 60_000);

  afterAll(async () => {
    for (const args of cleanup.reverse()) await podman(args);
  });

  it('is named and tagged as the model says, with OCI labels for source, revision and version', () => {
    expect(ref).toBe(runtimeImageRef(platform));
    expect(facts.labels['org.opencontainers.image.version']).toBe(platform.runtimeImage!.tag);
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    expect(facts.labels['org.opencontainers.image.revision']).toBe(head);
    expect(facts.labels).toHaveProperty('org.opencontainers.image.source');
    expect(facts.labels['org.opencontainers.image.title']).toBe('platform-runtime');
  });

  it('runs `runtime --help` with plain node, by default and by name', async () => {
    const byDefault = await podmanOk(['run', '--rm', ref]);
    expect(byDefault).toContain('usage: runtime <service>');
    const help = await podmanOk(['run', '--rm', ref, '--help']);
    expect(help).toBe(byDefault);
    expect(facts.entrypoint).toEqual(['/usr/bin/tini', '--', 'node', '/app/runtime/bin/runtime.js']);
    // Compiled JavaScript: no TypeScript loader in the entry point.
    const bin = await podmanOk(['run', '--rm', '--entrypoint', 'cat', ref, '/app/runtime/bin/runtime.js']);
    expect(bin).toContain('../dist/cli.js');
    expect(bin).not.toContain('tsx');
  });

  it('rejects an unknown service with the usage and exit code 2', async () => {
    const r = await podman(['run', '--rm', ref, 'frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown service "frobnicate"');
  });

  it('runs as a non-root user by default', async () => {
    expect(facts.user).toBe('10001:10001');
    const id = await podmanOk(['run', '--rm', '--entrypoint', 'id', ref]);
    expect(id.trim()).toMatch(/^uid=10001\(runtime\) gid=10001\(runtime\)/);
  });

  it('needs no write outside /data and /tmp: a read-only root works, and the root stays read-only', async () => {
    const script = [
      "const fs = require('node:fs');",
      "fs.writeFileSync('/tmp/probe', 'x');",
      "fs.writeFileSync('/data/probe', 'x');",
      "try { fs.writeFileSync('/app/probe', 'x'); console.log('root writable'); } catch (e) { console.log(e.code); }",
      'console.log(process.getuid());',
    ].join(' ');
    const volume = `image-test-data-${suffix}`;
    cleanup.push(['volume', 'rm', '--force', volume]);
    // The compose services run as the vault owner, not the image's user: a fresh volume takes them too.
    const owner = compose.services.worker!.user!;
    const out = await podmanOk([
      'run',
      '--rm',
      '--read-only',
      '--tmpfs',
      '/tmp',
      '--user',
      owner,
      '-v',
      `${volume}:/data`,
      '--entrypoint',
      'node',
      ref,
      '-e',
      script,
    ]);
    expect(out.trim().split('\n')).toEqual(['EROFS', owner.split(':')[0]]);
    const help = await podmanOk(['run', '--rm', '--read-only', '--user', owner, ref, '--help']);
    expect(help).toContain('usage: runtime <service>');
  });

  it('has a HEALTHCHECK that runs the compose health check script against the web port', async () => {
    expect(facts.healthcheck?.[0]).toBe('CMD-SHELL');
    expect(facts.healthcheck?.[1]).toContain('node /app/runtime/bin/healthcheck.js "$HEALTHCHECK_URL"');
    const web = compose.services.web!.healthcheck!.test;
    expect(web.slice(0, 3)).toEqual(['CMD', 'node', '/app/runtime/bin/healthcheck.js']);
    expect(facts.env.HEALTHCHECK_URL).toBe(web[3]);
    // The worker's check is the same script against its own status port (ports.metrics).
    expect(compose.services.worker!.healthcheck!.test).toEqual([
      'CMD',
      'node',
      '/app/runtime/bin/healthcheck.js',
      'http://127.0.0.1:9464/healthz',
    ]);
  });

  it('reports healthy when /healthz answers 2xx and unhealthy when nothing listens', async () => {
    const port = new URL(facts.env.HEALTHCHECK_URL!).port;
    const serve = `require('node:http').createServer((q, s) => { s.writeHead(q.url === '/healthz' ? 200 : 404); s.end(); }).listen(${port}, '127.0.0.1')`;
    const up = `image-test-health-up-${suffix}`;
    const down = `image-test-health-down-${suffix}`;
    cleanup.push(['rm', '--force', '--volumes', '--time', '0', up], ['rm', '--force', '--volumes', '--time', '0', down]);
    await podmanOk(['run', '-d', '--name', up, '--read-only', '--entrypoint', 'node', ref, '-e', serve]);
    await podmanOk(['run', '-d', '--name', down, '--read-only', '--entrypoint', 'node', ref, '-e', 'setInterval(() => {}, 1e9)']);
    // podman runs health checks from systemd timers; without systemd, run the image's check by hand.
    let healthy: { code: number; stdout: string; stderr: string } | undefined;
    for (let i = 0; i < 50; i++) {
      healthy = await podman(['healthcheck', 'run', up]);
      if (healthy.code === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(healthy?.code, healthy?.stderr).toBe(0);
    const unhealthy = await podman(['healthcheck', 'run', down]);
    expect(unhealthy.code).not.toBe(0);
    expect(unhealthy.stdout + unhealthy.stderr).toContain('unhealthy');
  });

  it('stops on SIGTERM even before the runtime has its own handlers (tini is PID 1)', async () => {
    const name = `image-test-stop-${suffix}`;
    cleanup.push(['rm', '--force', '--volumes', '--time', '0', name]);
    // Node with no handler at all: as PID 1 it would ignore SIGTERM until podman's SIGKILL (137).
    await podmanOk(['run', '-d', '--name', name, '--entrypoint', '/usr/bin/tini', ref, '--', 'node', '-e', 'setInterval(() => {}, 1e9)']);
    await podmanOk(['stop', '--time', '30', name]);
    const code = (await podmanOk(['inspect', '--format', '{{.State.ExitCode}}', name])).trim();
    expect(code).toBe('143');
  });

  it('carries bubblewrap and the interpreters run_code offers for the MCP sandbox, and no compiler', async () => {
    const bwrap = await podmanOk(['run', '--rm', '--entrypoint', 'bwrap', ref, '--version']);
    expect(bwrap).toMatch(/^bubblewrap \d+\.\d+/);
    const python = await podmanOk(['run', '--rm', '--entrypoint', '/usr/bin/python3', ref, '-c', 'import socket, json; print(1)']);
    expect(python).toBe('1\n');
    const cc = await podman(['run', '--rm', '--entrypoint', 'sh', ref, '-c', 'command -v gcc g++ cc make || echo none']);
    expect(cc.stdout.trim()).toBe('none');
  });

  it('carries the control panel `runtime web` serves', async () => {
    const ls = await podmanOk(['run', '--rm', '--entrypoint', 'sh', ref, '-c', 'ls /app/runtime/ui/dist /app/runtime/ui/dist/assets']);
    expect(ls).toContain('index.html');
    expect(ls).toMatch(/\.js\n/);
  });

  it(
    'publishes with the pushed digest printed, as CI does (here to a local directory, no registry)',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'image-publish-'));
      try {
        const digestFile = join(dir, 'runtime-image.digest');
        const r = await podman([join(ROOT, 'scripts/image-publish.sh')], {
          bin: 'bash',
          timeoutMs: 30 * 60_000,
          env: { IMAGE_BASE: 'local', IMAGE_BUILD_QUIET: '1', IMAGE_PUSH_DEST: `dir:${join(dir, 'out')}`, IMAGE_DIGEST_FILE: digestFile },
        });
        expect(r.code, r.stderr.slice(-2000)).toBe(0);
        const digest = r.stdout.trim().split('\n').pop()!;
        expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
        expect(readFileSync(digestFile, 'utf8').trim()).toBe(digest);
        // The digest names the manifest as pushed: on a registry, what a host's `docker pull name@digest` asks for.
        const manifest = readFileSync(join(dir, 'out/manifest.json'));
        expect(`sha256:${createHash('sha256').update(manifest).digest('hex')}`).toBe(digest);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      // A rebuild with cached layers, then every layer written out: minutes on a busy machine.
    },
    10 * 60_000,
  );

  it('ships only the npm packages the bundle leaves external, each loading as the runtime loads it', async () => {
    const deploy = (
      runtimeDeployManifest as () => { manifest: { dependencies: Record<string, string> }; lock: { packages: Record<string, unknown> } }
    )();
    // Every package the compiled runtime imports from node_modules is one of them, bar linkedom's
    // optional canvas (required inside a try, absent in production as in the repository).
    const meta = JSON.parse(readFileSync(join(ROOT, '.build/runtime.meta.json'), 'utf8')) as {
      inputs: Record<string, { imports?: { path: string; external?: boolean }[] }>;
    };
    const builtins = new Set(builtinModules);
    const imported = new Set<string>();
    for (const input of Object.values(meta.inputs))
      for (const i of input.imports ?? [])
        if (i.external && i.path !== '<runtime>' && !i.path.startsWith('node:') && !builtins.has(i.path))
          imported.add(i.path.startsWith('@') ? i.path.split('/').slice(0, 2).join('/') : i.path.split('/')[0]!);
    imported.delete('canvas');
    expect([...imported].filter((p) => !(p in deploy.manifest.dependencies))).toEqual([]);

    const listing = await podmanOk([
      'run',
      '--rm',
      '--read-only',
      '--entrypoint',
      'sh',
      ref,
      '-c',
      'cd /app/node_modules && ls -d * @*/* | grep -v "^@[^/]*$"; echo ---; ls onnxruntime-node/bin/napi-v6/*',
    ]);
    const [top, napi] = listing.split('---\n') as [string, string];
    const installed = top
      .trim()
      .split('\n')
      .filter((n) => !n.startsWith('.'));
    const locked = Object.keys(deploy.lock.packages)
      .filter((k) => /^node_modules\/(@[^/]+\/)?[^/]+$/.test(k))
      .map((k) => k.slice('node_modules/'.length));
    // Nothing beyond the deploy lock (optional packages of other systems are left out), the externals all there...
    expect(installed.filter((n) => !locked.includes(n))).toEqual([]);
    expect(installed).toEqual(expect.arrayContaining(Object.keys(deploy.manifest.dependencies)));
    // ...and none of what the bundle holds, nor what is pruned: onnxruntime-web, other systems' ONNX runtimes.
    for (const bundled of ['fastify', 'zod', '@opentelemetry/api', '@modelcontextprotocol/sdk', 'neo4j-driver', 'onnxruntime-web'])
      expect(installed, bundled).not.toContain(bundled);
    expect(
      napi
        .trim()
        .split(/\s+/)
        .filter((l) => l && !l.endsWith(':')),
    ).toEqual(['x64']);

    // Each external loads in the image, as its runtime user, under a read-only root.
    const probe = [
      "const { default: Database } = await import('better-sqlite3');",
      "const db = new Database(':memory:');",
      "(await import('sqlite-vec')).load(db);",
      "console.log('vec', db.prepare('select vec_version()').pluck().get());",
      "const ort = await import('onnxruntime-node');",
      "console.log('ort', typeof ort.InferenceSession.create);",
      "const t = await import('@huggingface/transformers');",
      "console.log('transformers', typeof t.pipeline);",
    ].join(' ');
    const out = await podmanOk([
      'run',
      '--rm',
      '--read-only',
      '--tmpfs',
      '/tmp',
      '--entrypoint',
      'node',
      ref,
      '--input-type=module',
      '-e',
      probe,
    ]);
    expect(out).toMatch(/^vec v\d/m);
    expect(out).toContain('ort function');
    expect(out).toContain('transformers function');
  });

  it('keeps the build context small: no node_modules, tests or secrets in the image', async () => {
    const ls = await podmanOk([
      'run',
      '--rm',
      '--entrypoint',
      'sh',
      ref,
      '-c',
      'ls -A /app /app/runtime; test -e /app/tests && echo HAS_TESTS; test -e /app/runtime/src && echo HAS_SRC; true',
    ]);
    expect(ls).not.toContain('HAS_TESTS');
    expect(ls).not.toContain('HAS_SRC');
    expect(ls.split('\n')).toEqual(expect.arrayContaining(['generated', 'node_modules', 'package.json', 'runtime', 'bin', 'dist']));
  });
});
