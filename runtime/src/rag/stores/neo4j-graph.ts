import neo4j, { type Driver, type ManagedTransaction } from 'neo4j-driver';
import { RuntimeError, describeError } from '../../errors.js';
import type { Entity, GraphHit, GraphStore, NoteGraph } from '../types.js';

/*
 * The Neo4j GraphStore: (:Note)-[:HAS_CHUNK]->(:Chunk)-[:MENTIONS]->(:Entity), entity relations
 * as [:RELATES {type, chunkId, note}], wiki links as (:Note)-[:LINKS_TO]->(:Note). Uniqueness
 * constraints on note path, chunk id and entity key; a full-text index on entity names and keys.
 * A note is replaced in one write transaction. Neighbourhoods are walked one bounded step at a
 * time, every query with an explicit LIMIT, so a hub entity cannot blow up a request.
 */

export interface Neo4jGraphStoreProps {
  readonly url: string;
  readonly user?: string;
  readonly password?: string;
  readonly database?: string;
}

const lim = (n: number): ReturnType<typeof neo4j.int> => neo4j.int(Math.max(1, Math.floor(n)));

export class Neo4jGraphStore implements GraphStore {
  readonly kind = 'neo4j';
  private readonly driver: Driver;
  private readonly database: string | undefined;

  constructor(props: Neo4jGraphStoreProps) {
    this.driver = neo4j.driver(
      props.url,
      props.password !== undefined ? neo4j.auth.basic(props.user ?? 'neo4j', props.password) : undefined,
      {
        connectionTimeout: 10_000,
        maxTransactionRetryTime: 15_000,
      },
    );
    this.database = props.database;
  }

  private async q<T = Record<string, unknown>>(cypher: string, params: Record<string, unknown> = {}): Promise<T[]> {
    try {
      const res = await this.driver.executeQuery(cypher, params, this.database ? { database: this.database } : {});
      return res.records.map((r) => r.toObject() as T);
    } catch (e) {
      throw new RuntimeError('RAG_STORE_ERROR', `Neo4j: ${describeError(e)}`, {
        cause: e,
        hint: 'check services.neo4j and the NEO4J password secret',
      });
    }
  }

  private async write(fn: (tx: ManagedTransaction) => Promise<void>): Promise<void> {
    const session = this.driver.session(this.database ? { database: this.database } : {});
    try {
      await session.executeWrite(fn);
    } catch (e) {
      throw new RuntimeError('RAG_STORE_ERROR', `Neo4j: ${describeError(e)}`, { cause: e });
    } finally {
      await session.close();
    }
  }

  async init(): Promise<void> {
    await this.q('CREATE CONSTRAINT rag_note_path IF NOT EXISTS FOR (n:Note) REQUIRE n.path IS UNIQUE');
    await this.q('CREATE CONSTRAINT rag_chunk_id IF NOT EXISTS FOR (c:Chunk) REQUIRE c.id IS UNIQUE');
    await this.q('CREATE CONSTRAINT rag_entity_key IF NOT EXISTS FOR (e:Entity) REQUIRE e.key IS UNIQUE');
    await this.q('CREATE FULLTEXT INDEX rag_entity_names IF NOT EXISTS FOR (e:Entity) ON EACH [e.name, e.key]');
  }

  private static async clearNote(tx: ManagedTransaction, path: string): Promise<void> {
    await tx.run('MATCH (n:Note {path: $path})-[:HAS_CHUNK]->(c:Chunk) DETACH DELETE c', { path });
    await tx.run('MATCH (:Note {path: $path})-[l:LINKS_TO]->() DELETE l', { path });
    await tx.run('MATCH ()-[r:RELATES {note: $path}]->() DELETE r', { path });
  }

  private static async dropOrphans(tx: ManagedTransaction): Promise<void> {
    await tx.run('MATCH (e:Entity) WHERE NOT (e)<-[:MENTIONS]-() AND NOT (e)-[:RELATES]-() DETACH DELETE e');
    // A link target that is not (or no longer) an indexed note stays only while something links to it.
    await tx.run('MATCH (n:Note) WHERE n.indexed IS NULL AND NOT ()-[:LINKS_TO]->(n) DETACH DELETE n');
  }

