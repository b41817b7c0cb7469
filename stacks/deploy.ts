/*
 * `make deploy`: synthesizes once, then runs `cdktf deploy` stack by stack in dependency order,
 * saying what it is about to do and refusing to start while a credential is missing.
 *
 *   node --import tsx stacks/deploy.ts [--dry-run] [--bootstrap | --migrate] [stack ...] [-- cdktf args]
 *
 *   (default)    every stack, the bootstrap stack on the S3 backend
 *   --bootstrap  first run: the bootstrap stack alone, its state in a local file
 *   --migrate    second run: move that local state into the bucket (cdktf deploy --migrate-state)
 *   --dry-run    print the plan and the missing variables, run nothing
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { loadPlatform } from '../model/load.js';
import { PlatformError } from '../model/errors.js';
import { deployPlan, stackEnv } from './deploy-plan.js';
import { STACK_ORDER, stateKey, type StackName } from './naming.js';

const out = (line: string): boolean => process.stdout.write(`${line}\n`);

function main(argv: string[]): number {
  const dash = argv.indexOf('--');
  const args = dash < 0 ? argv : argv.slice(0, dash);
  const passThrough = dash < 0 ? [] : argv.slice(dash + 1);
  const dryRun = args.includes('--dry-run');
  const mode = args.includes('--bootstrap') ? 'bootstrap' : args.includes('--migrate') ? 'migrate' : 'all';
  const named = args.filter((a) => !a.startsWith('--'));
  const unknown = named.filter((n) => !(STACK_ORDER as readonly string[]).includes(n));
  if (unknown.length) {
    process.stderr.write(`unknown stack ${unknown.join(', ')}; stacks are: ${STACK_ORDER.join(', ')}\n`);
    return 2;
  }

  const modelFile = process.env.PLATFORM_MODEL ?? 'platform.yaml';
  const p = loadPlatform(resolve(modelFile), modelFile);
  const backend = mode === 'bootstrap' ? 'local' : 's3';
  const wanted: StackName[] =
    mode === 'all' ? (named.length ? STACK_ORDER.filter((s) => named.includes(s)) : [...STACK_ORDER]) : ['bootstrap'];
  const steps = deployPlan(p).filter((s) => wanted.includes(s.stack));

  out(`platform ${p.name} (${modelFile}), state bucket ${p.aws.buckets.tfstate.name} in ${p.aws.region}`);
  out(
    mode === 'bootstrap'
      ? 'first bootstrap: the state bucket, with its own state in terraform.bootstrap.tfstate'
      : mode === 'migrate'
        ? `moving the bootstrap state into s3://${p.aws.buckets.tfstate.name}/${stateKey(p, 'bootstrap')}`
        : 'deploying, in order:',
  );
  const missing: string[] = [];
  const envs = new Map<StackName, Record<string, string>>();
  steps.forEach((step, i) => {
    const { env, missing: lacks } = stackEnv(step, process.env);
    envs.set(step.stack, env);
    const state =
      step.stack === 'bootstrap' && backend === 'local'
        ? 'local state file'
        : `s3://${p.aws.buckets.tfstate.name}/${stateKey(p, step.stack)} (lock ${stateKey(p, step.stack)}.tflock)`;
    out(`  ${i + 1}. ${step.stack.padEnd(13)} state: ${state}`);
    for (const need of step.needs) {
      const lack = lacks.includes(need);
      out(
        `       ${lack ? 'MISSING' : 'ok     '} ${need.name}${need.from.length > 1 || need.from[0] !== need.name ? ` (from ${need.from.join(' or ')})` : ''}: ${need.why}`,
      );
      if (lack) missing.push(`${step.stack}: ${need.from.join(' or ')}`);
    }
  });
  if (missing.length) {
    process.stderr.write(
      `\nnot deploying, credentials missing (stack: variable)\n${missing.map((m) => `  - ${m}`).join('\n')}\nhint: run under \`infisical run --env=${p.infisical.env} --\` or export them; see docs/deploy-cloud.md\n`,
    );
    if (!dryRun) return 1;
  }
  if (dryRun) return missing.length ? 1 : 0;

  const cdktf = resolve('node_modules/.bin/cdktf');
  const base = { ...process.env, PLATFORM_BOOTSTRAP_BACKEND: backend, CHECKPOINT_DISABLE: '1', DISABLE_VERSION_CHECK: '1' };
  out(`\n== cdktf synth (bootstrap backend: ${backend})`);
  const synth = spawnSync(cdktf, ['synth', '--check-code-maker-output=false'], { stdio: 'inherit', env: base });
  if (synth.status !== 0) return synth.status ?? 1;
  for (const step of steps) {
    const extra = mode === 'migrate' ? ['--migrate-state'] : [];
    out(`\n== cdktf deploy ${step.stack} ${[...extra, ...passThrough].join(' ')}`.trimEnd());
    const r = spawnSync(cdktf, ['deploy', step.stack, '--skip-synth', ...extra, ...passThrough], {
      stdio: 'inherit',
      env: { ...base, ...envs.get(step.stack) },
    });
    if (r.status !== 0) {
      process.stderr.write(`cdktf deploy ${step.stack} failed; later stacks were not deployed\n`);
      return r.status ?? 1;
    }
  }
  if (mode === 'bootstrap') out('\nnext: make bootstrap-migrate (moves this state into the bucket), then make deploy');
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  if (e instanceof PlatformError) process.stderr.write(`${e.code}: ${e.message}\n  hint: ${e.hint}\n`);
  else process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
}
