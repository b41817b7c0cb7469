/*
 * A real Neo4j (embedded 5.26, Bolt only, auth off) on 127.0.0.1 for the graph-store tests.
 * The server is tools/neo4j-server, built by scripts/install-neo4j.sh into the user's cache; it
 * exits when its stdin closes, so a test process that dies takes its Neo4j with it.
 *
 *   const neo = await startNeo4j();   // { boltUrl, stop() }
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, ROOT } from '../helpers.js';

export interface RealNeo4j {
  /** bolt://127.0.0.1:<port> */
  readonly boltUrl: string;
  readonly port: number;
  stop(): Promise<void>;
}

export function neo4jVersion(): string {
  const pom = readFileSync(join(ROOT, 'tools/neo4j-server/pom.xml'), 'utf8');
  const m = /<neo4j\.version>([^<]+)<\/neo4j\.version>/.exec(pom);
  if (!m?.[1]) throw new Error('tools/neo4j-server/pom.xml names no neo4j.version');
  return m[1];
}

export function neo4jHome(): string {
  const cache = process.env.LLM_PLATFORM_CACHE ?? join(homedir(), '.cache/llm-platform');
  return join(cache, `neo4j-${neo4jVersion()}`);
}

/** Starts Neo4j and resolves once it has accepted a write; rejects with its output on failure. */
export async function startNeo4j(opts: { timeoutMs?: number } = {}): Promise<RealNeo4j> {
  const home = neo4jHome();
  if (!existsSync(join(home, 'neo4j-server.jar'))) {
    throw new Error(`no Neo4j test server in ${home}: run \`bash scripts/install-neo4j.sh\` (make test does)`);
  }
  const timeoutMs = opts.timeoutMs ?? 180_000;
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'neo4j-test-'));
  const child: ChildProcess = spawn(
    'java',
    [
      '-Xmx512m',
      '-XX:+UseSerialGC',
      '-cp',
      `${join(home, 'neo4j-server.jar')}:${join(home, 'lib')}/*`,
      'platform.Neo4jServer',
      dataDir,
      String(port),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Neo4j did not start within ${timeoutMs} ms:\n${output.slice(-4000)}`)), timeoutMs);
    child.stdout?.on('data', (b: Buffer) => {
      output += b.toString();
      if (output.includes('READY bolt://')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`Neo4j exited with ${code} before it was ready:\n${output.slice(-4000)}`));
    });
  });
  const cleanup = (): void => rmSync(dataDir, { recursive: true, force: true });
  try {
    await ready;
  } catch (e) {
    child.kill('SIGKILL');
    await exited;
    cleanup();
    throw e;
  }
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      // Closing stdin asks the server to shut the database down cleanly; SIGKILL if it hangs.
      child.stdin?.end();
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    }
    cleanup();
  };
  return { boltUrl: `bolt://127.0.0.1:${port}`, port, stop };
}
