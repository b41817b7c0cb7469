import type { FirewallRule } from '../schema.js';

/*
 * The leaf every section check builds on: how a problem is written down before it is located in
 * the source, and the small rules more than one section applies. Imports nothing but types.
 */

/** A problem before it is located in the source. */
export interface RawProblem {
  path: Array<string | number>;
  /** Point at the mapping key rather than its value. */
  atKey?: boolean;
  message: string;
  fix: string;
}

export type AddProblem = (path: RawProblem['path'], message: string, fix: string, atKey?: boolean) => void;

/** A list to collect a section's problems into, and the function that adds one. */
export function problems(): { list: RawProblem[]; add: AddProblem } {
  const list: RawProblem[] = [];
  return { list, add: (path, message, fix, atKey = false) => void list.push({ path, message, fix, atKey }) };
}

/** Indexes of the second and later occurrences of each repeated value. */
export function dupes<T>(values: readonly T[]): number[] {
  const seen = new Set<T>();
  const out: number[] = [];
  values.forEach((v, i) => {
    if (seen.has(v)) out.push(i);
    seen.add(v);
  });
  return out;
}

/** Whether a firewall port spec ("22", "80-90", "any") covers `port`. */
export function portInRange(port: number, range: string): boolean {
  if (range === 'any') return true;
  const [lo, hi] = range.split('-').map(Number);
  return port >= lo! && port <= (hi ?? lo)!;
}

/** The inbound rules that let SSH (tcp/22) in: Ansible and the operator need at least one. */
export function sshRules(rules: readonly FirewallRule[]): FirewallRule[] {
  return rules.filter((r) => r.protocol === 'tcp' && portInRange(22, r.ports));
}

/** Tailscale hands out addresses from the CGNAT block; Ansible on the tailnet connects from there. */
export const TAILNET_CIDR = '100.64.0.0/10';

function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

function cidrRange(cidr: string): [number, number] {
  const [ip, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const start = Math.floor(ipToInt(ip!) / size) * size;
  return [start, start + size - 1];
}

/** Two CIDR blocks share at least one address. */
export function cidrOverlaps(a: string, b: string): boolean {
  const [a0, a1] = cidrRange(a);
  const [b0, b1] = cidrRange(b);
  return a0 <= b1 && b0 <= a1;
}
