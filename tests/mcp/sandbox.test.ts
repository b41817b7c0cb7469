import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Sandbox, type SandboxLimits } from '../../runtime/src/mcp/index.js';
import { makeVault } from './helpers.js';

const LIMITS: SandboxLimits = { cpuSeconds: 2, wallMs: 3000, memoryMb: 128, maxProcesses: 16, maxOutputBytes: 4096, diskMb: 4 };

/** Processes on this machine whose command line contains `marker`. */
function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker)) found.push(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe('run_code sandbox (bubblewrap)', () => {
  const sandbox = new Sandbox({ limits: LIMITS });

  it('runs Python and JavaScript and returns stdout, stderr and the exit code', async () => {
    expect(sandbox.unavailableReason()).toBeUndefined();
    const py = await sandbox.run('python', 'import sys\nprint("hi")\nprint("oops", file=sys.stderr)\nsys.exit(3)');
    expect(py).toMatchObject({ stdout: 'hi\n', stderr: 'oops\n', exitCode: 3 });
    expect(py.limit).toBeUndefined();
    const js = await sandbox.run('javascript', 'console.log([1,2,3].map((x) => x * 2).join(","))');
    expect(js).toMatchObject({ stdout: '2,4,6\n', exitCode: 0 });
  });

  it('has no network: a socket cannot reach anything', async () => {
    const r = await sandbox.run(
      'python',
      'import socket\ns = socket.socket()\ntry:\n    s.connect(("1.1.1.1", 80))\nexcept OSError as e:\n    print("refused", e.errno)\nprint([n for _, n in socket.if_nameindex()])',
    );
    expect(r.stdout).toMatch(/^refused (101|111|99)\n\['lo'\]\n$/);
    const js = await sandbox.run(
      'javascript',
      'import net from "node:net";\nnet.connect(80, "1.1.1.1").on("error", (e) => console.log("refused", e.code));',
    );
    expect(js.stdout).toMatch(/^refused E(NETUNREACH|CONNREFUSED)/);
  });

  it('cannot read /etc/shadow, the vault or the service files, and cannot write the system', async () => {
    const v = makeVault();
    const code = `import os
for p in ["/etc/shadow", "/proc/1/environ", ${JSON.stringify(`${v.vault}/notes/tides.md`)}, ${JSON.stringify(process.cwd() + '/package.json')}, "/root"]:
    print(p, os.path.exists(p))
try:
    open("/usr/evil", "w")
except OSError as e:
    print("usr", e.errno)
`;
    const r = await sandbox.run('python', code);
    expect(r.stdout).toBe(
      `/etc/shadow False\n/proc/1/environ False\n${v.vault}/notes/tides.md False\n${process.cwd()}/package.json False\n/root False\nusr 30\n`,
    );
  });

  it('survives a fork bomb: the process limit stops it', async () => {
    const r = await sandbox.run('python', 'import os\nwhile True:\n    os.fork()');
    expect(r.limit).toBe('processes');
    expect(r.exitCode).not.toBe(0);
  });

  it('cannot fill the disk: the work dir is a small private tmpfs', async () => {
    const r = await sandbox.run('python', 'f = open("fill", "wb")\nwhile True:\n    f.write(b"x" * 65536)');
    expect(r.limit).toBe('disk');
  });

  it('does not outlive its timeout: the whole process tree is killed', async () => {
    const marker = `9${Date.now() % 100000}.25`;
    const r = await sandbox.run(
      'python',
      `import subprocess, time\nsubprocess.Popen(["sleep", "${marker}"], start_new_session=True)\nprint("started", flush=True)\ntime.sleep(60)`,
    );
    expect(r.limit).toBe('wall');
    expect(r.stdout).toBe('started\n');
    await new Promise((res) => setTimeout(res, 200));
    expect(processesWith(marker)).toEqual([]);
  });

  it('stops a CPU hog, a memory hog and a flood of output, naming the limit', async () => {
    const slow = new Sandbox({ limits: { ...LIMITS, cpuSeconds: 1, wallMs: 30_000 } });
    expect((await slow.run('python', 'while True: pass')).limit).toBe('cpu');
    expect((await sandbox.run('python', 'x = bytearray(400 * 1024 * 1024)')).limit).toBe('memory');
    const flood = await sandbox.run('python', 'print("x" * 100000)');
    expect(flood.limit).toBe('output');
    expect(flood.stdout.length).toBe(LIMITS.maxOutputBytes);
  });
});
