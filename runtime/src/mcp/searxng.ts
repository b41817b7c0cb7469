import { z } from 'zod';
import { RuntimeError, describeError } from '../errors.js';

/*
 * Web search through SearXNG's JSON API (`/search?q=...&format=json`). The URL comes from the
 * model, not from the caller, so it is trusted and not put through fetch's address checks.
 */

export interface SearchResult {
  title: string;
  url: string;
  snippet: string;
  engine?: string;
}

const SearxngAnswer = z.object({
  results: z
    .array(
      z.object({
        title: z.string().optional().default(''),
        url: z.string(),
        content: z.string().optional().default(''),
        engine: z.string().optional(),
      }),
    )
    .default([]),
});

export interface SearxngOptions {
  url: string | undefined;
  timeoutMs: number;
  maxResults: number;
}

export async function searchSearxng(query: string, limit: number, opts: SearxngOptions, signal?: AbortSignal): Promise<SearchResult[]> {
  if (!opts.url) {
    throw new RuntimeError('SEARCH_UNAVAILABLE', 'web search is not configured on this server', {
      hint: 'set mcp.search.searxngUrl in platform.yaml; until then use fetch on a known URL',
    });
  }
  const u = new URL('search', opts.url.endsWith('/') ? opts.url : `${opts.url}/`);
  u.searchParams.set('q', query);
  u.searchParams.set('format', 'json');
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  let res: Response;
  try {
    res = await fetch(u, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout, headers: { accept: 'application/json' } });
  } catch (e) {
    if (timeout.aborted)
      throw new RuntimeError('SEARCH_UNAVAILABLE', `SearXNG did not answer within ${opts.timeoutMs} ms`, {
        hint: 'try again shortly, or fetch a known URL instead',
      });
    throw new RuntimeError('SEARCH_UNAVAILABLE', `SearXNG is unreachable: ${describeError(e)}`, {
      hint: 'the search engine is down; try again later, or fetch a known URL instead',
    });
  }
  if (res.status === 403) {
    throw new RuntimeError('SEARCH_UNAVAILABLE', 'SearXNG refused the JSON format (403)', {
      hint: 'enable "json" under search.formats in SearXNG settings.yml',
    });
  }
  if (!res.ok)
    throw new RuntimeError('SEARCH_UNAVAILABLE', `SearXNG answered HTTP ${res.status}`, {
      hint: 'the search engine is failing; try again later',
    });
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    throw new RuntimeError('SEARCH_UNAVAILABLE', 'SearXNG answered with something that is not JSON', {
      hint: 'check that mcp.search.searxngUrl points at SearXNG',
    });
  }
  const parsed = SearxngAnswer.safeParse(body);
  if (!parsed.success)
    throw new RuntimeError('SEARCH_UNAVAILABLE', 'SearXNG answered JSON without a results list', {
      hint: 'check that mcp.search.searxngUrl points at SearXNG',
    });
  const max = Math.min(limit, opts.maxResults);
  return parsed.data.results
    .filter((r) => /^https?:\/\//i.test(r.url))
    .slice(0, max)
    .map((r) => ({ title: r.title.trim() || r.url, url: r.url, snippet: r.content.trim(), ...(r.engine ? { engine: r.engine } : {}) }));
}
