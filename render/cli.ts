import { performance } from 'node:perf_hooks';
import { resolve } from 'node:path';
import { loadPlatform, ModelInvalidError, PlatformError } from '../model/index.js';
import { generateAll, plan, staleDiff, writePlan } from './render.js';

/*
 * render [--check] [--model FILE] [--out DIR]
 * Exit codes: 0 done (or up to date), 1 generated/ is stale (--check), 2 invalid model, 3 other failure.
 */

interface Args {
  check: boolean;
  model: string;
  out: string;
  quiet: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { check: false, model: 'platform.yaml', out: 'generated', quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--check') args.check = true;
    else if (a === '--quiet' || a === '-q') args.quiet = true;
    else if (a === '--model' && argv[i + 1]) args.model = argv[++i]!;
    else if (a === '--out' && argv[i + 1]) args.out = argv[++i]!;
    else {
      process.stderr.write(
        `render: unknown argument "${a}"\nusage: render [--check] [--quiet] [--model platform.yaml] [--out generated]\n`,
      );
      process.exit(3);
    }
  }
  return args;
}

function size(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`;
}

export function main(argv: string[]): number {
  const args = parseArgs(argv);
  const t0 = performance.now();
  try {
    const platform = loadPlatform(args.model);
    const artifacts = generateAll(platform);
    const reports = plan(resolve(args.out), artifacts);
    const stale = reports.filter((r) => r.status !== 'unchanged');
    if (args.check) {
      if (stale.length === 0) {
        process.stdout.write(`render --check: ${args.out}/ is up to date (${reports.length} files)\n`);
        return 0;
      }
      process.stdout.write(staleDiff(reports));
      process.stderr.write(
        `render --check: ${stale.length} file(s) in ${args.out}/ are stale: run \`make render\` and commit ${args.out}/\n`,
      );
      return 1;
    }
    writePlan(resolve(args.out), reports);
    const ms = performance.now() - t0;
    if (!args.quiet) {
      const width = Math.max(...reports.map((r) => r.path.length));
      for (const r of reports)
        process.stdout.write(
          `  ${r.status.padEnd(9)} ${`${args.out}/${r.path}`.padEnd(width + args.out.length + 2)} ${size(r.bytes).padStart(9)}\n`,
        );
    }
    const count = (s: string): number => reports.filter((r) => r.status === s).length;
    process.stdout.write(
      `render: ${artifacts.length} files from ${args.model} in ${ms.toFixed(0)} ms: ${count('created')} created, ${count('changed')} changed, ${count('removed')} removed, ${count('unchanged')} unchanged\n`,
    );
    return 0;
  } catch (e) {
    if (e instanceof ModelInvalidError) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    if (e instanceof PlatformError) {
      process.stderr.write(`render: ${e.code}: ${e.message}\n  hint: ${e.hint}\n`);
      return e.code === 'MODEL_NOT_FOUND' ? 2 : 3;
    }
    process.stderr.write(`render: unexpected failure: ${(e as Error).stack ?? String(e)}\n`);
    return 3;
  }
}

process.exitCode = main(process.argv.slice(2));
