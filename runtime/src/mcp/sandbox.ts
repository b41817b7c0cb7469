import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { RuntimeError } from '../errors.js';

/*
 * run_code: Python or JavaScript under bubblewrap. The sandbox has every namespace unshared (no
 * network at all), sees /usr read-only plus the interpreter, and a private size-capped tmpfs as
 * its only writable place; no /etc, no /proc, no vault, no data dir, no service files. (/proc is
 * left out on purpose: a container masks parts of its /proc, and the kernel then refuses to
 * mount a fresh one; neither interpreter needs it.) rlimits (through
 * util-linux prlimit) cap CPU seconds, writable memory (RLIMIT_DATA: V8 reserves far more address
 * space than it uses, so RLIMIT_AS would stop node starting), process count and file size; the
 * wall clock and the output size are policed here, and a run that passes either is killed with
 * its whole process group (bwrap's PID namespace takes every descendant with it).
 */

export type Language = 'python' | 'javascript';
export type LimitHit = 'wall' | 'cpu' | 'memory' | 'processes' | 'output' | 'disk';

export interface SandboxLimits {
  cpuSeconds: number;
  wallMs: number;
  memoryMb: number;
  maxProcesses: number;
  maxOutputBytes: number;
  diskMb: number;
}

export interface SandboxResult {
  stdout: string;
  stderr: string;
  /** The exit code, or 128 + signal when a signal ended it. */
  exitCode: number;
  signal?: string;
  /** Which limit ended the run, when one did. */
  limit?: LimitHit;
  durationMs: number;
}

export interface SandboxOptions {
  limits: SandboxLimits;
  /** Interpreters; defaults: /usr/bin/python3 and the node running this process. */
  python?: string;
  node?: string;
  bwrap?: string;
  prlimit?: string;
  /** Sandboxes running at once; later calls wait. */
  maxConcurrent?: number;
}

/**
 * A node binary the sandbox user can run: the one running this process when others may read it,
 * else a system one. (A root service sandboxes as nobody, who cannot enter /root/.cache.)
 */
function defaultNode(): string {
  const candidates = [process.execPath, '/usr/local/bin/node', '/usr/bin/node'];
  return candidates.find((c) => process.getuid?.() !== 0 || openToOthers(c)) ?? process.execPath;
}

/** Every folder on the way is searchable and the file readable and executable by others. */
function openToOthers(path: string): boolean {
  try {
    if ((statSync(path).mode & 0o005) !== 0o005) return false;
    for (let d = dirname(path); ; d = dirname(d)) {
      if ((statSync(d).mode & 0o001) === 0) return false;
      if (d === '/') return true;
    }
  } catch {
    return false;
  }
}

const SIGNALS: Record<number, string> = { 9: 'SIGKILL', 24: 'SIGXCPU', 25: 'SIGXFSZ', 6: 'SIGABRT', 11: 'SIGSEGV', 15: 'SIGTERM' };
/** The uid a root service runs sandboxes as, so the process-count limit counts only them. */
const NOBODY = 65534;

