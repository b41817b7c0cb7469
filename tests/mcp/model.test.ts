import { describe, expect, it } from 'vitest';
import { BUBBLEWRAP_SECURITY_OPT, composeFile } from '../../compose.js';
import { ModelInvalidError, parsePlatform, type Problem } from '../../model/index.js';
import { runtimeConfig } from '../../render/generators/runtime-config.js';
import { edit, exampleText } from '../helpers.js';

function problems(text: string): Problem[] {
  try {
    parsePlatform(text);
  } catch (e) {
    if (e instanceof ModelInvalidError) return [...e.problems];
    throw e;
  }
  return [];
}

const base = exampleText();

describe('the MCP tool server in the model', () => {
  it('renders its runtime slice with defaults and loopback plus the service name as hostnames', () => {
    const slice = runtimeConfig(parsePlatform(base)).mcp;
    expect(slice.authTokenSecret).toBe('MCP_AUTH_TOKEN');
    expect(slice.hostnames).toEqual(expect.arrayContaining(['mcp', 'localhost', '127.0.0.1', '[::1]']));
    expect(slice.vault.writableFolders).toEqual(['inbox', 'research']);
    expect(slice.sandbox).toEqual({ cpuSeconds: 5, wallMs: 10_000, memoryMb: 256, maxProcesses: 32, maxOutputBytes: 65_536, diskMb: 16 });
    expect(slice.fetch.allowHosts).toEqual(['100.101.20.1:8888']);
  });

  it('gives the mcp container only the profile changes bubblewrap needs, and no capability', () => {
    const compose = composeFile(parsePlatform(base), 'contabo') as { services: Record<string, Record<string, unknown>> };
    const mcp = compose.services.mcp!;
    expect(mcp.security_opt).toEqual([...BUBBLEWRAP_SECURITY_OPT]);
    expect(mcp.cap_add).toBeUndefined();
    expect(mcp.privileged).toBeUndefined();
    for (const [name, svc] of Object.entries(compose.services)) if (name !== 'mcp') expect(svc.security_opt, name).toBeUndefined();
  });

  it('refuses sandbox privileges on any other service, and an mcp service without them', () => {
    const onWorker = problems(edit(base, '    command: [worker]\n', '    command: [worker]\n    sandbox: bubblewrap\n'));
    expect(onWorker.map((p) => p.path)).toContain('services.worker.sandbox');
    const without = problems(edit(base, '    sandbox: bubblewrap\n', ''));
    expect(without.map((p) => p.message).join('\n')).toMatch(/run_code under bubblewrap/);
  });

  it('requires the bearer token on the server and on the worker that runs research jobs', () => {
    const list = problems(edit(base, 'DISCORD_WEBHOOK_URL, MCP_AUTH_TOKEN]', 'DISCORD_WEBHOOK_URL]'));
    expect(list.map((p) => p.path)).toContain('services.worker.secrets');
  });

  it('refuses a writable folder inside the job queue', () => {
    const list = problems(edit(base, 'writableFolders: [inbox, research]', 'writableFolders: [inbox, _queue]'));
    expect(list.map((p) => p.path).join(' ')).toMatch(/mcp\.vault\.writableFolders/);
    const sneaky = problems(edit(base, 'writableFolders: [inbox, research]', 'writableFolders: [inbox, ../etc]'));
    expect(sneaky.length).toBeGreaterThan(0);
  });
});
