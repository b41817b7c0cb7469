import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';

/*
 * The runtime image carries the runtime and the contract package, nothing else from the
 * repository: the runtime reaches the model only through `@platform/contract`, the contract
 * depends on zod alone, and the model side never reaches into the runtime.
 */

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.[cm]?[jt]s$/.test(e.name) && !e.name.endsWith('.d.ts'))
    .map((e) => join(e.parentPath, e.name));
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => (m[1] ?? m[2] ?? m[3])!);
}

/** Relative imports that land outside `root`, and bare imports not allowed by `bare`. */
function escapes(root: string, bare: (spec: string) => boolean): string[] {
  const out: string[] = [];
  for (const file of sources(root)) {
    for (const spec of imports(file)) {
      const where = `${relative(ROOT, file)} imports ${spec}`;
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        if (target !== root && !target.startsWith(root + sep)) out.push(where);
      } else if (!spec.startsWith('node:') && !bare(spec)) out.push(where);
    }
  }
  return out;
}

const packageName = (spec: string): string => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);

describe('package boundaries', () => {
  it('the contract package imports zod and its own files only', () => {
    expect(escapes(join(ROOT, 'packages/contract/src'), (s) => s === 'zod')).toEqual([]);
  });

  it('the runtime imports its own files and its declared dependencies only (the contract by name)', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'runtime/package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const deps = new Set(Object.keys(manifest.dependencies));
    expect(deps.has('@platform/contract')).toBe(true);
    expect(escapes(join(ROOT, 'runtime/src'), (s) => deps.has(packageName(s)))).toEqual([]);
  });

  it('nothing on the model side imports the runtime', () => {
    const offenders: string[] = [];
    for (const dir of ['model', 'render', 'stacks', 'dashboards', 'alerts', 'alloy', 'playbooks-gen', 'packages']) {
      for (const file of sources(join(ROOT, dir))) {
        for (const spec of imports(file)) {
          const target = spec.startsWith('.') ? relative(ROOT, resolve(dirname(file), spec)) : spec;
          if (target.startsWith(`runtime${sep}`) || target.startsWith('@platform/runtime'))
            offenders.push(`${relative(ROOT, file)} imports ${spec}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it('the finder sees imports in every form the code uses', () => {
    // Guards the scan itself: a regex that matched nothing would pass every check above.
    const found = imports(join(ROOT, 'runtime/src/config/index.ts'));
    expect(found).toContain('@platform/contract');
    expect(found).toContain('../errors.js');
    expect(escapes(join(ROOT, 'runtime/src/config'), () => true)).toContain('runtime/src/config/index.ts imports ../errors.js');
  });
});
