import type { Platform } from '../model/index.js';
import { GENERATED_NOTICE, type Artifact, type Generator } from '../render/types.js';
import { alloyHostsOf, type AlloyPlacement } from './placement.js';
import { attr, block, comment, env, ref, render, type Block, type Statement } from './syntax.js';

/*
 * One Alloy config per host that runs Alloy: container logs to Loki, host and container metrics
 * plus the runtime's own to Mimir, and OTLP traces from the runtime to Tempo. Credentials are
 * read from Alloy's environment at run time (`sys.env`), under the secret names the model gives;
 * the Infisical agent materialises them, so no token is ever written here.
 */

/** Every component the generator may emit; tools/alloy-check refuses any other. */
export const ALLOY_COMPONENTS = [
  'discovery.docker',
  'discovery.relabel',
  'loki.source.docker',
  'loki.source.journal',
  'loki.write',
  'prometheus.exporter.unix',
  'prometheus.exporter.cadvisor',
  'prometheus.scrape',
  'prometheus.remote_write',
  'otelcol.receiver.otlp',
  'otelcol.processor.batch',
  'otelcol.exporter.otlp',
  'otelcol.auth.basic',
] as const;

const DOCKER_SOCKET = 'unix:///var/run/docker.sock';
const SCRAPE_INTERVAL = '30s';

