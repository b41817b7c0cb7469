import { COMPOSE_NETWORK } from '../compose.js';
import {
  alloyHosts,
  composeHosts,
  hostServiceOfKind,
  NATS_EXPORTER_SERVICE,
  servicePort,
  servicesOn,
  type Platform,
  type Service,
} from '../model/index.js';

/** Where Alloy runs on a host and what it can reach from there. */
export interface AlloyPlacement {
  host: string;
  /** Alloy runs as the compose service `alloy` (else as a host service). */
  inCompose: boolean;
  /** The host runs Docker containers, so container logs and cAdvisor apply. */
  docker: boolean;
  /** The compose network a containerised Alloy sits on. */
  network: string;
  /** Address the OTLP receiver binds: all of the container's interfaces (the compose network) or loopback. */
  bind: string;
  otlpGrpcPort: number;
  otlpHttpPort: number;
  /** The runtime services' metrics endpoints (a port named "metrics") on this host: the runtime host's, a worker host's. */
  runtimeTargets: Array<{ service: string; address: string }>;
  /** The NATS exporter beside a NATS server on this host (jetstream queue backend). */
  natsExporter?: { service: string; address: string };
}

const OTLP_GRPC_PORT = 4317;
const OTLP_HTTP_PORT = 4318;

export function placementOf(p: Platform, host: string): AlloyPlacement {
  const container = servicesOn(p, host).find(([n]) => n === 'alloy')?.[1];
  const inCompose = container !== undefined;
  const hostService = hostServiceOfKind(p, host, 'alloy');
  // From a container on the compose network a service is reachable by name; from the host, only
  // through a published port.
  const metricsAddress = (name: string, svc: Service): string | undefined => {
    const port = servicePort(svc, 'metrics');
    if (port === undefined) return undefined;
    const published = svc.publish.find((x) => x.port === port);
    return inCompose ? `${name}:${port}` : published ? `127.0.0.1:${published.hostPort}` : undefined;
  };
  const runtimeTargets: AlloyPlacement['runtimeTargets'] = [];
  let natsExporter: AlloyPlacement['natsExporter'];
  for (const [name, svc] of servicesOn(p, host)) {
    const address = metricsAddress(name, svc);
    if (!address) continue;
    if (svc.runtime) runtimeTargets.push({ service: name, address });
    else if (name === NATS_EXPORTER_SERVICE) natsExporter = { service: name, address };
  }
  return {
    host,
    inCompose,
    docker: composeHosts(p).includes(host),
    network: COMPOSE_NETWORK,
    bind: inCompose ? '0.0.0.0' : (hostService?.[1].listen?.split(':')[0] ?? '127.0.0.1'),
    otlpGrpcPort: (container && servicePort(container, 'otlp-grpc')) ?? OTLP_GRPC_PORT,
    otlpHttpPort: (container && servicePort(container, 'otlp-http')) ?? OTLP_HTTP_PORT,
    runtimeTargets,
    ...(natsExporter ? { natsExporter } : {}),
  };
}

/** Every host that runs Alloy, in model order. */
export function alloyHostsOf(p: Platform): AlloyPlacement[] {
  return alloyHosts(p).map((h) => placementOf(p, h));
}
