import { describe, expect, it } from 'vitest';
import { parsePlatform } from '../../model/index.js';
import { nextRuns, parseCron } from '../../model/checks/schedules.js';
import { runtimeConfig } from '../../render/generators/runtime-config.js';
import { systemMap } from '../../render/generators/system-map.js';
import { edit, exampleText, lineOf } from '../helpers.js';
import { only } from './problems.js';

const base = exampleText();
const ISO = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:00\\.000Z';

describe('schedules in the model', () => {
  it('the example has its schedules with defaults filled in', () => {
    const p = parsePlatform(base);
    expect(p.schedules.briefing).toMatchObject({ cron: '0 7 * * *', timezone: 'Europe/London', enabled: true, catchUp: 'once' });
    expect(p.schedules.briefing?.job).toMatchObject({ type: 'text', skills: [], template: 'templates/briefing.md' });
    expect(p.schedules.research).toMatchObject({ enabled: false, job: { type: 'research' } });
  });

  it('a bad cron field is located at the cron value and says what is wrong', () => {
    const text = edit(base, 'cron: "0 7 * * *"', 'cron: "0 25 * * *"');
    const p = only(text);
    expect(p).toMatchObject({ line: lineOf(text, 'cron: "0 25 * * *"'), col: 11, path: 'schedules.briefing.cron' });
    expect(p.message).toMatch(/bad cron: .*hour.*25/i);
    expect(p.fix).toContain('five fields');
  });

  it('six fields are not standard cron', () => {
    const p = only(edit(base, 'cron: "0 7 * * *"', 'cron: "0 0 7 * * *"'));
    expect(p.message).toContain('has 6 fields; standard cron has five');
  });

  it('an unknown time zone is located at the zone, checked with Intl', () => {
    const text = edit(base, 'timezone: Europe/London', 'timezone: Europe/Londn');
    const p = only(text);
    expect(p).toMatchObject({ line: lineOf(text, 'timezone: Europe/Londn'), path: 'schedules.briefing.timezone' });
    expect(p.message).toBe('schedule "briefing": unknown time zone "Europe/Londn"');
  });

  it('an unknown model suggests a routed one and shows the next three runs', () => {
    const text = edit(base, 'model: llama-3.3-70b-versatile\n      title: Daily', 'model: llama-3.3-70b\n      title: Daily');
    const p = only(text);
    expect(p).toMatchObject({ line: lineOf(text, 'model: llama-3.3-70b\n'.trimEnd(), 'schedules:'), path: 'schedules.briefing.job.model' });
    expect(p.message).toMatch(new RegExp(`not in routing.models \\(next runs in Europe/London: ${ISO}, ${ISO}, ${ISO}\\)$`));
    expect(p.fix).toContain('llama-3.3-70b-versatile');
  });

  it('a template path outside the vault, or in a runtime folder, is refused', () => {
    expect(only(edit(base, 'template: templates/briefing.md', 'template: ../etc/briefing.md')).message).toContain(
      'not a vault-relative markdown path',
    );
    expect(only(edit(base, 'template: templates/briefing.md', 'template: /templates/briefing.md')).message).toContain(
      'not a vault-relative markdown path',
    );
    expect(only(edit(base, 'template: templates/briefing.md', 'template: templates/briefing.txt')).message).toContain(
      'not a vault-relative markdown path',
    );
    expect(only(edit(base, 'template: templates/briefing.md', 'template: _queue/briefing.md')).message).toContain(
      'runtime\'s "_queue" folder',
    );
  });

  it('prompt and template are exclusive', () => {
    const p = only(edit(base, 'template: templates/briefing.md', 'template: templates/briefing.md\n      prompt: hello'));
    expect(p.path).toBe('schedules.briefing.job');
    expect(p.message).toContain('exactly one of "prompt" or "template"');
  });

  it('the example configures the three agents and the nightly re-index', () => {
    const p = parsePlatform(base);
    expect(p.schedules.briefing?.job.output).toBe('briefings');
    expect(p.schedules.memory).toMatchObject({ cron: '30 2 * * *', job: { type: 'memory', output: 'memory' } });
    expect(p.schedules.reindex).toMatchObject({ cron: '0 3 * * *', job: { type: 'reindex' } });
    expect(p.schedules.reindex?.job.prompt).toBeUndefined();
  });

  it('an output folder outside the vault, or in a runtime folder, is refused at the output key', () => {
    for (const bad of ['../briefings', '/srv/briefings', 'notes/../../x', '.obsidian/briefings', 'briefings/']) {
      const text = edit(base, 'output: briefings', `output: "${bad}"`);
      const p = only(text);
      expect(p.path, bad).toBe('schedules.briefing.job.output');
      expect(p.line).toBe(lineOf(text, `output: "${bad}"`));
      expect(p.message).toContain('is not a vault-relative folder');
    }
    const q = only(edit(base, 'output: briefings', 'output: _queue/briefings'));
    expect(q.message).toContain('runtime\'s "_queue" folder');
    expect(q.fix).toContain('a folder of its own');
    expect(only(edit(base, 'output: briefings', 'output: runner-outputs')).message).toContain('runtime\'s "runner-outputs" folder');
  });

  it('a memory job needs an output folder; a reindex job takes no prompt, template or output', () => {
    const noOut = only(edit(base, '      title: Memory\n      output: memory\n', '      title: Memory\n'));
    expect(noOut.path).toBe('schedules.memory.job.output');
    expect(noOut.message).toContain('a memory job needs "output"');
    const prompt = only(edit(base, '      title: Nightly re-index\n', '      title: Nightly re-index\n      prompt: index please\n'));
    expect(prompt.path).toBe('schedules.reindex.job.prompt');
    expect(prompt.message).toContain('a reindex job takes no "prompt" or "template"');
    const out = only(edit(base, '      title: Nightly re-index\n', '      title: Nightly re-index\n      output: index\n'));
    expect(out.path).toBe('schedules.reindex.job.output');
    // A memory job may add instructions of its own, but not both kinds.
    expect(
      parsePlatform(edit(base, '      title: Memory\n', '      title: Memory\n      prompt: Keep notes short.\n')).schedules.memory?.job
        .prompt,
    ).toBe('Keep notes short.');
  });

  it('unknown catch-up policy suggests the allowed ones', () => {
    const p = only(edit(base, 'catchUp: once', 'catchUp: all'));
    expect(p.path).toBe('schedules.briefing.catchUp');
    expect(p.fix).toMatch(/skip|once/);
  });
});

