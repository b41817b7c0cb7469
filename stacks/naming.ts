import type { Platform } from '../model/schema.js';

/*
 * Names derived from the model in one place: stack ids, state keys, lock objects, the order in
 * which stacks deploy.
 */

/** Deploy order: each stack only needs the ones before it. */
export const STACK_ORDER = ['bootstrap', 'storage', 'identities', 'edge', 'hosts', 'observability'] as const;
export type StackName = (typeof STACK_ORDER)[number];

/** Object key of a stack's state in the state bucket. */
export function stateKey(p: Platform, stack: StackName): string {
  return `${p.name}/${stack}.tfstate`;
}

/** The lock object Terraform's native S3 locking writes next to the state (use_lockfile). */
export function lockKey(p: Platform, stack: StackName): string {
  return `${stateKey(p, stack)}.tflock`;
}

/** Every stack whose state lives in the state bucket. */
export function remoteStacks(): StackName[] {
  return STACK_ORDER.filter((s) => s !== 'bootstrap');
}

/** Terraform-safe identifier from a model name ("davas/ollama" -> "davas-ollama"). */
export function slug(name: string): string {
  return name.replace(/[^A-Za-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
}

/** Cloudflare Access takes Go durations (h, m, s), the model also allows days. */
export function goDuration(d: string): string {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(d);
  if (!m) return d;
  return m[2] === 'd' ? `${Number(m[1]) * 24}h` : d;
}
