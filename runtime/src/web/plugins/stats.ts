import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { WebDeps } from '../app.js';
import { parse } from '../http.js';

/*
 * Tokens, requests, errors and time to first token by model and by day, from the usage store
 * (one row per provider call, written by the router).
 */
export const statsPlugin: FastifyPluginAsync<WebDeps> = async (app, deps) => {
  app.get('/api/stats', async (req) => {
    const q = parse(z.strictObject({ days: z.coerce.number().int().min(1).max(366).default(30) }), req.query, 'query');
    const since = new Date(Date.now() - q.days * 86_400_000).toISOString();
    const range = { since };
    const byModelDay = deps.usage.db
      .prepare(
        `SELECT substr(time, 1, 10) AS day, provider, model, COUNT(*) AS requests,
                COALESCE(SUM(input_tokens), 0) AS inputTokens, COALESCE(SUM(output_tokens), 0) AS outputTokens,
                COALESCE(SUM(CASE WHEN outcome IN ('ok', 'aborted') THEN 0 ELSE 1 END), 0) AS errors,
                AVG(ttft_ms) AS avgTtftMs
         FROM provider_calls WHERE time >= ? GROUP BY day, provider, model ORDER BY day, provider, model`,
      )
      .all(since);
    return {
      since,
      days: q.days,
      totals: deps.usage.totals(range),
      byModel: deps.usage.totalsByModel(range),
      byDay: deps.usage.totalsByDay(range),
      byModelDay,
    };
  });
};
