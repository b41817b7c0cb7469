import { parsePlatform, type Platform } from '../../model/index.js';
import { edit, exampleText } from '../helpers.js';

/** The firewall rules every NATS server host needs once the cluster runs: clients and peers on the tailnet. */
const NATS_RULE = `        - name: nats-client
          protocol: tcp
          ports: "4222"
          sources: [100.64.0.0/10]
        - name: nats-cluster
          protocol: tcp
          ports: "6222"
          sources: [100.64.0.0/10]
`;

/**
 * The example model with the jetstream queue backend switched on: its `nats:` section (three
 * servers, workers on contabo and davas) plus the firewall rules that let the tailnet reach them.
 */
export function jetstreamText(text = exampleText()): string {
  let t = edit(text, 'backend: folder', 'backend: jetstream');
  for (const host of ['contabo:', 'prod-services:', 'dev-learning:']) {
    t = edit(t, '    firewall:\n      inbound:\n', `    firewall:\n      inbound:\n${NATS_RULE}`, `\n  ${host}\n    kind:`);
  }
  return t;
}

export function jetstreamPlatform(text = jetstreamText()): Platform {
  return parsePlatform(text, 'platform.yaml');
}

/** The jetstream variant with TLS on the NATS cluster (the secrets keep their default names). */
export function jetstreamTlsText(text = jetstreamText()): string {
  return edit(text, 'tls: { enabled: false }', 'tls: { enabled: true }');
}
