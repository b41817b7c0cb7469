import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alertsGenerator } from '../../alerts/generate.js';
import { alloyGenerator } from '../../alloy/config.js';
import { dashboardsGenerator } from '../../dashboards/generate.js';
import { GENERATORS } from '../../render/registry.js';
import { platform, ROOT } from './helpers.js';

const p = platform();
const generators = [alloyGenerator, dashboardsGenerator, alertsGenerator];

describe('observability generators match the committed generated/ files', () => {
  it('are registered with make render', () => {
    for (const g of generators) expect(GENERATORS).toContain(g);
  });

  for (const g of generators) {
    for (const a of g.generate(p)) {
      it(`${g.name}: generated/${a.path}`, () => {
        const committed = readFileSync(join(ROOT, 'generated', a.path), 'utf8');
        expect(a.content, `generated/${a.path} is stale: run make render`).toBe(committed);
      });
    }
  }

  it('are pure: the same model gives byte-identical output', () => {
    for (const g of generators) expect(g.generate(platform())).toEqual(g.generate(p));
  });
});
