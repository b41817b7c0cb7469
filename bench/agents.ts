/*
 * Agents benchmark: `npx tsx bench/agents.ts`. Prints figures, asserts nothing.
 *
 *   a. the research line diff: two answers of N lines, one line in ten changed, p50 of 20 runs
 *      (the LCS is quadratic in the changed middle; past 4M cells it reports the middle replaced)
 *   b. one memory run without the model's time: 10,000 chat messages in chat.db (200 read),
 *      40 job outputs, 20 notes written, 100 facts into the embedded SQLite graph
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderChanges } from '../runtime/src/agents/line-diff.js';
import { MemoryAgent } from '../runtime/src/agents/memory.js';
import { SqliteGraphStore } from '../runtime/src/rag/stores/sqlite-graph.js';
import { ChatStore } from '../runtime/src/web/chat-store.js';
import { tempDir } from '../tests/helpers.js';

function p50(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function answer(lines: number, variant: number): string {
  return Array.from({ length: lines }, (_, i) =>
    i % 10 === 0 && variant ? `line ${i} changed in run ${variant}` : `line ${i} of the answer`,
  ).join('\n');
}

console.log('a. research line diff (one line in ten changed)');
for (const n of [100, 1000, 2000, 5000]) {
  const a = answer(n, 0);
  const b = answer(n, 1);
  const times: number[] = [];
  let size = 0;
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    size = renderChanges(a, b)?.length ?? 0;
    times.push(performance.now() - t);
  }
  console.log(`   ${String(n).padStart(5)} lines: p50 ${p50(times).toFixed(2)} ms, diff ${size} chars`);
}

console.log('b. one memory run, model time excluded');
const root = tempDir('bench-agents-');
const vault = join(root, 'vault');
const data = join(root, 'data');
await mkdir(join(vault, 'runner-outputs'), { recursive: true });
await mkdir(data, { recursive: true });
const chats = new ChatStore(data);
for (let s = 0; s < 100; s++) {
  const session = chats.createSession({ title: `chat ${s}`, model: 'm' });
  let parent: string | null = null;
  for (let m = 0; m < 100; m++)
    parent = chats.addMessage({
      sessionId: session.id,
      parentId: parent,
      role: m % 2 ? 'assistant' : 'user',
      content: `message ${m} `.repeat(30),
    }).id;
}
chats.close();
for (let i = 0; i < 40; i++)
  await writeFile(join(vault, 'runner-outputs', `out-${i}.md`), `---\ntype: text\n---\n\n${'output text '.repeat(400)}\n`);
const reply = JSON.stringify({
  notes: Array.from({ length: 20 }, (_, i) => ({ title: `Note ${i}`, body: 'A durable fact. '.repeat(100) })),
  facts: Array.from({ length: 100 }, (_, i) => ({ subject: `Entity ${i}`, relation: 'RELATES_TO', object: `Entity ${i + 1}` })),
});
const times: number[] = [];
for (let run = 0; run < 5; run++) {
  const agent = new MemoryAgent({
    vaultPath: vault,
    outputsFolder: 'runner-outputs',
    chatDb: join(data, 'chat.db'),
    openGraph: async () => SqliteGraphStore.inDataDir(data),
    fuzzyThreshold: 0.5,
  });
  const t = performance.now();
  await agent.run({ jobId: `bench-${run}`, since: 0, folder: 'memory', instructions: '' }, async () => ({
    answer: reply,
    tokensIn: 0,
    tokensOut: 0,
  }));
  times.push(performance.now() - t);
}
console.log(`   p50 ${p50(times).toFixed(1)} ms per run (first ${times[0]!.toFixed(1)} ms: notes created; later: notes unchanged)`);
await rm(root, { recursive: true, force: true });
