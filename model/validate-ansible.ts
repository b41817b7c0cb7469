import type { RawProblem } from './validate.js';
import type { Platform } from './schema.js';
import { connectionAddress, hostServiceOfKind, hostServicesOf, identityFor } from './views.js';

/*
 * Checks the Ansible roles rely on: every var a role needs must come from the model, and no
 * firewall the roles would apply may cut Ansible off from a host.
 */

/** Tailscale hands out addresses from the CGNAT block; Ansible on the tailnet connects from there. */
const TAILNET_CIDR = '100.64.0.0/10';

export function ansibleChecks(p: Platform): RawProblem[] {
  const out: RawProblem[] = [];
  const add = (path: RawProblem['path'], message: string, fix: string, atKey = false): void => {
    out.push({ path, message, fix, atKey });
  };

  for (const [name, h] of Object.entries(p.hosts)) {
    const address = connectionAddress(h);
    const viaTailnet = address !== undefined && address === h.addresses.tailnet;
    if (viaTailnet && !hostServiceOfKind(p, name, 'tailscale')) {
      add(['hosts', name, 'addresses', 'tailnet'], `Ansible reaches "${name}" over the tailnet (${address}), but the host runs no tailscale`, 'add "tailscale: { kind: tailscale }" under its hostServices, or remove the tailnet address', true);
    }

    const rules = h.firewall.inbound;
    rules.forEach((r, i) => {
      if (r.protocol === 'icmp' && r.ports !== 'any') {
        add(['hosts', name, 'firewall', 'inbound', i, 'ports'], `ICMP rule "${r.name}" lists ports "${r.ports}", but ICMP has no ports`, 'remove "ports" from the ICMP rule');
      }
    });
    const sshRules = rules.filter((r) => r.protocol === 'tcp' && portInRange(22, r.ports));
    if (viaTailnet && sshRules.length > 0 && !sshRules.some((r) => r.sources.some((s) => cidrOverlaps(s, TAILNET_CIDR)))) {
      const i = rules.indexOf(sshRules[0]!);
      add(
        ['hosts', name, 'firewall', 'inbound', i, 'sources'],
        `Ansible connects to "${name}" over the tailnet, but no SSH rule admits tailnet sources (${TAILNET_CIDR}): applying the firewall would lock Ansible out`,
        `add "${TAILNET_CIDR}" (or your controller's tailnet address) to the sources of rule "${sshRules[0]!.name}"`,
      );
    }

    for (const [svc, s] of hostServicesOf(p, name)) {
      if (s.kind === 'syncthing' && !h.vaultPath) {
        add(['hosts', name, 'hostServices', svc], `host "${name}" runs Syncthing but has no vaultPath, so there is no folder to sync`, `add "vaultPath:" to hosts.${name}, or remove the syncthing host service`, true);
      }
      if (s.kind === 'ollama') {
        const seen = new Set<string>();
        s.models.forEach((m, i) => {
          if (seen.has(m)) add(['hosts', name, 'hostServices', svc, 'models', i], `model "${m}" is listed twice`, 'list each model once');
          seen.add(m);
        });
      }
      if (s.kind === 'alloy' && !identityFor(p, name)) {
        add(['hosts', name, 'hostServices', svc], `host "${name}" runs Alloy, which needs its Grafana Cloud tokens from Infisical, but no Infisical identity covers the host`, `add "${name}" to the hosts of an identity under infisical.identities`, true);
      }
    }
  }

  if (!Object.values(p.hosts).some((h) => h.vaultPath)) {
    add(['aws', 'buckets', 'vault-snapshots'], 'the vault-snapshots bucket has nothing to snapshot: no host has a vaultPath', 'add "vaultPath:" to the host that holds the vault (the runtime host)', true);
  }
  return out;
}

function portInRange(port: number, range: string): boolean {
  if (range === 'any') return true;
  const [lo, hi] = range.split('-').map(Number);
  return port >= lo! && port <= (hi ?? lo)!;
}

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