  async replaceNote(g: NoteGraph): Promise<void> {
    await this.write(async (tx) => {
      await Neo4jGraphStore.clearNote(tx, g.notePath);
      await tx.run('MERGE (n:Note {path: $path}) SET n.title = $title, n.indexed = true', { path: g.notePath, title: g.title });
      await tx.run('MATCH (n:Note {path: $path}) UNWIND $ids AS id CREATE (n)-[:HAS_CHUNK]->(:Chunk {id: id})', {
        path: g.notePath,
        ids: [...g.chunkIds],
      });
      await tx.run('UNWIND $es AS e MERGE (x:Entity {key: e.key}) ON CREATE SET x.name = e.name, x.type = e.type', {
        es: g.entities.map((e) => ({ key: e.key, name: e.name, type: e.type })),
      });
      await tx.run('UNWIND $ms AS m MATCH (c:Chunk {id: m.chunkId}), (e:Entity {key: m.entityKey}) MERGE (c)-[:MENTIONS]->(e)', {
        ms: g.mentions.map((m) => ({ chunkId: m.chunkId, entityKey: m.entityKey })),
      });
      await tx.run(
        'UNWIND $rs AS r MATCH (a:Entity {key: r.from}), (b:Entity {key: r.to}) MERGE (a)-[:RELATES {type: r.type, chunkId: r.chunkId, note: $path}]->(b)',
        { rs: g.relations.map((r) => ({ from: r.from, to: r.to, type: r.type, chunkId: r.chunkId })), path: g.notePath },
      );
      await tx.run('MATCH (n:Note {path: $path}) UNWIND $links AS l MERGE (t:Note {path: l}) MERGE (n)-[:LINKS_TO]->(t)', {
        path: g.notePath,
        links: g.links.filter((l) => l !== g.notePath),
      });
      await Neo4jGraphStore.dropOrphans(tx);
    });
  }

  async setLinks(notePath: string, links: readonly string[]): Promise<void> {
    await this.write(async (tx) => {
      await tx.run('MATCH (:Note {path: $path})-[l:LINKS_TO]->() DELETE l', { path: notePath });
      await tx.run('MATCH (n:Note {path: $path}) UNWIND $links AS l MERGE (t:Note {path: l}) MERGE (n)-[:LINKS_TO]->(t)', {
        path: notePath,
        links: links.filter((l) => l !== notePath),
      });
    });
  }

  async deleteNotes(notePaths: readonly string[]): Promise<void> {
    if (!notePaths.length) return;
    await this.write(async (tx) => {
      for (const p of notePaths) {
        await Neo4jGraphStore.clearNote(tx, p);
        // Links from other notes to this one stay (as the embedded store keeps them) until those
        // notes are re-linked; the node becomes a bare link target.
        await tx.run('MATCH (n:Note {path: $path}) REMOVE n.indexed, n.title', { path: p });
      }
      await Neo4jGraphStore.dropOrphans(tx);
    });
  }

  async reset(): Promise<void> {
    // In batches: one transaction over a large graph would hold all of it in memory.
    for (;;) {
      const [r] = await this.q<{ n: unknown }>(
        'MATCH (x) WHERE x:Note OR x:Chunk OR x:Entity WITH x LIMIT 5000 DETACH DELETE x RETURN count(*) AS n',
      );
      if (!r || Number(r.n) === 0 || (neo4j.isInt(r.n) && (r.n as { toNumber(): number }).toNumber() === 0)) break;
    }
  }

  async entities(): Promise<Entity[]> {
    return this.q<Entity>('MATCH (e:Entity) RETURN e.key AS key, e.name AS name, e.type AS type ORDER BY key LIMIT 1000000');
  }

  async findEntities(terms: readonly string[], limit: number): Promise<Entity[]> {
    const ts = [...new Set(terms.filter(Boolean))].slice(0, 64);
    if (!ts.length) return [];
    return this.q<Entity>(
      'MATCH (e:Entity) WHERE e.key IN $terms RETURN e.key AS key, e.name AS name, e.type AS type ORDER BY size(e.key) DESC, key LIMIT $limit',
      { terms: ts, limit: lim(limit) },
    );
  }

