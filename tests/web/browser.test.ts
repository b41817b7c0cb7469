import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileCron, ScheduleLedger, slotFileName, slotJobId } from '../../runtime/src/schedule/index.js';
import { latestSlot } from '../../runtime/src/schedule/cron.js';
import { createWorker, type Worker } from '../../runtime/src/worker/index.js';
import { openWorkerParts } from '../../runtime/src/worker/parts.js';
import { launchChromium } from '../browser.js';
import { ROOT } from '../helpers.js';
import { startWeb, type WebHarness } from './harness.js';
import { buildUi } from './ui-build.js';

/*
 * The control panel in real Chromium against a real `runtime web` (auth off, loopback): chat
 * streaming, stop, reload mid-answer, greyed models, search, the queue with the real worker,
 * every keyboard shortcut, phone width. A screenshot of each main view goes to the test output.
 */

const OUT = join(process.env.TEST_OUTPUT_DIR ?? join(ROOT, '.test-output'), 'web');
let h: WebHarness;
let url: string;
let browser: Browser;
let worker: Worker;

beforeAll(async () => {
  mkdirSync(OUT, { recursive: true });
  const uiDir = await buildUi();
  h = await startWeb({ settings: { uiDir, unwatchedStopMs: 60_000 } });
  url = await h.app.listen({ host: '127.0.0.1', port: 0 });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await worker?.stop();
  await h?.close();
});

async function page(viewport = { width: 1280, height: 800 }): Promise<Page> {
  const ctx = await browser.newContext({ viewport });
  const p = await ctx.newPage();
  p.on('pageerror', (e) => {
    throw e;
  });
  return p;
}

const shot = (p: Page, name: string) => p.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });

async function sendMessage(p: Page, text: string): Promise<void> {
  await p.getByTestId('composer').fill(text);
  await p.getByTestId('composer').press('Enter');
}

