import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../browser.js';
import { startRealOllama, type RealOllama } from '../helpers/real-ollama.js';
import { sseFrames, startWeb, type WebHarness } from './harness.js';
import { buildUi } from './ui-build.js';

/*
 * `runtime web` against a real Ollama serving a real small model (OLLAMA_NUM_PARALLEL=1): Stop
 * must end the upstream generation, which a short request sent right after proves (with one
 * slot, it could not start while the long answer was still being generated). The browser
 * streams from the same server. Wording is never asserted: a 135M model says anything.
 */

const MODEL = 'qwen2.5:14b';
let ollama: RealOllama;
let h: WebHarness;
let browser: Browser | undefined;

beforeAll(async () => {
  ollama = await startRealOllama({ models: [MODEL], numParallel: 1 });
  h = await startWeb({ ollamaUrl: ollama.url, settings: { uiDir: await buildUi() } });
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await h?.close();
  await ollama?.stop();
});

/** Resolves with the first chunk of a one-token answer, or rejects at the deadline. */
async function shortRequestStarts(deadlineMs: number): Promise<void> {
  const res = await fetch(`${ollama.url}/api/chat`, {
    method: 'POST',
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], stream: true, options: { num_predict: 1 } }),
    signal: AbortSignal.timeout(deadlineMs),
  });
  const reader = res.body!.getReader();
  const first = await reader.read();
  expect(first.done).toBe(false);
  await reader.cancel();
}

describe('runtime web with a real Ollama', () => {
  it('stop ends the upstream generation: a short request right after starts within 1 s', async () => {
    const s = (await h.app.inject({ method: 'POST', url: '/api/sessions', payload: {} })).json() as { id: string };
    const g = (
      await h.app.inject({
        method: 'POST',
        url: `/api/sessions/${s.id}/messages`,
        payload: { content: 'Write a long story about a lighthouse keeper, with many chapters.' },
      })
    ).json() as {
      generation: { id: string };
      events: string;
    };
    const until = Date.now() + 120_000;
    while ((h.server.generations.get(g.generation.id)?.lastEventId ?? 0) < 5) {
      if (Date.now() > until) throw new Error(`no tokens from the real model: ${ollama.logs().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const stop = await h.app.inject({ method: 'POST', url: `/api/generations/${g.generation.id}/stop` });
    expect(stop.json()).toMatchObject({ status: 'stopped' });
    await shortRequestStarts(1000);
    const frames = sseFrames((await h.app.inject({ method: 'GET', url: g.events })).body).filter(
      (f): f is { id: string; event: string; data: string } => 'id' in f,
    );
    expect(frames.filter((f) => f.event === 'token').length).toBeGreaterThanOrEqual(5);
    expect(JSON.parse(frames.at(-1)!.data)).toMatchObject({ status: 'stopped', stopReason: 'user' });
    const view = (await h.app.inject({ method: 'GET', url: `/api/sessions/${s.id}` })).json() as {
      messages: { role: string; content: string; status: string }[];
    };
    expect(view.messages[1]!.status).toBe('stopped');
    expect(view.messages[1]!.content.length).toBeGreaterThan(0);
  }, 180_000);

  it('streams a real answer into Chromium', async () => {
    const url = await h.app.listen({ host: '127.0.0.1', port: 0 });
    browser = await launchChromium();
    const p = await browser.newPage();
    await p.goto(url);
    await p.getByTestId('composer').fill('Name three colours.');
    await p.getByTestId('composer').press('Enter');
    // Text on screen while the answer is still being written, then the finished answer.
    await p.waitForFunction(
      () => {
        const a = [...document.querySelectorAll('[data-testid="msg-assistant"]')].pop();
        return (
          a?.getAttribute('data-status') === 'running' && (a.querySelector('[data-testid="answer"]')?.textContent ?? '').trim().length > 0
        );
      },
      undefined,
      { timeout: 120_000 },
    );
    await p.waitForFunction(
      () => [...document.querySelectorAll('[data-testid="msg-assistant"]')].pop()?.getAttribute('data-status') === 'complete',
      undefined,
      { timeout: 120_000 },
    );
    expect(((await p.getByTestId('answer').last().textContent()) ?? '').trim().length).toBeGreaterThan(0);
    const out = Number(/tokens in \/ out\s*\d+ \/ (\d+)/.exec((await p.getByTestId('figures').textContent()) ?? '')?.[1]);
    expect(out).toBeGreaterThan(0);
  }, 300_000);
});