describe('cron semantics (croner, five fields, DST)', () => {
  const runs = (expr: string, tz: string, from: string, n: number): string[] => {
    const r = parseCron(expr, tz);
    if (!('cron' in r)) throw new Error(r.error);
    return nextRuns(r.cron, new Date(from), n);
  };
  it('a fixed time in the spring-forward gap runs once at the first instant after it', () => {
    // Europe/Berlin 2026-03-29: 02:00 CET jumps to 03:00 CEST.
    expect(runs('30 2 * * *', 'Europe/Berlin', '2026-03-28T00:00:00Z', 3)).toEqual([
      '2026-03-28T01:30:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
  });
  it('a fixed time in the repeated fall-back hour runs once', () => {
    // 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice, the job runs at the first.
    expect(runs('30 2 * * *', 'Europe/Berlin', '2026-10-24T00:00:00Z', 3)).toEqual([
      '2026-10-24T00:30:00.000Z',
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ]);
  });
  it('day-of-month and day-of-week are ORed, as in Vixie cron', () => {
    expect(runs('0 0 1 * 1', 'UTC', '2026-11-28T00:00:00Z', 3)).toEqual([
      '2026-11-30T00:00:00.000Z',
      '2026-12-01T00:00:00.000Z',
      '2026-12-07T00:00:00.000Z',
    ]);
  });
});

describe('schedules in generated output', () => {
  const p = parsePlatform(base);
  it('the runtime slice lists them in name order, with what the scheduler needs', () => {
    expect(runtimeConfig(p).schedules.map((s) => s.name)).toEqual(['briefing', 'memory', 'reindex', 'research']);
    expect(runtimeConfig(p).schedules[0]).toEqual({
      name: 'briefing',
      cron: '0 7 * * *',
      timezone: 'Europe/London',
      enabled: true,
      catchUp: 'once',
      quietHours: { start: '22:00', end: '07:00' },
      job: {
        type: 'text',
        model: 'llama-3.3-70b-versatile',
        skills: [],
        title: 'Daily briefing',
        template: 'templates/briefing.md',
        output: 'briefings',
      },
    });
    const byName = Object.fromEntries(runtimeConfig(p).schedules.map((s) => [s.name, s.job]));
    expect(byName.memory).toEqual({ type: 'memory', model: 'llama-3.3-70b-versatile', skills: [], title: 'Memory', output: 'memory' });
    expect(byName.reindex).toEqual({ type: 'reindex', skills: [], title: 'Nightly re-index' });
    expect(byName.research).toMatchObject({ type: 'research', output: 'research' });
  });
  it('the system map shows cron and zone, and no clock-dependent times', () => {
    const map = systemMap(p);
    expect(map).toContain(
      '| briefing | `0 7 * * *` | Europe/London | text on llama-3.3-70b-versatile, template templates/briefing.md | once | yes |',
    );
    expect(map).not.toMatch(/## Schedules[\s\S]*\d{4}-\d\d-\d\dT\d\d:\d\d[\s\S]*## Data stores/);
    expect(systemMap(p)).toBe(map);
  });
});