describe('control panel in Chromium', () => {
  it('sends a message and shows the tokens as they stream', async () => {
    h.ollama!.chat.enqueue({
      chunks: ['Streaming ', 'one ', 'token ', 'at ', 'a ', 'time.'],
      delayMs: 150,
      promptEvalCount: 5,
      evalCount: 6,
    });
    const p = await page();
    await p.goto(url);
    await sendMessage(p, 'stream to me');
    const answer = p.getByTestId('answer').last();
    // Part of the answer is on screen while it is still being written.
    await p.waitForFunction(() => {
      const a = [...document.querySelectorAll('[data-testid="msg-assistant"]')].pop();
      return a?.getAttribute('data-status') === 'running' && (a.textContent ?? '').includes('Streaming');
    });
    await expect.poll(() => answer.textContent(), { timeout: 10_000 }).toContain('Streaming one token at a time.');
    await expect.poll(() => p.getByTestId('msg-assistant').last().getAttribute('data-status')).toBe('complete');
    await expect.poll(() => p.getByTestId('figures').textContent()).toContain('5 / 6');
    await shot(p, 'chat');
    await p.context().close();
  });

  it('stops a long answer and finds the partial text, marked stopped, after a reload', async () => {
    h.ollama!.chat.enqueue({ chunks: Array.from({ length: 300 }, (_, i) => `word${i} `), delayMs: 40 });
    const p = await page();
    await p.goto(url);
    await sendMessage(p, 'a long answer');
    await expect.poll(() => p.getByTestId('answer').last().textContent(), { timeout: 10_000 }).toContain('word3 ');
    await p.getByTestId('stop').click();
    await expect.poll(() => p.getByTestId('msg-assistant').last().getAttribute('data-status')).toBe('stopped');
    await p.reload();
    await expect.poll(() => p.getByTestId('msg-assistant').last().getAttribute('data-status'), { timeout: 10_000 }).toBe('stopped');
    const text = (await p.getByTestId('answer').last().textContent()) ?? '';
    expect(text).toMatch(/^word0 word1 word2 word3/);
    expect(text).not.toContain('word299');
    await p.context().close();
  });

  it('reloads in the middle of an answer and sees it continue', async () => {
    const chunks = Array.from({ length: 40 }, (_, i) => `part${i} `);
    h.ollama!.chat.enqueue({ chunks, delayMs: 60 });
    const p = await page();
    await p.goto(url);
    await sendMessage(p, 'keep going');
    await expect.poll(() => p.getByTestId('answer').last().textContent(), { timeout: 10_000 }).toContain('part2 ');
    await p.reload();
    await expect.poll(() => p.getByTestId('msg-assistant').last().getAttribute('data-status'), { timeout: 10_000 }).toBe('running');
    await expect
      .poll(async () => (await p.getByTestId('answer').last().textContent())?.trim(), { timeout: 15_000 })
      .toBe(chunks.join('').trim());
    await expect.poll(() => p.getByTestId('msg-assistant').last().getAttribute('data-status')).toBe('complete');
    await p.context().close();
  });

  it('greys an unavailable model and says why when it is picked', async () => {
    const p = await page();
    await p.goto(url);
    await p.getByTestId('session').first().click();
    const davas = p.getByTestId('model-gemma4:27b');
    expect(await davas.getAttribute('aria-disabled')).toBe('true');
    // aria-disabled tells assistive tech it cannot be chosen; a click still explains why.
    await davas.click({ force: true });
    await expect
      .poll(() => p.getByTestId('model-reason').textContent())
      .toMatch(/Gemma 4 27B \(davas\) is unavailable: davas is unreachable/);
    expect(await p.getByTestId('vault-reason').textContent()).toContain('RAG_UNAVAILABLE');
    await shot(p, 'model-greyed');
    await p.context().close();
  });

  it('search finds a word that is only inside an old answer', async () => {
    h.ollama!.chat.enqueue({ chunks: ['An old answer about ', 'quasicrystals', ' and more.'] });
    const p = await page();
    await p.goto(url);
    await sendMessage(p, 'tell me a fact');
    await expect.poll(() => p.getByTestId('msg-assistant').last().getAttribute('data-status'), { timeout: 10_000 }).toBe('complete');
    await p.getByTestId('search').fill('quasicrystal');
    await expect.poll(() => p.getByTestId('search-results').locator('mark').allTextContents()).toEqual(['quasicrystals']);
    await shot(p, 'search');
    await p.context().close();
  });

  it('submits a job and watches it complete, then opens its detail', async () => {
    h.ollama!.chat.fallback = { chunks: ['# Report\n\n', 'All **done**.'], promptEvalCount: 9, evalCount: 4 };
    worker = createWorker({
      config: h.config,
      router: h.router,
      ...(await openWorkerParts(h.config, { log: h.log, watch: false })),
      log: h.log,
    });
    await worker.start();
    const p = await page();
    await p.goto(`${url}/ui/queue`);
    await p.getByTestId('job-title').fill('browser job');
    await p.getByTestId('job-prompt').fill('Write a short report.');
    await p.getByTestId('job-submit').click();
    await expect.poll(() => p.getByTestId('lane-completed').textContent(), { timeout: 20_000 }).toContain('browser job');
    await shot(p, 'queue');
    await p.getByTestId('lane-completed').getByText('browser job').click();
    await expect.poll(() => p.getByTestId('job-state').textContent()).toBe('completed');
    expect(await p.getByTestId('job-output').locator('h1').textContent()).toBe('Report');
    expect(await p.getByTestId('job-output').locator('strong').textContent()).toBe('done');
    expect(await p.getByTestId('job-detail').textContent()).toContain('9 / 4');
    await shot(p, 'job-detail');
    await p.context().close();
  });

  it('every keyboard shortcut does what the help says', async () => {
    h.ollama!.chat.enqueue({ chunks: ['key ', 'board'] }, { chunks: Array.from({ length: 200 }, (_, i) => `k${i} `), delayMs: 40 });
    // Another session to switch to.
    await h.app.inject({ method: 'POST', url: '/api/sessions', payload: { title: 'neighbour' } });
    const p = await page();
    await p.goto(url);
    await p.getByTestId('health').waitFor();
    // ? opens the help, Esc closes it.
    await p.keyboard.press('?');
    await p.getByTestId('help').waitFor();
    expect(await p.getByTestId('help').textContent()).toContain('Alt+N');
    await shot(p, 'help');
    await p.keyboard.press('Escape');
    await p.getByTestId('help').waitFor({ state: 'detached' });
    // Alt+N: a new chat, and the message box has the focus.
    const before = p.url();
    await p.keyboard.press('Alt+KeyN');
    await expect.poll(() => p.url()).toMatch(/\/ui\/session\/[0-9a-f-]{36}$/);
    expect(p.url()).not.toBe(before);
    await expect.poll(() => p.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('composer');
    // Enter sends.
    await p.keyboard.type('via the keyboard');
    await p.keyboard.press('Enter');
    await expect.poll(async () => (await p.getByTestId('answer').last().textContent())?.trim(), { timeout: 10_000 }).toBe('key board');
    // / focuses the search, i the message box.
    await p.locator('body').click({ position: { x: 640, y: 10 } });
    await p.keyboard.press('/');
    await expect.poll(() => p.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('search');
    await p.keyboard.press('Escape');
    await p.keyboard.press('i');
    await expect.poll(() => p.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('composer');
    // Esc stops an answer being written.
    await p.keyboard.type('long one');
    await p.keyboard.press('Enter');
    await expect.poll(() => p.getByTestId('answer').last().textContent(), { timeout: 10_000 }).toContain('k2 ');
    await p.keyboard.press('Escape');
    await expect.poll(() => p.getByTestId('msg-assistant').last().getAttribute('data-status')).toBe('stopped');
    // Alt+Down / Alt+Up switch sessions.
    const here = p.url();
    await p.keyboard.press('Alt+ArrowDown');
    await expect.poll(() => p.url()).not.toBe(here);
    await p.keyboard.press('Alt+ArrowUp');
    await expect.poll(() => p.url()).toBe(here);
    // Alt+Q queue, Alt+C back to the chat.
    await p.keyboard.press('Alt+KeyQ');
    await expect.poll(() => p.url()).toBe(`${url}/ui/queue`);
    await p.keyboard.press('Alt+KeyC');
    await expect.poll(() => p.url()).toBe(here);
    // Alt+T: light, and back.
    await p.keyboard.press('Alt+KeyT');
    await expect.poll(() => p.evaluate(() => document.documentElement.dataset.theme)).toBe('light');
    await shot(p, 'chat-light');
    await p.keyboard.press('Alt+KeyT');
    await expect.poll(() => p.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await p.context().close();
  });

  it('renders model output as sanitised markdown with highlighted code, never as live HTML', async () => {
    h.ollama!.chat.enqueue({
      chunks: [
        'Look: <img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script>\n\n',
        '[click](javascript:window.__pwned=3)\n\n',
        '```ts\nconst answer: number = 42;\n```\n',
      ],
    });
    const p = await page();
    await p.goto(url);
    await sendMessage(p, 'show me code');
    await expect.poll(() => p.getByTestId('msg-assistant').last().getAttribute('data-status'), { timeout: 10_000 }).toBe('complete');
    const answer = p.getByTestId('answer').last();
    expect(await answer.locator('img').count()).toBe(0);
    expect(await answer.locator('script').count()).toBe(0);
    expect(await answer.locator('a[href^="javascript"]').count()).toBe(0);
    expect(await answer.textContent()).toContain('<img src=x onerror=');
    expect(await answer.locator('code.language-ts .hljs-keyword').first().textContent()).toBe('const');
    await answer
      .locator('a')
      .first()
      .click()
      .catch(() => undefined);
    expect(await p.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    await p.context().close();
  });

  it('shows usage by model and day, and makes and revokes an API token', async () => {
    const p = await page();
    await p.goto(`${url}/ui/admin`);
    await expect.poll(() => p.getByTestId('stats').textContent()).toContain('qwen2.5:14b');
    await p.getByTestId('token-name').fill('tablet');
    await p.getByTestId('token-create').click();
    const token = ((await p.getByTestId('token-fresh').locator('code').textContent()) ?? '').trim();
    expect(token).toMatch(/^rt_/);
    await expect.poll(() => p.getByTestId('tokens').textContent()).toContain('tablet');
    expect(h.server.tokens.verify(token)?.name).toBe('tablet');
    await shot(p, 'stats');
    await p.getByRole('button', { name: 'revoke tablet' }).click();
    await expect.poll(() => p.getByTestId('tokens').textContent()).toContain('revoked');
    expect(h.server.tokens.verify(token)).toBeUndefined();
    await p.context().close();
  });

  it('the queue view shows each schedule’s next runs and how its last slot went', async () => {
    // The worker's ledger says briefing and memory settled their latest slots (the latest, so a
    // running scheduler owes nothing more); their job files say how the jobs went.
    const ledger = new ScheduleLedger(join(h.config.dataDir, 'jobs.db'));
    const latest = (name: string): number => {
      const s = h.config.schedules.find((x) => x.name === name)!;
      return latestSlot(compileCron(s.cron, s.timezone), Date.now())!;
    };
    const settled: Record<string, number> = {};
    for (const [name, folder] of [
      ['briefing', h.config.vault.folders.completed],
      ['memory', h.config.vault.folders.failed],
    ] as const) {
      const slot = latest(name);
      settled[name] = slot;
      ledger.claim(name, slot, 'enqueued', slotJobId(name, slot), Date.now());
      writeFileSync(join(h.config.vault.path, folder, slotFileName(name, slot)), `---\nid: ${slotJobId(name, slot)}\n---\nx\n`);
    }
    ledger.close();
    const p = await page();
    await p.goto(`${url}/ui/queue`);
    const row = (name: string) => p.getByTestId(`schedule-${name}`);
    await expect.poll(() => row('briefing').getByTestId('schedule-last').textContent()).toContain('completed');
    expect(await row('memory').getByTestId('schedule-last').textContent()).toContain('failed');
    expect(await row('reindex').getByTestId('schedule-last').textContent()).toBe('never run');
    expect(await row('research').getByTestId('schedule-next').textContent()).toBe('disabled');
    // Three upcoming runs each, as the page's clock shows them, in the order they come.
    const api = (await (await fetch(`${url}/api/schedules`)).json()) as { schedules: { name: string; next: string[] }[] };
    const briefing = api.schedules.find((s) => s.name === 'briefing')!;
    expect(briefing.next).toHaveLength(3);
    const shown = await row('briefing').getByTestId('schedule-next').locator('div').allTextContents();
    const local = await p.evaluate(
      (ts) => ts.map((t) => new Date(t).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' })),
      briefing.next,
    );
    expect(shown).toEqual(local);
    const last = await p.evaluate((t) => new Date(t).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' }), settled.briefing!);
    expect(await row('briefing').getByTestId('schedule-last').textContent()).toBe(`${last}completed`);
    await shot(p, 'queue-schedules');
    await p.context().close();
  });

  it('is one column at phone width', async () => {
    const p = await page({ width: 390, height: 844 });
    await p.goto(url);
    await p.getByTestId('session').first().click();
    const boxes = await Promise.all(['sessions', 'chat', 'inspector'].map((c) => p.locator(`.pane.${c}`).boundingBox()));
    for (const b of boxes) {
      expect(b!.x).toBe(0);
      expect(b!.width).toBeLessThanOrEqual(390);
    }
    expect(boxes[0]!.y).toBeLessThan(boxes[1]!.y);
    expect(boxes[1]!.y).toBeLessThan(boxes[2]!.y);
    await shot(p, 'phone');
    await p.context().close();
  });

  it('serves the bundle from this server only (no CDN) and the API needs no page load', async () => {
    const p = await page();
    const hosts = new Set<string>();
    p.on('request', (r) => hosts.add(new URL(r.url()).host));
    await p.goto(url);
    await p.getByTestId('health').waitFor();
    expect([...hosts]).toEqual([new URL(url).host]);
    await p.context().close();
  });
});
