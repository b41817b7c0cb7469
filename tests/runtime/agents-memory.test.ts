import { lstat, mkdir, readFile, readdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { workerAgents } from '../../runtime/src/agents/services.js';
import { parseMemoryAnswer } from '../../runtime/src/agents/memory.js';
import { loadConfig, type RuntimeConfig } from '../../runtime/src/config/index.js';
import { memoryLogger } from '../../runtime/src/log.js';
import { SqliteGraphStore } from '../../runtime/src/rag/stores/sqlite-graph.js';
import { Router } from '../../runtime/src/router/index.js';
import { ChatStore } from '../../runtime/src/web/chat-store.js';
import { createWorker, type Worker } from '../../runtime/src/worker/index.js';
import { openWorkerParts } from '../../runtime/src/worker/parts.js';
import type { JobOutcome } from '../../runtime/src/jobs/process.js';
import { writeTestConfig } from '../doubles/config.js';
import { startOllama, type OllamaDouble } from '../doubles/ollama.js';
import { frontmatterOf, makeVault, waitFor, type TempVault } from './helpers/vault.js';

/*
 * The memory agent through the worker: a memory job reads the web's chat store and the recent
 * job outputs, asks the model (the Ollama double, scripted to answer JSON), writes notes into its
 * folder and facts into the embedded SQLite graph. It never deletes a note and never rewrites
 * one it did not write, or one the operator edited since.
 */

let v: TempVault | undefined;
let ollama: OllamaDouble | undefined;
let worker: Worker | undefined;

afterEach(async () => {
  await worker?.stop();
  await ollama?.close();
  await v?.cleanup();
  worker = ollama = v = undefined;
});

async function setup(edit?: (c: RuntimeConfig) => RuntimeConfig, env: Record<string, string> = {}) {
  v = await makeVault();
  ollama = await startOllama();
  const written = await writeTestConfig({
    root: v.root,
    vault: v.vault,
    dataDir: v.dataDir,
    ollamaUrl: ollama.url,
    worker: { mtimeGuardMs: 50, rescanMs: 100 },
  });
  const base = loadConfig({ ...written.env, ...env });
  // The embedded graph (SQLite in DATA_DIR): retrieval as a laptop runs it.
  const embedded: RuntimeConfig = {
    ...base,
    retrieval: { ...base.retrieval, stores: { ...base.retrieval.stores, graph: 'embedded', vector: 'embedded' } },
  };
  const config = edit ? edit(embedded) : embedded;
  const log = memoryLogger();
  const router = new Router({ config, log });
  const outcomes: JobOutcome[] = [];
  const parts = await openWorkerParts(config, { log });
  worker = createWorker({
    config,
    router,
    ...parts,
    log,
    agents: workerAgents(config, router, {}, parts.ledger),
    onOutcome: (o) => outcomes.push(o),
  });
  await worker.start();
  return { config, outcomes, vault: v, ollama };
}

function memoryJob(id: string, sinceIso: string, extra = ''): string {
  return `---\nid: ${id}\ntype: memory\nmodel: qwen2.5:14b\noutput: memory\nsince: "${sinceIso}"\n---\n${extra}\n`;
}

async function runJob(outcomes: JobOutcome[], name: string, content: string): Promise<JobOutcome> {
  const before = outcomes.length;
  await v!.drop(name, content);
  await waitFor(() => outcomes.length > before, `job ${name}`, 20_000);
  return outcomes[before]!;
}

async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1)))
    out.set(e.name, e.isFile() ? await readFile(join(dir, e.name), 'utf8') : e.isDirectory() ? '(folder)' : '(link)');
  return out;
}

