#!/usr/bin/env node
// Compose healthcheck: `node healthcheck.js <url> [timeoutMs]` exits 0 on a 2xx answer, 1 otherwise.
const [url, timeoutArg] = process.argv.slice(2);
if (!url) {
  process.stderr.write('usage: healthcheck.js <url> [timeoutMs]\n');
  process.exit(2);
}
const timeoutMs = Number(timeoutArg ?? 5000) || 5000;
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  await res.body?.cancel();
  if (res.status >= 200 && res.status < 300) process.exit(0);
  process.stderr.write(`healthcheck: ${url} answered HTTP ${res.status}\n`);
  process.exit(1);
} catch (e) {
  const cause = e && typeof e === 'object' && 'cause' in e && e.cause instanceof Error ? `: ${e.cause.message}` : '';
  process.stderr.write(`healthcheck: ${url} failed: ${e instanceof Error ? e.message : String(e)}${cause}\n`);
  process.exit(1);
}
