import { watch, type FSWatcher } from 'chokidar';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { RuntimeError, describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { VaultFileError, errnoOf, readRegularFile } from '../vault/files.js';
import { parseFrontmatter, type Frontmatter } from '../vault/frontmatter.js';

/*
 * Skills: `<vault>/<skills folder>/<name>/SKILL.md`, frontmatter `name` and `description`, then
 * instructions. The registry loads them all, reloads when anything under the folder changes,
 * and turns a job's skill names into system-prompt text.
 *
 * Skill files are vault files: read through the vault layer (no link followed, regular files,
 * bounded size) with YAML-only frontmatter. A skill that breaks a rule is left out with a log
 * line; the others still load.
 */

export const SkillFrontmatterSchema = z.looseObject({
  name: z.string().trim().min(1).optional(),
  description: z.string().trim().min(1, 'a skill needs a one-line `description`'),
});

export interface Skill {
  readonly name: string;
  readonly description: string;
  readonly instructions: string;
  readonly path: string;
}

export interface SkillResolver {
  /** Instructions of the named skills, joined for a system prompt; throws SKILL_UNKNOWN. */
  resolve(names: readonly string[]): string;
}

export interface SkillRegistryProps {
  /** Absolute path of the skills folder. */
  readonly dir: string;
  readonly log: Logger;
  /** Reload on change (default true). */
  readonly watch?: boolean;
  /** Quiet time before a reload, so an editor's burst of writes reloads once. */
  readonly debounceMs?: number;
  /** Largest SKILL.md read, in bytes (default 1 MiB). */
  readonly maxBytes?: number;
}

export class SkillRegistry implements SkillResolver {
  private skills = new Map<string, Skill>();
  private watcher: FSWatcher | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;
  private loading: Promise<void> | undefined;
  private reloadAgain = false;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly props: SkillRegistryProps) {}

  async start(): Promise<void> {
    await this.reload();
    if (this.props.watch === false) return;
    const w = watch(this.props.dir, {
      ignoreInitial: true,
      depth: 2,
      ignored: (p: string) => /(^|[/\\])\.[^/\\]/.test(p.slice(this.props.dir.length)),
    });
    w.on('all', () => this.scheduleReload());
    w.on('error', (e) => this.props.log.warn('skills watcher error', { error: describeError(e) }));
    await new Promise<void>((resolve) => w.once('ready', () => resolve()));
    this.watcher = w;
  }

  async stop(): Promise<void> {
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    const w = this.watcher;
    this.watcher = undefined;
    if (w) await w.close();
    if (this.loading) await this.loading;
  }

  /** Called after each reload; returns an unsubscribe function. */
  onReload(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  list(): Skill[] {
    return [...this.skills.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): Skill | undefined {
    return this.skills.get(name);
  }

  resolve(names: readonly string[]): string {
    const unknown = names.filter((n) => !this.skills.has(n));
    if (unknown.length > 0) {
      const known = this.list().map((s) => s.name);
      throw new RuntimeError(
        'SKILL_UNKNOWN',
        `unknown skill${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `"${n}"`).join(', ')}; known skills: ${known.length ? known.join(', ') : '(none)'}`,
        { hint: `add a folder ${this.props.dir}/<name>/SKILL.md or fix the name in the job's \`skills\`` },
      );
    }
    return names
      .map((n) => {
        const s = this.skills.get(n)!;
        return `## Skill: ${s.name}\n${s.description}\n\n${s.instructions}`;
      })
      .join('\n\n');
  }

  /** Loads every skill again; a broken skill is logged and left out, the others still load. */
  reload(): Promise<void> {
    if (this.loading) {
      this.reloadAgain = true;
      return this.loading;
    }
    this.loading = (async () => {
      do {
        this.reloadAgain = false;
        this.skills = await this.loadAll();
      } while (this.reloadAgain);
    })().finally(() => {
      this.loading = undefined;
      for (const fn of this.listeners) fn();
    });
    return this.loading;
  }

  private scheduleReload(): void {
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = undefined;
      void this.reload();
    }, this.props.debounceMs ?? 100);
  }

  private async loadAll(): Promise<Map<string, Skill>> {
    const { dir, log } = this.props;
    const out = new Map<string, Skill>();
    let entries: string[];
    try {
      const all = (await readdir(dir, { withFileTypes: true })).filter((d) => !d.name.startsWith('.'));
      for (const d of all)
        if (d.isSymbolicLink()) log.warn('skill ignored: a symbolic link is never followed', { path: join(dir, d.name) });
      entries = all.filter((d) => d.isDirectory()).map((d) => d.name);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') log.warn('cannot read the skills folder', { dir, error: describeError(e) });
      return out;
    }
    for (const folder of entries.sort()) {
      const path = join(dir, folder, 'SKILL.md');
      let raw: Buffer;
      try {
        raw = await readRegularFile(path, { maxBytes: this.props.maxBytes ?? 1_048_576 });
      } catch (e) {
        if (errnoOf(e) === 'ENOENT') continue; // a folder without SKILL.md is not a skill
        const why = e instanceof VaultFileError ? e.problem : 'unreadable';
        log.warn('skill ignored: the file was refused', { path, problem: why, error: describeError(e) });
        continue;
      }
      try {
        let parsed: Frontmatter;
        try {
          parsed = parseFrontmatter(raw);
        } catch (e) {
          log.warn('skill ignored: unreadable frontmatter', { path, error: describeError(e) });
          continue;
        }
        const fm = SkillFrontmatterSchema.safeParse(parsed.data);
        if (!fm.success) {
          log.warn('skill ignored: invalid frontmatter', {
            path,
            problems: fm.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
          });
          continue;
        }
        const name = fm.data.name ?? folder;
        if (out.has(name)) {
          log.warn('skill ignored: duplicate name', { path, name });
          continue;
        }
        out.set(name, { name, description: fm.data.description, instructions: parsed.body.trim(), path });
      } catch (e) {
        log.warn('skill ignored: unreadable frontmatter', { path, error: describeError(e) });
      }
    }
    return out;
  }
}