/** Grafana Cloud's OTLP gRPC endpoint as host:port, the form otelcol.exporter.otlp expects. */
export function tempoEndpoint(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || (u.protocol === 'http:' ? '80' : '443')}`;
}

function basicAuth(user: string, tokenSecret: string): Block {
  return block('basic_auth', undefined, [attr('username', user), attr('password', env(tokenSecret))]);
}

function externalLabels(p: Platform, host: string): Record<string, string> {
  return { host, env: p.env };
}

/** A Grafana Cloud writer (Loki or Mimir): its push endpoint with basic auth, and the external labels. */
function cloudWriter(
  component: 'loki.write' | 'prometheus.remote_write',
  e: { url: string; user: string; tokenSecret: string },
  p: Platform,
  host: string,
): Block {
  return block(component, 'cloud', [
    block('endpoint', undefined, [attr('url', e.url), basicAuth(e.user, e.tokenSecret)]),
    attr('external_labels', externalLabels(p, host)),
  ]);
}

function logs(p: Platform, a: AlloyPlacement): Statement[] {
  const loki = p.observability.grafanaCloud.loki;
  const out: Statement[] = [];
  if (a.docker) {
    out.push(
      comment('Container logs: every container on this host, labelled by compose service.'),
      block('discovery.docker', 'containers', [attr('host', DOCKER_SOCKET), attr('refresh_interval', '30s')]),
      // Rules only: loki.source.docker applies them to each container's log stream.
      block('discovery.relabel', 'containers', [
        attr('targets', []),
        block('rule', undefined, [
          attr('source_labels', ['__meta_docker_container_name']),
          attr('regex', '/(.*)'),
          attr('target_label', 'container'),
        ]),
        block('rule', undefined, [
          attr('source_labels', ['__meta_docker_container_label_com_docker_compose_service']),
          attr('target_label', 'service'),
        ]),
        block('rule', undefined, [attr('source_labels', ['__meta_docker_container_log_stream']), attr('target_label', 'stream')]),
      ]),
      block('loki.source.docker', 'containers', [
        attr('host', DOCKER_SOCKET),
        attr('targets', ref('discovery.docker', 'containers', 'targets')),
        attr('relabel_rules', ref('discovery.relabel', 'containers', 'rules')),
        attr('labels', { source: 'docker' }),
        attr('forward_to', [ref('loki.write', 'cloud', 'receiver')]),
      ]),
    );
  }
  if (!a.docker && !a.inCompose) {
    out.push(
      comment('No containers here: ship the systemd journal (Ollama, Alloy itself) instead.'),
      block('loki.source.journal', 'system', [
        attr('max_age', '12h'),
        attr('labels', { source: 'journal' }),
        attr('forward_to', [ref('loki.write', 'cloud', 'receiver')]),
      ]),
    );
  }
  out.push(cloudWriter('loki.write', loki, p, a.host));
  return out;
}

function metrics(p: Platform, a: AlloyPlacement): Statement[] {
  const prom = p.observability.grafanaCloud.prometheus;
  const write = ref('prometheus.remote_write', 'cloud', 'receiver');
  const out: Statement[] = [comment('Host metrics (node_exporter).')];
  out.push(
    block('prometheus.exporter.unix', 'node', [
      // In a container the host's filesystems are bind-mounted under /rootfs (see the compose file).
      ...(a.inCompose ? [attr('rootfs_path', '/rootfs'), attr('procfs_path', '/rootfs/proc'), attr('sysfs_path', '/sys')] : []),
      attr('disable_collectors', ['mdadm', 'nfs', 'nfsd', 'zfs']),
    ]),
    block('prometheus.scrape', 'node', [
      attr('targets', ref('prometheus.exporter.unix', 'node', 'targets')),
      attr('scrape_interval', SCRAPE_INTERVAL),
      attr('forward_to', [write]),
    ]),
  );
  if (a.docker) {
    out.push(
      comment('Container metrics (cAdvisor), Docker containers only.'),
      block('prometheus.exporter.cadvisor', 'containers', [
        attr('docker_host', DOCKER_SOCKET),
        attr('docker_only', true),
        attr('store_container_labels', false),
      ]),
      block('prometheus.scrape', 'containers', [
        attr('targets', ref('prometheus.exporter.cadvisor', 'containers', 'targets')),
        attr('scrape_interval', SCRAPE_INTERVAL),
        attr('forward_to', [write]),
      ]),
    );
  }
  if (a.runtimeTargets.length) {
    out.push(
      comment('The runtime\'s own metrics (each runtime service\'s port named "metrics").'),
      block('prometheus.scrape', 'runtime', [
        attr(
          'targets',
          a.runtimeTargets.map((t) => ({ __address__: t.address, service: t.service })),
        ),
        attr('job_name', 'platform-runtime'),
        attr('scrape_interval', SCRAPE_INTERVAL),
        attr('forward_to', [write]),
      ]),
    );
  }
  if (a.natsExporter) {
    out.push(
      comment('The NATS server beside it: server, routes, and JetStream streams and consumers (prometheus-nats-exporter).'),
      block('prometheus.scrape', 'nats', [
        attr('targets', [{ __address__: a.natsExporter.address, service: a.natsExporter.service }]),
        attr('job_name', 'nats'),
        attr('scrape_interval', SCRAPE_INTERVAL),
        attr('forward_to', [write]),
      ]),
    );
  }
  out.push(cloudWriter('prometheus.remote_write', prom, p, a.host));
  return out;
}

function traces(p: Platform, a: AlloyPlacement): Statement[] {
  const tempo = p.observability.grafanaCloud.tempo;
  return [
    comment(
      a.inCompose
        ? `OTLP from the runtime. The container publishes no ports, so these listen on the "${a.network}" compose network only.`
        : 'OTLP from local processes: loopback only.',
    ),
    block('otelcol.receiver.otlp', 'default', [
      block('grpc', undefined, [attr('endpoint', `${a.bind}:${a.otlpGrpcPort}`)]),
      block('http', undefined, [attr('endpoint', `${a.bind}:${a.otlpHttpPort}`)]),
      block('output', undefined, [attr('traces', [ref('otelcol.processor.batch', 'default', 'input')])]),
    ]),
    block('otelcol.processor.batch', 'default', [
      block('output', undefined, [attr('traces', [ref('otelcol.exporter.otlp', 'tempo', 'input')])]),
    ]),
    block('otelcol.auth.basic', 'tempo', [attr('username', tempo.user), attr('password', env(tempo.tokenSecret))]),
    block('otelcol.exporter.otlp', 'tempo', [
      block('client', undefined, [attr('endpoint', tempoEndpoint(tempo.url)), attr('auth', ref('otelcol.auth.basic', 'tempo', 'handler'))]),
    ]),
  ];
}

/** The statements of one host's config.alloy. */
export function alloyConfig(p: Platform, a: AlloyPlacement): Statement[] {
  return [
    comment(`${GENERATED_NOTICE}\nAlloy on ${a.host} (${a.inCompose ? 'compose service' : 'host service'}).`),
    block('logging', undefined, [attr('level', 'info'), attr('format', 'logfmt')]),
    ...logs(p, a),
    ...metrics(p, a),
    ...traces(p, a),
  ];
}

export const alloyGenerator: Generator = {
  name: 'alloy',
  generate(p): Artifact[] {
    return alloyHostsOf(p).map((a) => ({ path: `hosts/${a.host}/config.alloy`, content: render(alloyConfig(p, a)) }));
  },
};
