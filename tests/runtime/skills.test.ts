import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../runtime/src/errors.js';
import { memoryLogger } from '../../runtime/src/log.js';
import { SkillRegistry } from '../../runtime/src/skills/index.js';
import { makeVault, waitFor, type TempVault } from './helpers/vault.js';

let v: TempVault;
let reg: SkillRegistry | undefined;
beforeEach(async () => {
  v = await makeVault();
});
afterEach(async () => {
  await reg?.stop();
  reg = undefined;
  await v.cleanup();
});

async function skill(folder: string, text: string): Promise<void> {
  await mkdir(join(v.dir('skills'), folder), { recursive: true });
  await writeFile(join(v.dir('skills'), folder, 'SKILL.md'), text);
}

describe('SkillRegistry', () => {
  it('loads every skill folder and joins instructions in the order asked', async () => {
    await skill('editor', '---\nname: editor\ndescription: Edits prose\n---\nCut every needless word.\n');
    await skill('coder', '---\ndescription: Writes code\n---\nUse TypeScript.\n'); // name from the folder
    reg = new SkillRegistry({ dir: v.dir('skills'), log: memoryLogger(), watch: false });
    await reg.start();
    expect(reg.list().map((s) => s.name)).toEqual(['coder', 'editor']);
    expect(reg.resolve(['editor', 'coder'])).toBe(
      '## Skill: editor\nEdits prose\n\nCut every needless word.\n\n## Skill: coder\nWrites code\n\nUse TypeScript.',
    );
    expect(reg.resolve([])).toBe('');
  });

  it('an unknown name throws SKILL_UNKNOWN listing the known skills', async () => {
    await skill('editor', '---\ndescription: Edits\n---\nx');
    reg = new SkillRegistry({ dir: v.dir('skills'), log: memoryLogger(), watch: false });
    await reg.start();
    let err: unknown;
    try {
      reg.resolve(['editor', 'poet', 'chef']);
    } catch (e) {
      err = e;
    }
    expect(isRuntimeError(err, 'SKILL_UNKNOWN')).toBe(true);
    expect((err as Error).message).toBe('unknown skills "poet", "chef"; known skills: editor');
  });

  it('skips broken skills with a warning and keeps the rest', async () => {
    await skill('good', '---\ndescription: Good\n---\nok');
    await skill('nodesc', '---\nname: nodesc\n---\nno description');
    await skill('badyaml', '---\ndescription: [unclosed\n---\nx');
    await mkdir(join(v.dir('skills'), 'empty'), { recursive: true });
    const log = memoryLogger();
    reg = new SkillRegistry({ dir: v.dir('skills'), log, watch: false });
    await reg.start();
    expect(reg.list().map((s) => s.name)).toEqual(['good']);
    expect(log.records.filter((r) => r.level === 'warn').map((r) => r.msg)).toEqual([
      'skill ignored: unreadable frontmatter',
      'skill ignored: invalid frontmatter',
    ]);
  });

  it('reloads when a skill is added, changed or removed', async () => {
    await skill('a', '---\ndescription: A\n---\nfirst');
    reg = new SkillRegistry({ dir: v.dir('skills'), log: memoryLogger(), debounceMs: 50 });
    await reg.start();
    expect(reg.resolve(['a'])).toContain('first');

    await skill('b', '---\ndescription: B\n---\nbee');
    await waitFor(() => reg!.get('b'), 'skill b to load', 5_000);

    await writeFile(join(v.dir('skills'), 'a', 'SKILL.md'), '---\ndescription: A\n---\nsecond');
    await waitFor(() => reg!.get('a')?.instructions === 'second', 'skill a to change', 5_000);

    await rm(join(v.dir('skills'), 'b'), { recursive: true });
    await waitFor(() => !reg!.get('b'), 'skill b to go', 5_000);
    expect(() => reg!.resolve(['b'])).toThrow(/known skills: a/);
  });

  it('a missing skills folder means no skills', async () => {
    reg = new SkillRegistry({ dir: join(v.root, 'nope'), log: memoryLogger(), watch: false });
    await reg.start();
    expect(reg.list()).toEqual([]);
  });
});
