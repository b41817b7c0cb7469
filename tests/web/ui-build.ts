/*
 * Builds the control panel with Vite into a temp folder, once per test file, so browser tests
 * always run the UI as it is in the tree.
 */
import { join } from 'node:path';
import { build } from 'vite';
import { ROOT, tempDir } from '../helpers.js';

export const UI_ROOT = join(ROOT, 'runtime/ui');

export async function buildUi(): Promise<string> {
  const outDir = join(tempDir('web-ui-'), 'dist');
  await build({ configFile: join(UI_ROOT, 'vite.config.ts'), root: UI_ROOT, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  return outDir;
}