  /** Names that look like the text, through the full-text index (fuzzy, for people typing). */
  async searchEntityNames(text: string, limit: number): Promise<Entity[]> {
    const escaped = text.replace(/[+\-&|!(){}[\]^"~*?:\\/]/g, ' ').trim();
    if (!escaped) return [];
    return this.q<Entity>(
      "CALL db.index.fulltext.queryNodes('rag_entity_names', $q) YIELD node, score RETURN node.key AS key, node.name AS name, node.type AS type ORDER BY score DESC LIMIT $limit",
      { q: escaped, limit: lim(limit) },
    );
  }

  async neighbourhood(
    seeds: { entityKeys: readonly string[]; notePaths: readonly string[] },
    maxHops: 1 | 2,
    limit: number,
  ): Promise<GraphHit[]> {
    const hits = new Map<string, GraphHit>();
    const add = (chunkId: string, hops: number, via: string): void => {
      if (!hits.has(chunkId) && hits.size < limit) hits.set(chunkId, { chunkId, hops, via });
    };
    let entityFrontier = new Map<string, string>(seeds.entityKeys.map((k) => [k, `entity:${k}`]));
    let noteFrontier = new Map<string, string>(seeds.notePaths.map((p) => [p, `note:${p}`]));
    const seenEntities = new Set(entityFrontier.keys());
    const seenNotes = new Set(noteFrontier.keys());
    for (let hop = 0; hop <= maxHops && hits.size < limit; hop++) {
      const nextEntities = new Map<string, string>();
      const nextNotes = new Map<string, string>();
      const mentionNotes = new Map<string, string>();
      const keys = [...entityFrontier.keys()];
      if (keys.length) {
        const ms = await this.q<{ key: string; id: string; path: string }>(
          'MATCH (e:Entity)<-[:MENTIONS]-(c:Chunk)<-[:HAS_CHUNK]-(n:Note) WHERE e.key IN $keys RETURN e.key AS key, c.id AS id, n.path AS path ORDER BY key, id LIMIT $limit',
          { keys, limit: lim(limit * keys.length) },
        );
        for (const k of keys) {
          const via = entityFrontier.get(k)!;
          for (const m of ms.filter((x) => x.key === k).slice(0, limit)) {
            add(m.id, hop, via);
            if (!mentionNotes.has(m.path)) mentionNotes.set(m.path, `${via} -in- note:${m.path}`);
          }
        }
        const rel = await this.q<{ key: string; other: string; type: string }>(
          'MATCH (e:Entity)-[r:RELATES]-(o:Entity) WHERE e.key IN $keys RETURN DISTINCT e.key AS key, o.key AS other, r.type AS type ORDER BY key, other LIMIT $limit',
          { keys, limit: lim(limit * keys.length) },
        );
        for (const r of rel)
          if (!seenEntities.has(r.other) && !nextEntities.has(r.other))
            nextEntities.set(r.other, `${entityFrontier.get(r.key)} -${r.type}- entity:${r.other}`);
      }
      const paths = [...noteFrontier.keys()];
      if (paths.length) {
        const cs = await this.q<{ path: string; id: string }>(
          'MATCH (n:Note)-[:HAS_CHUNK]->(c:Chunk) WHERE n.path IN $paths RETURN n.path AS path, c.id AS id ORDER BY path, id LIMIT $limit',
          { paths, limit: lim(limit * paths.length) },
        );
        for (const p of paths) for (const c of cs.filter((x) => x.path === p).slice(0, limit)) add(c.id, hop, noteFrontier.get(p)!);
      }
      const expand = [...noteFrontier, ...mentionNotes];
      if (expand.length) {
        const from = expand.map(([p]) => p);
        const ls = await this.q<{ path: string; other: string }>(
          'MATCH (n:Note)-[:LINKS_TO]-(m:Note) WHERE n.path IN $paths RETURN DISTINCT n.path AS path, m.path AS other ORDER BY path, other LIMIT $limit',
          { paths: from, limit: lim(limit * from.length) },
        );
        for (const [p, via] of expand) {
          if (!seenNotes.has(p) && !nextNotes.has(p)) nextNotes.set(p, via);
          for (const l of ls.filter((x) => x.path === p))
            if (!seenNotes.has(l.other) && !nextNotes.has(l.other)) nextNotes.set(l.other, `${via} -link- note:${l.other}`);
        }
      }
      for (const k of nextEntities.keys()) seenEntities.add(k);
      for (const p of nextNotes.keys()) seenNotes.add(p);
      entityFrontier = nextEntities;
      noteFrontier = nextNotes;
    }
    return [...hits.values()];
  }

  async stats(): Promise<{ notes: number; entities: number; relations: number; links: number }> {
    const [r] = await this.q<{ notes: unknown; entities: unknown; relations: unknown; links: unknown }>(
      `CALL { MATCH (n:Note) WHERE n.indexed RETURN count(n) AS notes }
       CALL { MATCH (e:Entity) RETURN count(e) AS entities }
       CALL { MATCH ()-[r:RELATES]->() RETURN count(r) AS relations }
       CALL { MATCH ()-[l:LINKS_TO]->() RETURN count(l) AS links }
       RETURN notes, entities, relations, links`,
    );
    const n = (v: unknown): number => (neo4j.isInt(v) ? (v as { toNumber(): number }).toNumber() : Number(v));
    return { notes: n(r!.notes), entities: n(r!.entities), relations: n(r!.relations), links: n(r!.links) };
  }

  async close(): Promise<void> {
    await this.driver.close();
  }
}
