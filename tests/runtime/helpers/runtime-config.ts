import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig, type RuntimeConfig } from '../../../runtime/src/config/index.js';
import type { RuntimeConfigFile } from '@platform/contract';

/*
 * A real RuntimeConfig for worker tests: the committed runtime.json with the vault, data dir,
 * worker timings and Ollama hosts pointed at a temp vault and a local double, read through
 * loadConfig like the service does.
 */

const GENERATED = join(import.meta.dirname, '../../../generated/runtime/runtime.json');

export interface TestConfigOptions {
  root: string;
  vault: string;
  dataDir: string;
  ollamaUrl: string;
  worker?: Partial<RuntimeConfigFile['vault']['worker']> & Record<string, unknown>;
}

export async function writeTestConfig(o: TestConfigOptions): Promise<{ path: string; env: Record<string, string> }> {
  const file = JSON.parse(readFileSync(GENERATED, 'utf8')) as RuntimeConfigFile;
  file.vault.worker = { ...file.vault.worker, concurrency: 2, mtimeGuardMs: 200, rescanMs: 500, graceMs: 1_000, ...o.worker };
  const path = join(o.root, 'runtime.json');
  await writeFile(path, JSON.stringify(file, null, 2));
  const env: Record<string, string> = {
    RUNTIME_CONFIG: path,
    DATA_DIR: o.dataDir,
    VAULT_DIR: o.vault,
    OTEL_SDK_DISABLED: 'true',
  };
  for (const host of Object.keys(file.ollamaHosts)) env[`OLLAMA_URL_${host.toUpperCase().replace(/-/g, '_')}`] = o.ollamaUrl;
  return { path, env };
}

export async function testConfig(o: TestConfigOptions): Promise<RuntimeConfig> {
  const { env } = await writeTestConfig(o);
  return loadConfig(env);
}