describe('the memory agent', () => {
  it('consolidates chats and outputs into notes and graph facts, and never deletes or rewrites the operator’s notes', async () => {
    const { outcomes, vault, ollama } = await setup();
    const now = Date.now();
    const since = new Date(now - 3600_000).toISOString();
    // The web's chat store: one chat in the window, one before it.
    const old = new ChatStore(v!.dataDir, { now: () => new Date(now - 3 * 86_400_000) });
    const s0 = old.createSession({ title: 'Old chat', model: 'qwen2.5:14b' });
    old.addMessage({ sessionId: s0.id, parentId: null, role: 'user', content: 'ANCIENT-CHAT about nothing' });
    old.close();
    const chats = new ChatStore(v!.dataDir);
    const s1 = chats.createSession({ title: 'Tax planning', model: 'qwen2.5:14b' });
    const q = chats.addMessage({ sessionId: s1.id, parentId: null, role: 'user', content: 'When is the TAX-DEADLINE this year?' });
    chats.addMessage({ sessionId: s1.id, parentId: q.id, role: 'assistant', content: 'The 31st of January.' });
    chats.close();
    // Job outputs: one in the window, one older.
    await writeFile(join(vault.dir('outputs'), 'recent.md'), '---\ntype: text\n---\n\nPROJECT-X moved to Neo4j.\n');
    await writeFile(join(vault.dir('outputs'), 'stale.md'), '---\ntype: text\n---\n\nSTALE-OUTPUT\n');
    const longAgo = new Date(now - 2 * 86_400_000);
    await utimes(join(vault.dir('outputs'), 'stale.md'), longAgo, longAgo);

    const answer1 = {
      notes: [
        { title: 'Project X', body: 'Project X stores its graph in Neo4j.', tags: ['project'] },
        { title: 'Tax deadline', body: 'Self-assessment is due on 31 January.' },
      ],
      facts: [
        { subject: 'Project X', subject_type: 'project', relation: 'USES', object: 'Neo4j', object_type: 'technology' },
        { subject: 'Operator', subject_type: 'person', relation: 'WORKS_ON', object: 'Project X', object_type: 'project' },
      ],
    };
    ollama.respond = () => ({ chunks: ['```json\n', JSON.stringify(answer1), '\n```'] });
    const first = await runJob(outcomes, 'memory-1.md', memoryJob('mem-1', since));
    expect(first.status, first.error?.message).toBe('completed');
    // The model saw the chat and the output in the window, not those before it.
    const sent = JSON.stringify(ollama.chats.at(-1));
    expect(sent).toContain('TAX-DEADLINE');
    expect(sent).toContain('The 31st of January.');
    expect(sent).toContain('PROJECT-X moved to Neo4j.');
    expect(sent).not.toContain('ANCIENT-CHAT');
    expect(sent).not.toContain('STALE-OUTPUT');
    const memDir = join(vault.vault, 'memory');
    expect((await readdir(memDir)).sort()).toEqual(['project-x.md', 'tax-deadline.md']);
    const px = frontmatterOf(await readFile(join(memDir, 'project-x.md'), 'utf8'));
    expect(px.data).toMatchObject({ title: 'Project X', memory_agent: true, job_id: 'mem-1', tags: ['project'] });
    expect(px.content).toBe('# Project X\n\nProject X stores its graph in Neo4j.\n');

    // The facts are in the graph, joined to entities by name.
    const graph = SqliteGraphStore.inDataDir(v!.dataDir);
    await graph.init();
    expect(await graph.stats()).toMatchObject({ relations: 2 });
    expect((await graph.entities()).map((e) => e.name).sort()).toEqual(['Neo4j', 'Operator', 'Project X']);
    const hits = await graph.neighbourhood({ entityKeys: ['neo4j'], notePaths: [] }, 1, 10);
    expect(hits.map((h) => h.chunkId)).toContain('memory:mem-1#facts');
    await graph.close();

    // The operator edits one of the agent's notes, and writes notes of their own in its folder.
    const editedTax = (await readFile(join(memDir, 'tax-deadline.md'), 'utf8')).replace('31 January', '31 January (paid early!)');
    await writeFile(join(memDir, 'tax-deadline.md'), editedTax);
    await writeFile(join(memDir, 'garden.md'), '# Garden\n\nMy own note: plant garlic in October.\n');
    await writeFile(join(memDir, 'unrelated.md'), 'a note the agent is never told about\n');
    // A link planted in the folder, pointing out of the vault: never written through.
    await writeFile(join(v!.root, 'target.md'), 'outside the vault\n');
    await symlink(join(v!.root, 'target.md'), join(memDir, 'evil.md'));
    await mkdir(join(memDir, 'sub'));
    await writeFile(join(memDir, 'sub', 'deep.md'), 'deeper\n');
    const before = await snapshot(memDir);

    // Run two: an update of its own note, attempts at the edited note and the operator's note,
    // one new note, and a title that tries to leave the folder.
    const answer2 = {
      notes: [
        { title: 'Project X', body: 'Project X stores its graph in Neo4j 5.26.' },
        { title: 'Tax deadline', body: 'REWRITTEN by the agent.' },
        { title: 'Garden', body: 'REWRITTEN by the agent.' },
        { title: '../../outside', body: 'Where does this land?' },
        { title: 'Evil', body: 'through the link' },
      ],
      facts: [],
    };
    await writeFile(join(vault.dir('outputs'), 'recent-2.md'), '---\ntype: text\n---\n\nNeo4j 5.26 is pinned.\n');
    ollama.respond = () => ({ chunks: [JSON.stringify(answer2)] });
    const second = await runJob(outcomes, 'memory-2.md', memoryJob('mem-2', since));
    expect(second.status, second.error?.message).toBe('completed');
    // What the agent wrote before (and the operator has not touched) was shown to the model.
    const sent2 = JSON.stringify(ollama.chats.at(-1));
    expect(sent2).toContain('### Project X');
    expect(sent2).not.toContain('plant garlic');
    expect(sent2).not.toContain('paid early');

    const after = await snapshot(memDir);
    // Nothing deleted: every name there before is there after.
    for (const name of before.keys()) expect(after.has(name), name).toBe(true);
    // The operator's note, the edited note, and the notes never mentioned: byte for byte.
    for (const name of ['garden.md', 'tax-deadline.md', 'unrelated.md']) expect(after.get(name), name).toBe(before.get(name));
    expect(await readFile(join(memDir, 'sub', 'deep.md'), 'utf8')).toBe('deeper\n');
    expect(await readFile(join(v!.root, 'target.md'), 'utf8')).toBe('outside the vault\n');
    expect((await lstat(join(memDir, 'evil.md'))).isSymbolicLink()).toBe(true);
    // Its own note updated; the escaping title slugged into the folder.
    expect(frontmatterOf(after.get('project-x.md')!).content).toBe('# Project X\n\nProject X stores its graph in Neo4j 5.26.\n');
    expect(frontmatterOf(after.get('project-x.md')!).data).toMatchObject({ memory_agent: true, job_id: 'mem-2' });
    expect(frontmatterOf(after.get('outside.md')!).content).toContain('Where does this land?');
    expect((await readdir(vault.vault)).filter((n) => n === 'outside.md')).toEqual([]);
    // The report says what it did and what it left alone.
    const report = await readFile(join(vault.vault, second.output!), 'utf8');
    expect(report).toContain('## Notes created (1)\n\n- [[memory/outside]]');
    expect(report).toContain('## Notes updated (1)\n\n- [[memory/project-x]]');
    expect(report).toContain('- memory/tax-deadline.md: edited since the memory agent wrote it');
    expect(report).toContain('- memory/garden.md: a note the memory agent did not write');
    expect(report).toContain('- memory/evil.md: memory/evil.md is not a plain note (symlink)');
  });

  it('refuses a malformed answer: the job fails into the failed folder with the reason, nothing written', async () => {
    const { outcomes, vault, ollama } = await setup();
    await writeFile(join(vault.dir('outputs'), 'recent.md'), '---\ntype: text\n---\n\nsomething happened\n');
    ollama.respond = () => ({
      chunks: [JSON.stringify({ notes: [{ title: 'x', body: 'y' }], facts: [{ subject: 'a', relation: 'not upper', object: 'b' }] })],
    });
    const o = await runJob(outcomes, 'memory-bad.md', memoryJob('mem-bad', new Date(Date.now() - 3600_000).toISOString()));
    expect(o.status).toBe('failed');
    expect(o.error?.code).toBe('AGENT_OUTPUT_INVALID');
    expect(o.error?.message).toContain('facts.0.relation: an UPPER_SNAKE verb');
    const failed = await vault.read('failed', (await vault.list('failed'))[0]!);
    expect(failed).toContain('## Failed');
    expect(failed).toContain('`AGENT_OUTPUT_INVALID`');
    expect(await readdir(join(vault.vault, 'memory'))).toEqual([]);
    const graph = SqliteGraphStore.inDataDir(v!.dataDir);
    await graph.init();
    expect(await graph.stats()).toMatchObject({ entities: 0, relations: 0 });
    await graph.close();
  });

  it('also reads the outputs jobs wrote to folders of their own (a briefing, a research answer)', async () => {
    const { outcomes, ollama } = await setup();
    const since = new Date(Date.now() - 60_000).toISOString();
    ollama.chat.enqueue({ chunks: ['BRIEFING-IN-ITS-FOLDER'] });
    const b = await runJob(outcomes, 'brief.md', '---\noutput: briefings\n---\nbrief me\n');
    expect(b.output).toMatch(/^briefings\//);
    ollama.respond = () => ({ chunks: [JSON.stringify({ notes: [], facts: [] })] });
    const m = await runJob(outcomes, 'mem.md', memoryJob('mem-folders', since));
    expect(m.status, m.error?.message).toBe('completed');
    const sent = JSON.stringify(ollama.chats.at(-1));
    expect(sent).toContain(`### Job output: ${b.output}`);
    expect(sent).toContain('BRIEFING-IN-ITS-FOLDER');
  });

  it('with nothing new since its last run, calls no model', async () => {
    const { outcomes, vault, ollama } = await setup();
    const o = await runJob(outcomes, 'memory-idle.md', memoryJob('mem-idle', new Date(Date.now() - 60_000).toISOString()));
    expect(o.status, o.error?.message).toBe('completed');
    expect(o.tokensIn).toBe(0);
    expect(ollama.chats).toHaveLength(0);
    expect(await readFile(join(vault.vault, o.output!), 'utf8')).toContain('no model was called');
  });

  it('fails with the store’s clear error when the model names Neo4j without its password', async () => {
    const { outcomes, vault, ollama } = await setup((c) => ({
      ...c,
      retrieval: { ...c.retrieval, stores: { ...c.retrieval.stores, graph: 'neo4j' } },
    }));
    await writeFile(join(vault.dir('outputs'), 'recent.md'), '---\ntype: text\n---\n\nsomething\n');
    const o = await runJob(outcomes, 'memory-neo.md', memoryJob('mem-neo', new Date(Date.now() - 3600_000).toISOString()));
    expect(o.status).toBe('failed');
    expect(o.error?.code).toBe('CONFIG_INVALID');
    expect(o.error?.message).toContain('NEO4J_PASSWORD is not set');
    expect(ollama.chats).toHaveLength(0);
  });

  it('a memory job without an output folder is invalid', async () => {
    const { outcomes } = await setup();
    const o = await runJob(outcomes, 'memory-nofolder.md', '---\ntype: memory\n---\n');
    expect(o.status).toBe('failed');
    expect(o.error?.code).toBe('JOB_INVALID');
    expect(o.error?.message).toContain('a memory job needs `output`');
  });
});

describe('a worker without retrieval', () => {
  it('fails memory and reindex jobs with RAG_UNAVAILABLE, never silently', async () => {
    v = await makeVault();
    ollama = await startOllama();
    const written = await writeTestConfig({
      root: v.root,
      vault: v.vault,
      dataDir: v.dataDir,
      ollamaUrl: ollama.url,
      worker: { mtimeGuardMs: 50, rescanMs: 100 },
    });
    const config = loadConfig(written.env);
    const log = memoryLogger();
    const outcomes: JobOutcome[] = [];
    worker = createWorker({
      config,
      router: new Router({ config, log }),
      ...(await openWorkerParts(config, { log })),
      log,
      onOutcome: (o) => outcomes.push(o),
    });
    await worker.start();
    const m = await runJob(outcomes, 'm.md', '---\ntype: memory\noutput: memory\n---\n');
    expect(m.status).toBe('failed');
    expect(m.error?.code).toBe('RAG_UNAVAILABLE');
    const r = await runJob(outcomes, 'r.md', '---\ntype: reindex\n---\n');
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('RAG_UNAVAILABLE');
    expect(await v.list('failed')).toHaveLength(2);
  });
});

describe('parseMemoryAnswer', () => {
  it('takes one bounded JSON object, from prose or a fence, and nothing else', () => {
    expect(parseMemoryAnswer('Here you go: {"notes":[],"facts":[]} done').notes).toEqual([]);
    const bad = (s: string): string => {
      try {
        parseMemoryAnswer(s);
      } catch (e) {
        return (e as Error).message;
      }
      return 'accepted';
    };
    expect(bad('no json here')).toContain('holds no JSON object');
    expect(bad('{"notes": [}')).toContain('not JSON');
    expect(bad(JSON.stringify({ notes: Array.from({ length: 21 }, (_, i) => ({ title: `n${i}`, body: 'b' })) }))).toContain('notes');
    expect(bad(JSON.stringify({ notes: [{ title: 'a', body: 'x'.repeat(8001) }] }))).toContain('notes.0.body');
    expect(bad(JSON.stringify({ notes: [], extra: 1 }))).toContain('extra');
    expect(
      bad(
        JSON.stringify({
          notes: [
            { title: 'Same', body: 'a' },
            { title: 'same!', body: 'b' },
          ],
        }),
      ),
    ).toContain('two notes have the file name "same.md"');
  });
});

describe('a job’s output folder', () => {
  it('is refused before any model call when it is a runtime folder, outside the vault, or reached through a link', async () => {
    const { outcomes, vault, ollama } = await setup();
    await symlink(v!.root, join(vault.vault, 'linked'));
    const cases: [string, string, string][] = [
      ['q.md', '---\ntype: memory\noutput: _queue\n---\n', 'is the runtime\'s "_queue" folder'],
      ['f.md', '---\noutput: _failed/answers\n---\nhello\n', 'is the runtime\'s "_failed" folder'],
      ['s.md', '---\noutput: skills\n---\nhello\n', 'is the runtime\'s "skills" folder'],
      ['up.md', '---\noutput: ../outside\n---\nhello\n', 'output: a vault-relative folder'],
      ['l.md', '---\noutput: linked/answers\n---\nhello\n', 'is reached through a symbolic link (linked)'],
    ];
    for (const [name, content, why] of cases) {
      const o = await runJob(outcomes, name, content);
      expect(o.status, name).toBe('failed');
      expect(o.error?.code, name).toBe('JOB_INVALID');
      expect(o.error?.message, name).toContain(why);
    }
    expect(ollama.chats).toHaveLength(0);
    expect(await readdir(v!.root)).not.toContain('answers');
    // A plain folder is made on first use.
    const ok = await runJob(outcomes, 'ok.md', '---\noutput: answers/2026\n---\nhello\n');
    expect(ok.status, ok.error?.message).toBe('completed');
    expect(ok.output).toMatch(/^answers\/2026\/\d{4}-\d\d-\d\d-\d{6}-ok\.md$/);
  });
});

describe('a previous answer to compare with', () => {
  it('is read only from inside the vault, never through a link, and a missing one is said so', async () => {
    const { outcomes, vault, ollama } = await setup();
    await mkdir(join(v!.root, 'secret'));
    await writeFile(join(v!.root, 'secret', 'old.md'), 'SECRET-OUTSIDE-THE-VAULT\n');
    await symlink(join(v!.root, 'secret'), join(vault.vault, 'linked'));
    ollama.chat.fallback = { chunks: ['new answer'] };
    const linked = await runJob(outcomes, 'linked.md', '---\nprevious_output: linked/old.md\n---\nq\n');
    const linkedOut = await readFile(join(vault.vault, linked.output!), 'utf8');
    expect(linkedOut).toContain('is reached through a link out of the vault; it was not read.');
    expect(linkedOut).not.toContain('SECRET');
    const missing = await runJob(outcomes, 'missing.md', '---\nprevious_output: research/gone.md\n---\nq\n');
    expect(missing.status).toBe('completed');
    expect(await readFile(join(vault.vault, missing.output!), 'utf8')).toContain(
      'The previous answer (research/gone.md) could not be read',
    );
    await mkdir(join(vault.vault, 'research'));
    await writeFile(join(vault.vault, 'research', 'same.md'), '---\njob_id: x\n---\n\nnew answer\n');
    const same = await runJob(outcomes, 'same.md', '---\nprevious_output: research/same.md\n---\nq\n');
    expect(await readFile(join(vault.vault, same.output!), 'utf8')).toContain(
      'new answer\n\n## Changes since the previous answer\n\nNo change.\n',
    );
  });
});
