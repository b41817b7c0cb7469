import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Testing, type TerraformStack } from 'cdktf';
import { loadPlatform, parsePlatform } from '../../model/load.js';
import { secretKind } from '@platform/contract';
import type { Platform } from '../../model/schema.js';
import { dashboardsGenerator } from '../../dashboards/generate.js';
import { buildPlatformApp, readDashboards, type PlatformStacks } from '../../stacks/app.js';
import type { DashboardFile } from '../../stacks/constructs/grafana-dashboards.js';
import { STACK_ORDER, type StackName } from '../../stacks/naming.js';

export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
export const MODELS = {
  example: resolve(ROOT, 'platform.yaml'),
  alt: resolve(ROOT, 'tests/fixtures/platform-alt.yaml'),
} as const;
export const FIXTURE_DASHBOARDS = resolve(ROOT, 'tests/stacks/fixtures/dashboards');

/** A synthesized stack: Terraform JSON without the "//" metadata. */
export type TfJson = {
  terraform: {
    backend?: Record<string, Record<string, unknown>>;
    required_providers?: Record<string, { source: string; version: string }>;
  };
  provider?: Record<string, Record<string, unknown>[]>;
  resource?: Record<string, Record<string, Record<string, unknown>>>;
  data?: Record<string, Record<string, Record<string, unknown>>>;
  variable?: Record<string, Record<string, unknown>>;
  output?: Record<string, Record<string, unknown>>;
};

export interface Synthesized {
  platform: Platform;
  stacks: PlatformStacks;
  /** Testing.synth output per stack (a string, as the Testing matchers take it). */
  text: Record<StackName, string>;
  json: Record<StackName, TfJson>;
}

export function load(file: string): Platform {
  return loadPlatform(file, file.slice(ROOT.length + 1));
}

export interface SynthOptions {
  readonly bootstrapBackend?: 'local' | 's3';
  /** `fixtures` (default): the small files in tests/stacks/fixtures; `generated`: what `make render` makes of this model. */
  readonly dashboards?: 'fixtures' | 'generated';
}

/** The dashboards the render step generates for a model, as the app reads them from generated/. */
export function generatedDashboards(platform: Platform): DashboardFile[] {
  return dashboardsGenerator
    .generate(platform)
    .map((a) => ({ name: a.path.slice(a.path.lastIndexOf('/') + 1, -'.json'.length), json: a.content }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function synthPlatform(platform: Platform, opts: SynthOptions = {}): Synthesized {
  // Nothing is written: Testing.synth renders in memory. The outdir only shapes relative paths.
  const outdir = resolve(ROOT, 'cdktf.out');
  const { stacks } = buildPlatformApp({
    platform,
    outdir,
    dashboards: opts.dashboards === 'generated' ? generatedDashboards(platform) : readDashboards(FIXTURE_DASHBOARDS),
    bootstrapBackend: opts.bootstrapBackend ?? 'local',
    stateDir: ROOT,
  });
  const text = {} as Record<StackName, string>;
  const json = {} as Record<StackName, TfJson>;
  for (const name of STACK_ORDER) {
    text[name] = Testing.synth(stacks[name] as TerraformStack);
    json[name] = JSON.parse(text[name]) as TfJson;
  }
  return { platform, stacks, text, json };
}

export function synthFile(file: string, opts: SynthOptions = {}): Synthesized {
  return synthPlatform(load(file), opts);
}

/** Parse model text (e.g. an edited copy of a model) the way the loader does. */
export function parse(text: string): Platform {
  return parsePlatform(text, 'edited.yaml');
}

/** All resources of a type in one stack, keyed by logical id. */
export function resources(tf: TfJson, type: string): Record<string, Record<string, unknown>> {
  return tf.resource?.[type] ?? {};
}

export function resourceList(tf: TfJson, type: string): Record<string, unknown>[] {
  return Object.values(resources(tf, type));
}

/** Every resource of every stack, as [stack, type, logicalId, body]. */
export function allResources(s: Synthesized): [StackName, string, string, Record<string, unknown>][] {
  return STACK_ORDER.flatMap((stack) =>
    Object.entries(s.json[stack].resource ?? {}).flatMap(([type, byId]) =>
      Object.entries(byId).map(([id, body]) => [stack, type, id, body] as [StackName, string, string, Record<string, unknown>]),
    ),
  );
}

/** `${aws_s3_bucket.<id>.arn}` -> the id. */
export function refId(ref: string, type: string, attr: string): string | undefined {
  const m = new RegExp(`^\\$\\{${type}\\.([^.}]+)\\.${attr}\\}`).exec(ref);
  return m?.[1];
}

/** Every string anywhere in a JSON value, with its path. */
export function strings(v: unknown, path: string[] = []): [string, string][] {
  if (typeof v === 'string') return [[path.join('.'), v]];
  if (Array.isArray(v)) return v.flatMap((x, i) => strings(x, [...path, String(i)]));
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => strings(x, [...path, k]));
  return [];
}

/**
 * Secret-looking strings in synthesized JSON. The "//" metadata blocks are skipped: they hold
 * construct paths and Terraform logical ids (e.g. "artifacts_bucket_A41425E9"), whose hash
 * suffix reads as high-entropy text but is no secret.
 */
export function secretFindings(json: unknown, where: string): string[] {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v && typeof v === 'object')
      return Object.fromEntries(
        Object.entries(v)
          .filter(([k]) => k !== '//')
          .map(([k, x]) => [k, strip(x)]),
      );
    return v;
  };
  return strings(strip(json)).flatMap(([path, v]) => {
    const kind = secretKind(v);
    return kind ? [`${where}:${path}: ${kind}`] : [];
  });
}
