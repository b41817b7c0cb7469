import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../browser.js';
import { ROOT } from '../helpers.js';

/* The system map's diagram is checked by Mermaid itself, rendered in a real browser. */

const mapFile = join(ROOT, 'generated/docs/system-map.md');
const diagram = (md: string): string => /```mermaid\n([\s\S]*?)```/.exec(md)![1]!;

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

async function renderMermaid(source: string): Promise<{ ok: boolean; error?: string; nodes: number }> {
  const page = await browser.newPage();
  try {
    await page.setContent('<!doctype html><html><body><div id="out"></div></body></html>');
    await page.addScriptTag({ path: join(ROOT, 'node_modules/mermaid/dist/mermaid.min.js') });
    return await page.evaluate(async (src) => {
      const m = (
        window as unknown as {
          mermaid: {
            initialize(o: object): void;
            parse(s: string): Promise<unknown>;
            render(id: string, s: string): Promise<{ svg: string }>;
          };
        }
      ).mermaid;
      m.initialize({ startOnLoad: false, securityLevel: 'strict' });
      try {
        await m.parse(src);
        const { svg } = await m.render('map', src);
        document.getElementById('out')!.innerHTML = svg;
        return { ok: true, nodes: document.querySelectorAll('#out g.node').length };
      } catch (e) {
        return { ok: false, error: String((e as Error).message ?? e), nodes: 0 };
      }
    }, source);
  } finally {
    await page.close();
  }
}

describe('system map diagram', () => {
  it('parses and renders in Mermaid, one node per host service, service, hostname and bucket', async () => {
    const result = await renderMermaid(diagram(readFileSync(mapFile, 'utf8')));
    expect(result.error).toBeUndefined();
    expect(result.ok).toBe(true);
    // 17 services + 11 host services + 2 vaults + 2 hostnames + tunnel + 3 buckets + users + Grafana Cloud
    expect(result.nodes).toBe(38);
  });

  it('a broken diagram is caught (the check can fail)', async () => {
    const result = await renderMermaid('flowchart LR\n  a[("unclosed"]\n');
    expect(result.ok).toBe(false);
  });
});
