/*
 * SearXNG protocol double: `GET /search?q=...&format=json` answers SearXNG's JSON shape
 * (`{query, number_of_results, results: [{url, title, content, engine, ...}], ...}`); any other
 * format is refused with 403, as SearXNG does when JSON is not enabled in its settings.
 *
 *   const searx = await startSearxng({ results: (q) => [{ title, url, content }] });
 *   searx.url; searx.queries; await searx.down(); searx.status = 500; searx.delayMs = 5000;
 */
import { sleep, startHttp, type HttpDouble } from './http.js';

export interface SearxngResult {
  title: string;
  url: string;
  content: string;
  engine?: string;
}

export interface SearxngDouble extends HttpDouble {
  /** Queries received, in order. */
  readonly queries: string[];
  /** Answer with this status instead of results (scripted faults). */
  status: number | undefined;
  /** Pause before answering, ms. */
  delayMs: number;
  results: (query: string) => SearxngResult[];
}

export async function startSearxng(opts: { results?: (query: string) => SearxngResult[] } = {}): Promise<SearxngDouble> {
  const queries: string[] = [];
  const state = { status: undefined as number | undefined, delayMs: 0, results: opts.results ?? (() => []) };
  const http = await startHttp(async (req, res) => {
    const u = new URL(req.url ?? '/', 'http://searxng');
    if (req.method !== 'GET' || u.pathname !== '/search') {
      res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not Found</h1>');
      return;
    }
    if (state.delayMs) await sleep(state.delayMs);
    if (state.status !== undefined) {
      res.writeHead(state.status, { 'content-type': 'text/html' }).end('<h1>error</h1>');
      return;
    }
    if (u.searchParams.get('format') !== 'json') {
      res.writeHead(403, { 'content-type': 'text/html' }).end('<h1>403 Forbidden</h1>');
      return;
    }
    const q = u.searchParams.get('q') ?? '';
    queries.push(q);
    const results = state.results(q).map((r, i) => ({
      url: r.url,
      title: r.title,
      content: r.content,
      engine: r.engine ?? 'duckduckgo',
      engines: [r.engine ?? 'duckduckgo'],
      positions: [i + 1],
      score: 1 / (i + 1),
      category: 'general',
      parsed_url: [new URL(r.url).protocol.slice(0, -1), new URL(r.url).host, new URL(r.url).pathname, '', '', ''],
    }));
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        query: q,
        number_of_results: results.length,
        results,
        answers: [],
        corrections: [],
        infoboxes: [],
        suggestions: [],
        unresponsive_engines: [],
      }),
    );
  });
  // Accessors, not copies: a test changes the double's behaviour between calls.
  return Object.defineProperties(http, {
    queries: { value: queries },
    status: { get: () => state.status, set: (v: number | undefined) => (state.status = v) },
    delayMs: { get: () => state.delayMs, set: (v: number) => (state.delayMs = v) },
    results: { get: () => state.results, set: (f: (q: string) => SearxngResult[]) => (state.results = f) },
  }) as SearxngDouble;
}