export class Sandbox {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly opts: SandboxOptions) {}

  private paths(): { bwrap: string; prlimit: string; python: string; node: string } {
    return {
      bwrap: this.opts.bwrap ?? '/usr/bin/bwrap',
      prlimit: this.opts.prlimit ?? '/usr/bin/prlimit',
      python: this.opts.python ?? '/usr/bin/python3',
      node: this.opts.node ?? defaultNode(),
    };
  }

  /** Why the sandbox cannot run here, or undefined when it can. */
  unavailableReason(): string | undefined {
    const p = this.paths();
    if (process.platform !== 'linux') return 'run_code needs Linux namespaces';
    if (!existsSync(p.bwrap)) return `bubblewrap is not installed (${p.bwrap}); install the "bubblewrap" package`;
    if (!existsSync(p.prlimit)) return `prlimit is not installed (${p.prlimit}); install "util-linux"`;
    return undefined;
  }

  private async slot(): Promise<() => void> {
    const max = this.opts.maxConcurrent ?? 4;
    if (this.running >= max) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    return () => {
      this.running--;
      this.waiting.shift()?.();
    };
  }

  private args(language: Language): string[] {
    const p = this.paths();
    const l = this.opts.limits;
    const interpreter = language === 'python' ? p.python : p.node;
    if (!existsSync(interpreter)) {
      throw new RuntimeError('SANDBOX_UNAVAILABLE', `the ${language} interpreter ${interpreter} is missing`, {
        hint: `install ${language === 'python' ? 'python3' : 'node'} in the runtime image`,
      });
    }
    const binds = [
      '--ro-bind',
      '/usr',
      '/usr',
      '--symlink',
      'usr/bin',
      '/bin',
      '--symlink',
      'usr/lib',
      '/lib',
      '--symlink',
      'usr/lib64',
      '/lib64',
      '--symlink',
      'usr/sbin',
      '/sbin',
    ];
    // An interpreter outside /usr (node unpacked elsewhere) is bound read-only at its own path.
    if (!interpreter.startsWith('/usr/')) {
      const prefix = dirname(dirname(interpreter));
      binds.push('--ro-bind', prefix, prefix);
    }
    const file = language === 'python' ? '/work/main.py' : '/work/main.mjs';
    const run =
      language === 'python'
        ? [interpreter, '-I', '-B', file]
        : [
            interpreter,
            `--max-old-space-size=${Math.max(16, Math.floor(l.memoryMb * 0.75))}`,
            '--disallow-code-generation-from-strings',
            file,
          ];
    return [
      `--cpu=${l.cpuSeconds}:${l.cpuSeconds + 1}`,
      `--data=${l.memoryMb * 1024 * 1024}`,
      `--nproc=${l.maxProcesses + (process.getuid?.() === 0 ? 0 : 64)}`,
      `--fsize=${l.diskMb * 1024 * 1024}`,
      '--core=0',
      '--nofile=256',
      '--',
      p.bwrap,
      '--unshare-all',
      '--die-with-parent',
      '--new-session',
      '--cap-drop',
      'ALL',
      ...binds,
      '--dev',
      '/dev',
      '--size',
      String(l.diskMb * 1024 * 1024),
      '--tmpfs',
      '/work',
      '--size',
      String(1024 * 1024),
      '--tmpfs',
      '/tmp',
      // The program arrives on fd 3 and is copied into the private work dir.
      '--file',
      '3',
      file,
      '--chdir',
      '/work',
      '--clearenv',
      '--setenv',
      'PATH',
      '/usr/bin:/bin',
      '--setenv',
      'HOME',
      '/work',
      '--setenv',
      'LANG',
      'C.UTF-8',
      '--',
      ...run,
    ];
  }

  async run(language: Language, code: string, signal?: AbortSignal): Promise<SandboxResult> {
    const why = this.unavailableReason();
    if (why)
      throw new RuntimeError('SANDBOX_UNAVAILABLE', why, {
        hint: 'run the MCP server where bubblewrap works (see services.mcp.sandbox in platform.yaml)',
      });
    const args = this.args(language);
    const release = await this.slot();
    try {
      return await this.spawnOnce(args, code, signal);
    } finally {
      release();
    }
  }

  private spawnOnce(args: string[], code: string, signal?: AbortSignal): Promise<SandboxResult> {
    const l = this.opts.limits;
    const root = process.getuid?.() === 0;
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const child = spawn(this.paths().prlimit, args, {
        stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
        detached: true,
        env: {},
        ...(root ? { uid: NOBODY, gid: NOBODY } : {}),
      });
      let limit: LimitHit | undefined;
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let outBytes = 0;
      let errBytes = 0;
      const killGroup = (): void => {
        if (child.pid === undefined) return;
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      };
      const take = (list: Buffer[], chunk: Buffer, size: number): number => {
        const room = l.maxOutputBytes - size;
        if (chunk.length > room) {
          if (room > 0) list.push(chunk.subarray(0, room));
          limit ??= 'output';
          killGroup();
          return l.maxOutputBytes;
        }
        list.push(chunk);
        return size + chunk.length;
      };
      child.stdout!.on('data', (c: Buffer) => (outBytes = take(out, c, outBytes)));
      child.stderr!.on('data', (c: Buffer) => (errBytes = take(err, c, errBytes)));
      const program = child.stdio[3] as NodeJS.WritableStream;
      program.on('error', () => undefined);
      program.end(code);
      const timer = setTimeout(() => {
        limit ??= 'wall';
        killGroup();
      }, l.wallMs);
      const onAbort = (): void => killGroup();
      signal?.addEventListener('abort', onAbort, { once: true });
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(
          new RuntimeError('SANDBOX_UNAVAILABLE', `the sandbox did not start: ${e.message}`, {
            hint: 'check that bubblewrap and prlimit are installed',
          }),
        );
      });
      child.on('close', (status, sig) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const stdout = Buffer.concat(out).toString('utf8');
        const stderr = Buffer.concat(err).toString('utf8');
        // bwrap reports a child killed by signal N as exit 128 + N.
        let exitCode = status ?? 128 + 9;
        let signalName: string | undefined = sig ?? undefined;
        if (status !== null && status > 128 && SIGNALS[status - 128]) signalName = SIGNALS[status - 128];
        if (sig) exitCode = 128 + (sig === 'SIGKILL' ? 9 : 15);
        if (!limit) limit = inferLimit(signalName, stderr);
        if (/^bwrap: /m.test(stderr) && exitCode === 1 && !limit) {
          reject(
            new RuntimeError('SANDBOX_UNAVAILABLE', `bubblewrap refused to start: ${stderr.trim().split('\n')[0]}`, {
              hint: 'the container needs services.mcp.sandbox: bubblewrap (seccomp and AppArmor allowing namespaces)',
            }),
          );
          return;
        }
        resolve({
          stdout,
          stderr,
          exitCode,
          ...(signalName ? { signal: signalName } : {}),
          ...(limit ? { limit } : {}),
          durationMs: Math.round(performance.now() - started),
        });
      });
    });
  }
}

function inferLimit(signal: string | undefined, stderr: string): LimitHit | undefined {
  if (signal === 'SIGXCPU') return 'cpu';
  if (signal === 'SIGXFSZ') return 'disk';
  if (/MemoryError|heap out of memory|std::bad_alloc|Cannot allocate memory/.test(stderr)) return 'memory';
  if (/No space left on device|File too large/.test(stderr)) return 'disk';
  if (/Resource temporarily unavailable|EAGAIN/.test(stderr) && /fork|spawn|Thread|thread|Popen|process/.test(stderr)) return 'processes';
  return undefined;
}
