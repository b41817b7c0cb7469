import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { freePort } from '../helpers.js';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/*
 * A real Ollama (built from source by scripts/install-ollama.sh) serving a real small model
 * (SmolLM2-135M-Instruct, Q4_1) on 127.0.0.1 and a random port, for tests that need the real
 * wire: token counts, aborts the server honours, its own errors.
 *
 * The model store is created once per Modelfile (under the cache, next to the binary) and every
 * server gets its own copy of the manifests with the blobs shared through a symlink, so the names
 * a test gives the model (`ollama cp`) never leak into another test file running at the same time.
 * Each server runs in its own process group under a small bash guard that kills the group when the
 * test process goes away, however it goes (its stdin is a pipe from this process).
 */

const execFileP = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
const INSTALL_SCRIPT = join(ROOT, 'scripts/install-ollama.sh');

/** The name the base model gets in the store; tests add their own names with `models`. */
export const BASE_MODEL = 'smollm2:135m';

/** One source for the versions: the install script's own variables. */
function scriptVar(name: string): string {
  const m = new RegExp(`^${name}=(\\S+)$`, 'm').exec(readFileSync(INSTALL_SCRIPT, 'utf8'));
  if (!m) throw new RealOllamaError('REAL_OLLAMA_SETUP', `${name} is not set in ${INSTALL_SCRIPT}`);
  return m[1]!;
}

export class RealOllamaError extends Error {
  override readonly name = 'RealOllamaError';
  constructor(
    readonly code: 'REAL_OLLAMA_MISSING' | 'REAL_OLLAMA_SETUP' | 'REAL_OLLAMA_START',
    message: string,
  ) {
    super(message);
  }
}

export interface RealOllamaPaths {
  cache: string;
  binary: string;
  gguf: string;
}

export function realOllamaPaths(): RealOllamaPaths {
  const cache = process.env.LLM_PLATFORM_CACHE ?? join(homedir(), '.cache/llm-platform');
  return {
    cache,
    binary: join(cache, `ollama-${scriptVar('OLLAMA_VERSION')}`, 'bin/ollama'),
    gguf: join(cache, 'models', scriptVar('GGUF_NAME')),
  };
}

export interface RealOllamaOptions {
  /** Extra names for the model (the routing table's ids), made with /api/copy. */
  models?: readonly string[];
  /** OLLAMA_NUM_PARALLEL; 1 by default so one generation runs at a time. */
  numParallel?: number;
  /** More environment for `ollama serve` (wins over the defaults). */
  env?: Record<string, string>;
  /** How long to wait for /api/version; 60 s by default. */
  startTimeoutMs?: number;
}

export interface RealOllama {
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  /** The base model and every name given with `models`. */
  models: string[];
  /** The server's log so far (bounded), for failure messages. */
  logs(): string;
  /** Stops the server and its runners, waits until they are gone, removes the per-run store. */
  stop(): Promise<void>;
}

/*
 * One thread: two collapse to about 1 token/s when the other core is busy, one gives about 40.
 * Greedy decoding and a 256-token default cap keep a 135M model's answers reproducible and
 * bounded (a request's own num_predict still wins, for tests that need a long stream).
 */
const MODELFILE = (gguf: string): string =>
  `FROM ${gguf}\nPARAMETER num_thread 1\nPARAMETER num_ctx 2048\nPARAMETER temperature 0\nPARAMETER num_predict 256\n`;
const LOG_LIMIT = 256 * 1024;

/** Servers this process started and has not stopped, killed on exit whatever happens. */
const live = new Set<number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const pgid of live) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

