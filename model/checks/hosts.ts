import type { Platform } from '../schema.js';
import { connectionAddress, hostServiceOfKind, hostServicesOf, identityFor, listenOf, servicesOn } from '../views.js';
import { cidrOverlaps, dupes, problems, sshRules, TAILNET_CIDR, type RawProblem } from './problems.js';

/*
 * hosts: addresses, firewalls, host services and the ports published on each host. Includes what
 * the Ansible roles rely on: a way in over SSH that the firewall they apply keeps open.
 */
export function checkHosts(p: Platform): RawProblem[] {
  const { list, add } = problems();
  for (const [name, h] of Object.entries(p.hosts)) {
    const address = connectionAddress(h);
    if (!address) {
      add(
        ['hosts', name],
        `host "${name}" has no address`,
        'add "addresses: { tailnet: ... }" or a public address so Ansible can reach it',
        true,
      );
    }
    const rules = h.firewall.inbound;
    dupes(rules.map((r) => r.name)).forEach((i) =>
      add(
        ['hosts', name, 'firewall', 'inbound', i, 'name'],
        `firewall rule "${rules[i]!.name}" is defined twice on host "${name}"`,
        'give each rule a unique name',
      ),
    );
    const ssh = sshRules(rules);
    if (ssh.length === 0) {
      add(
        ['hosts', name, 'firewall'],
        `no inbound rule lets SSH (tcp/22) in to "${name}": the firewall would lock out Ansible and you`,
        'add a rule { name: ssh, protocol: tcp, ports: "22", sources: [<your tailnet or admin CIDR>] }',
        true,
      );
    }
    if (h.kind === 'vps' && h.instanceId === undefined) {
      add(
        ['hosts', name],
        `VPS "${name}" has no instanceId, so its provider firewall cannot be attached`,
        'add "instanceId:" with the provider\'s instance id',
        true,
      );
    }
    const listens = hostServicesOf(p, name).flatMap(([svc, s]) => {
      const l = listenOf(s);
      return l ? [{ svc, ...l }] : [];
    });
    for (const [svc, s] of hostServicesOf(p, name)) {
      if (
        s.kind === 'ollama' &&
        listenOf(s)?.address !== '127.0.0.1' &&
        listenOf(s)?.address !== h.addresses.tailnet &&
        listenOf(s)?.address !== '0.0.0.0'
      ) {
        add(
          ['hosts', name, 'hostServices', svc, 'listen'],
          `Ollama listens on ${listenOf(s)?.address}, which is neither loopback nor this host's tailnet address`,
          `use "127.0.0.1:<port>" or "${h.addresses.tailnet ?? '<tailnet address>'}:<port>"`,
        );
      }
    }
    // Published ports collide with each other and with host services' ports.
    const taken = new Map<string, string>();
    for (const l of listens) taken.set(`${l.port}`, `host service "${l.svc}"`);
    for (const [svc, s] of servicesOn(p, name)) {
      s.publish.forEach((pub, i) => {
        const prior = taken.get(`${pub.hostPort}`);
        if (prior) {
          add(
            ['services', svc, 'publish', i, 'hostPort'],
            `host port ${pub.hostPort} on "${name}" is already taken by ${prior}`,
            'publish on another host port, or remove one of the two',
          );
        } else {
          taken.set(`${pub.hostPort}`, `service "${svc}"`);
        }
        if (!s.ports.some((x) => x.port === pub.port)) {
          add(
            ['services', svc, 'publish', i, 'port'],
            `service "${svc}" publishes port ${pub.port}, which it does not list under "ports"`,
            `add { name: ..., port: ${pub.port} } to its ports, or publish one of: ${s.ports.map((x) => x.port).join(', ') || '(none)'}`,
          );
        }
      });
    }

    // ---- what the Ansible roles rely on
    const viaTailnet = address !== undefined && address === h.addresses.tailnet;
    if (viaTailnet && !hostServiceOfKind(p, name, 'tailscale')) {
      add(
        ['hosts', name, 'addresses', 'tailnet'],
        `Ansible reaches "${name}" over the tailnet (${address}), but the host runs no tailscale`,
        'add "tailscale: { kind: tailscale }" under its hostServices, or remove the tailnet address',
        true,
      );
    }
    rules.forEach((r, i) => {
      if (r.protocol === 'icmp' && r.ports !== 'any') {
        add(
          ['hosts', name, 'firewall', 'inbound', i, 'ports'],
          `ICMP rule "${r.name}" lists ports "${r.ports}", but ICMP has no ports`,
          'remove "ports" from the ICMP rule',
        );
      }
    });
    if (viaTailnet && ssh.length > 0 && !ssh.some((r) => r.sources.some((s) => cidrOverlaps(s, TAILNET_CIDR)))) {
      const i = rules.indexOf(ssh[0]!);
      add(
        ['hosts', name, 'firewall', 'inbound', i, 'sources'],
        `Ansible connects to "${name}" over the tailnet, but no SSH rule admits tailnet sources (${TAILNET_CIDR}): applying the firewall would lock Ansible out`,
        `add "${TAILNET_CIDR}" (or your controller's tailnet address) to the sources of rule "${ssh[0]!.name}"`,
      );
    }
    for (const [svc, s] of hostServicesOf(p, name)) {
      if (s.kind === 'syncthing' && !h.vaultPath) {
        add(
          ['hosts', name, 'hostServices', svc],
          `host "${name}" runs Syncthing but has no vaultPath, so there is no folder to sync`,
          `add "vaultPath:" to hosts.${name}, or remove the syncthing host service`,
          true,
        );
      }
      if (s.kind === 'ollama') {
        dupes(s.models).forEach((i) =>
          add(['hosts', name, 'hostServices', svc, 'models', i], `model "${s.models[i]}" is listed twice`, 'list each model once'),
        );
      }
      if (s.kind === 'alloy' && !identityFor(p, name)) {
        add(
          ['hosts', name, 'hostServices', svc],
          `host "${name}" runs Alloy, which needs its Grafana Cloud tokens from Infisical, but no Infisical identity covers the host`,
          `add "${name}" to the hosts of an identity under infisical.identities`,
          true,
        );
      }
    }
  }
  return list;
}
