import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Neo4jGraphStore } from '../../runtime/src/rag/stores/neo4j-graph.js';
import { SqliteGraphStore } from '../../runtime/src/rag/stores/sqlite-graph.js';
import type { GraphStore, NoteGraph } from '../../runtime/src/rag/types.js';
import { tempDir } from '../helpers.js';
import { startNeo4j, type RealNeo4j } from '../helpers/neo4j.js';

/*
 * One GraphStore contract, run against the embedded SQLite store and a REAL Neo4j 5.26 (embedded
 * server on loopback, started once for this file): every Cypher query the store has runs here.
 */

const e = (key: string, type = 'thing'): { key: string; name: string; type: string } => ({ key, name: key.toUpperCase(), type });

const A: NoteGraph = {
  notePath: 'p/a.md',
  title: 'A',
  chunkIds: ['p/a.md#0', 'p/a.md#1'],
  links: ['p/b.md'],
  entities: [e('falcon', 'project'), e('orion store', 'technology')],
  mentions: [
    { chunkId: 'p/a.md#0', entityKey: 'falcon' },
    { chunkId: 'p/a.md#1', entityKey: 'orion store' },
  ],
  relations: [{ from: 'falcon', to: 'orion store', type: 'USES', chunkId: 'p/a.md#1' }],
};
const B: NoteGraph = {
  notePath: 'p/b.md',
  title: 'B',
  chunkIds: ['p/b.md#0'],
  links: [],
  entities: [e('ada', 'person')],
  mentions: [{ chunkId: 'p/b.md#0', entityKey: 'ada' }],
  relations: [],
};
const C: NoteGraph = {
  notePath: 'q/c.md',
  title: 'C',
  chunkIds: ['q/c.md#0'],
  links: [],
  entities: [e('orion store'), e('port 7421')],
  mentions: [
    { chunkId: 'q/c.md#0', entityKey: 'orion store' },
    { chunkId: 'q/c.md#0', entityKey: 'port 7421' },
  ],
  relations: [],
};
const D: NoteGraph = {
  notePath: 'q/d.md',
  title: 'D',
  chunkIds: ['q/d.md#0'],
  links: ['q/c.md'],
  entities: [],
  mentions: [],
  relations: [],
};

const hopsOf = (hits: { chunkId: string; hops: number }[]): Record<string, number> =>
  Object.fromEntries(hits.map((h) => [h.chunkId, h.hops]));

function contract(name: string, make: () => Promise<GraphStore>, stop?: () => Promise<void>): void {
  describe(`GraphStore contract: ${name}`, () => {
    let g: GraphStore;
    beforeAll(async () => {
      g = await make();
      await g.init();
      await g.init();
      await g.reset();
    }, 240_000);
    afterAll(async () => {
      await g?.close();
      await stop?.();
    }, 60_000);

    it('stores notes whole: entities, mentions, relations and links', async () => {
      for (const n of [A, B, C, D]) await g.replaceNote(n);
      expect(await g.stats()).toEqual({ notes: 4, entities: 4, relations: 1, links: 2 });
      expect((await g.entities()).map((x) => x.key)).toEqual(['ada', 'falcon', 'orion store', 'port 7421']);
      expect((await g.entities()).find((x) => x.key === 'falcon')).toEqual({ key: 'falcon', name: 'FALCON', type: 'project' });
      expect((await g.findEntities(['orion store', 'falcon', 'nothing'], 10)).map((x) => x.key).sort()).toEqual(['falcon', 'orion store']);
      expect(await g.findEntities([], 10)).toEqual([]);
    });

    it('walks bounded neighbourhoods: mentions at 0 hops, relations and links one hop out', async () => {
      const one = hopsOf(await g.neighbourhood({ entityKeys: ['falcon'], notePaths: [] }, 1, 50));
      // a#0 mentions falcon; a#1 (same note) and b#0 (linked from a) and the orion store chunks one hop out.
      expect(one).toEqual({ 'p/a.md#0': 0, 'p/a.md#1': 1, 'q/c.md#0': 1, 'p/b.md#0': 1 });
      const two = hopsOf(await g.neighbourhood({ entityKeys: ['falcon'], notePaths: [] }, 2, 50));
      // d links to c: two hops from falcon.
      expect(two['q/d.md#0']).toBe(2);
      const fromNote = hopsOf(await g.neighbourhood({ entityKeys: [], notePaths: ['q/d.md'] }, 1, 50));
      expect(fromNote).toEqual({ 'q/d.md#0': 0, 'q/c.md#0': 1 });
      const capped = await g.neighbourhood({ entityKeys: ['falcon'], notePaths: [] }, 2, 2);
      expect(capped).toHaveLength(2);
      const via = (await g.neighbourhood({ entityKeys: ['falcon'], notePaths: [] }, 1, 50)).find((h) => h.chunkId === 'q/c.md#0')!.via;
      expect(via).toContain('entity:falcon');
    });

    it('replaces a note, drops orphan entities, re-links and deletes', async () => {
      await g.replaceNote({
        ...A,
        entities: [e('falcon', 'project')],
        mentions: [{ chunkId: 'p/a.md#0', entityKey: 'falcon' }],
        relations: [],
      });
      expect(await g.stats()).toMatchObject({ relations: 0, entities: 4 });
      await g.replaceNote({ ...C, entities: [e('orion store')], mentions: [{ chunkId: 'q/c.md#0', entityKey: 'orion store' }] });
      expect((await g.entities()).map((x) => x.key)).toEqual(['ada', 'falcon', 'orion store']);
      await g.setLinks('p/a.md', []);
      expect(hopsOf(await g.neighbourhood({ entityKeys: [], notePaths: ['p/a.md'] }, 1, 50))).toEqual({ 'p/a.md#0': 0, 'p/a.md#1': 0 });
      await g.setLinks('p/a.md', ['p/b.md']);
      await g.deleteNotes(['p/b.md']);
      expect(await g.stats()).toMatchObject({ notes: 3, entities: 2 });
      expect(Object.keys(hopsOf(await g.neighbourhood({ entityKeys: [], notePaths: ['p/a.md'] }, 1, 50)))).not.toContain('p/b.md#0');
      expect(await g.findEntities(['ada'], 5)).toEqual([]);
      await g.reset();
      expect(await g.stats()).toEqual({ notes: 0, entities: 0, relations: 0, links: 0 });
    });
  });
}

contract('embedded (SQLite tables)', async () => new SqliteGraphStore(join(tempDir('rag-graph-'), 'g.sqlite')));

let neo: RealNeo4j | undefined;
contract(
  'Neo4j 5.26 (real server)',
  async () => {
    neo = await startNeo4j();
    return new Neo4jGraphStore({ url: neo.boltUrl });
  },
  async () => {
    await neo?.stop();
  },
);