export async function startRealOllama(opts: RealOllamaOptions = {}): Promise<RealOllama> {
  const paths = realOllamaPaths();
  for (const [what, p] of [
    ['the ollama binary', paths.binary],
    ['the SmolLM2 model', paths.gguf],
  ] as const) {
    if (!existsSync(p)) {
      throw new RealOllamaError(
        'REAL_OLLAMA_MISSING',
        `${what} is not installed (${p}): run \`bash scripts/install-ollama.sh\` (make test runs it)`,
      );
    }
  }
  const store = await sharedStore(paths);
  await sweepDeadRuns();
  const runDir = await mkdtemp(join(tmpdir(), RUN_PREFIX));
  let server: Serve | undefined;
  try {
    // Per-run manifests over the shared blobs: names made here stay here.
    const models = join(runDir, 'models');
    await mkdir(models);
    await symlink(join(store, 'blobs'), join(models, 'blobs'));
    await cp(join(store, 'manifests'), join(models, 'manifests'), { recursive: true });
    server = await serve(paths.binary, runDir, models, opts);
    await writeFile(join(runDir, 'guard.pid'), String(server.pgid));
    const names = [BASE_MODEL];
    for (const name of opts.models ?? []) {
      if (name === BASE_MODEL) continue;
      const res = await fetch(`${server.url}/api/copy`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ source: BASE_MODEL, destination: name }),
      });
      if (!res.ok)
        throw new RealOllamaError(
          'REAL_OLLAMA_SETUP',
          `ollama refused to copy ${BASE_MODEL} to ${name}: HTTP ${res.status} ${await res.text()}`,
        );
      names.push(name);
    }
    const s = server;
    return {
      url: s.url,
      port: s.port,
      models: names,
      logs: s.logs,
      async stop() {
        await s.stop();
        await rm(runDir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await server?.stop();
    await rm(runDir, { recursive: true, force: true });
    throw e;
  }
}

interface Serve {
  pgid: number;
  url: string;
  port: number;
  logs(): string;
  stop(): Promise<void>;
}

const RUN_PREFIX = 'real-ollama-';

/** Per-run folders of servers whose test process was killed outright (the guard killed the server). */
async function sweepDeadRuns(): Promise<void> {
  for (const name of await readdir(tmpdir()).catch(() => [] as string[])) {
    if (!name.startsWith(RUN_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    const pgid = Number(await readFile(join(dir, 'guard.pid'), 'utf8').catch(() => ''));
    if (!Number.isInteger(pgid) || pgid <= 0) {
      // No server recorded: one starting now, or one whose start died; the latter only when old.
      const age = Date.now() - (await stat(dir).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > 3_600_000) await rm(dir, { recursive: true, force: true });
      continue;
    }
    try {
      process.kill(-pgid, 0);
    } catch {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

// The guard: runs the server, and kills the whole group when its stdin (a pipe from the test
// process) reaches EOF, which happens when that process ends, even by SIGKILL. A TERM to the
// group lets the server shut its runners down, and the guard exits after it.
const GUARD = `
exec 3<&0
"$0" serve </dev/null &
s=$!
trap 'kill -TERM "$s" 2>/dev/null; wait "$s"; exit 143' TERM INT
( read -r _ <&3; kill -KILL 0 ) &
w=$!
wait "$s"
rc=$?
kill "$w" 2>/dev/null
exit "$rc"
`;

async function serve(binary: string, home: string, models: string, opts: RealOllamaOptions, attempt = 1): Promise<Serve> {
  installExitHook();
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const url = `http://${host}`;
  // A clean environment: no proxies, no real home, nothing but loopback.
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    TMPDIR: tmpdir(),
    OLLAMA_HOST: host,
    OLLAMA_MODELS: models,
    OLLAMA_NUM_PARALLEL: String(opts.numParallel ?? 1),
    OLLAMA_MAX_LOADED_MODELS: '1',
    OLLAMA_CONTEXT_LENGTH: '2048',
    OLLAMA_NOPRUNE: '1',
    OLLAMA_NOHISTORY: '1',
    OLLAMA_NO_CLOUD: '1',
    OLLAMA_REMOTES: '127.0.0.1',
    ...opts.env,
  };
  const child = spawn('bash', ['-c', GUARD, binary], { env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  const pgid = child.pid;
  if (pgid === undefined) throw new RealOllamaError('REAL_OLLAMA_START', `could not start ${binary} serve`);
  live.add(pgid);
  // Neither pipe may keep the test process alive; the exit hook and the guard clean up.
  child.unref();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  (child.stderr as unknown as { unref?: () => void }).unref?.();
  // The server logs to stderr, its request log (gin) to stdout: one log of both, bounded.
  let log = '';
  const append = (d: Buffer): void => {
    log += d.toString();
    if (log.length > LOG_LIMIT) log = log.slice(-LOG_LIMIT / 2);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopped ??= stopGroup(child, pgid, exited));

  const until = Date.now() + (opts.startTimeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      live.delete(pgid);
      await stop();
      if (/address already in use/i.test(log) && attempt < 5) return serve(binary, home, models, opts, attempt + 1);
      throw new RealOllamaError(
        'REAL_OLLAMA_START',
        `ollama serve exited (${child.exitCode ?? child.signalCode}) before answering:\n${log.slice(-4000)}`,
      );
    }
    try {
      const res = await fetch(`${url}/api/version`, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) {
        await res.body?.cancel();
        break;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > until) {
      await stop();
      throw new RealOllamaError('REAL_OLLAMA_START', `ollama serve did not answer /api/version on ${url}:\n${log.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { pgid, url, port, logs: () => log, stop };
}

/** TERM to the group, then KILL after a grace; returns once the group is gone (or only zombies remain). */
async function stopGroup(child: ChildProcess, pgid: number, exited: Promise<void>): Promise<void> {
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-pgid, sig);
    } catch {
      // the group is gone
    }
  };
  const groupAlive = (): boolean => {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const waitGone = async (ms: number): Promise<boolean> => {
    const until = Date.now() + ms;
    while (groupAlive() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    return !groupAlive();
  };
  signal('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (!(await waitGone(10_000))) {
    signal('SIGKILL');
    await waitGone(2_000);
  }
  if (child.exitCode === null && child.signalCode === null) await Promise.race([exited, new Promise((r) => setTimeout(r, 2_000))]);
  live.delete(pgid);
}

/**
 * The store with the base model, created once per Modelfile: built in a private folder by a
 * private server, then renamed into place. Two test files racing both build, one rename wins,
 * the loser throws its copy away; nobody ever sees a half-made store.
 */
async function sharedStore(paths: RealOllamaPaths): Promise<string> {
  const modelfile = MODELFILE(paths.gguf);
  const key = createHash('sha256')
    .update(`${modelfile}\n${statSync(paths.gguf).size}\n${BASE_MODEL}`)
    .digest('hex')
    .slice(0, 16);
  const base = join(paths.binary, '../..');
  const store = join(base, `store-${key}`);
  if (existsSync(join(store, 'manifests'))) return store;

  await mkdir(base, { recursive: true });
  const work = await mkdtemp(join(base, `.store-${key}-`));
  let server: Serve | undefined;
  try {
    const models = join(work, 'models');
    await mkdir(models);
    await writeFile(join(work, 'Modelfile'), modelfile);
    server = await serve(paths.binary, work, models, {});
    try {
      await execFileP(paths.binary, ['create', BASE_MODEL, '-f', join(work, 'Modelfile')], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, OLLAMA_HOST: `127.0.0.1:${server.port}`, OLLAMA_NOHISTORY: '1' },
        timeout: 300_000,
        maxBuffer: 16 * 1024 * 1024,
      });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new RealOllamaError(
        'REAL_OLLAMA_SETUP',
        `ollama create ${BASE_MODEL} failed: ${err.stderr || err.message}\n${server.logs().slice(-2000)}`,
      );
    }
    await server.stop();
    server = undefined;
    try {
      await rename(models, store);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
    }
  } finally {
    await server?.stop();
    await rm(work, { recursive: true, force: true });
  }
  if (!existsSync(join(store, 'manifests')))
    throw new RealOllamaError('REAL_OLLAMA_SETUP', `the model store ${store} has no manifests after creation`);
  return store;
}
