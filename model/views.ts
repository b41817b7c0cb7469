import { withQueueServices } from './nats.js';
import type { Host, HostService, Platform, Route, Service } from './schema.js';

/*
 * Derived views: questions generators ask of the model, answered in one place.
 * All functions are pure and return entries in a stable order.
 */

export const RUNTIME_SERVICES = ['web', 'worker', 'mcp', 'rag'] as const;

export function hostNames(p: Platform): string[] {
  return Object.keys(p.hosts);
}

/**
 * Compose services placed on `host`, in model order, then those the JetStream queue adds (the NATS
 * server and its exporter, the gateway, a worker on each worker host; see model/nats.ts).
 */
export function servicesOn(p: Platform, host: string): [string, Service][] {
  return withQueueServices(
    p,
    host,
    Object.entries(p.services).filter(([, s]) => s.host === host),
    runtimeHost(p),
  );
}

/** Hosts that run at least one compose service, in model order. */
export function composeHosts(p: Platform): string[] {
  return hostNames(p).filter((h) => servicesOn(p, h).length > 0);
}

export function hostServicesOf(p: Platform, host: string): [string, HostService][] {
  return Object.entries(p.hosts[host]?.hostServices ?? {});
}

export function hostServiceOfKind<K extends HostService['kind']>(
  p: Platform,
  host: string,
  kind: K,
): [string, Extract<HostService, { kind: K }>] | undefined {
  const hit = hostServicesOf(p, host).find(([, s]) => s.kind === kind);
  return hit as [string, Extract<HostService, { kind: K }>] | undefined;
}

/** The address Ansible and other hosts use: tailnet first, then public. */
export function connectionAddress(h: Host): string | undefined {
  return h.addresses.tailnet ?? h.addresses.public;
}

export function listenOf(s: HostService): { address: string; port: number } | undefined {
  if (!('listen' in s) || s.listen === undefined) return undefined;
  const [address, port] = s.listen.split(':');
  return { address: address!, port: Number(port) };
}

/** Hosts that run Grafana Alloy, in a container or on the host. */
export function alloyHosts(p: Platform): string[] {
  return hostNames(p).filter((h) => hostServiceOfKind(p, h, 'alloy') !== undefined || servicesOn(p, h).some(([n]) => n === 'alloy'));
}

/** The host the runtime's services run on. */
export function runtimeHost(p: Platform): string {
  return p.services.worker?.host ?? p.services.web?.host ?? '';
}

/** The runtime image's full name and tag (`registry/repository:tag`), or undefined without one. */
export function runtimeImageRef(p: Platform): string | undefined {
  const i = p.runtimeImage;
  return i ? `${i.registry}/${i.repository}:${i.tag}` : undefined;
}

/** The runtime image's name without its tag: what a digest is appended to (`name@sha256:...`). */
export function runtimeImageName(p: Platform): string | undefined {
  const i = p.runtimeImage;
  return i ? `${i.registry}/${i.repository}` : undefined;
}

/** First port of a compose service, or the named one. */
export function servicePort(s: Service, name?: string): number | undefined {
  return (name === undefined ? s.ports[0] : s.ports.find((x) => x.name === name))?.port;
}

/**
 * The URL of host service `name` on `host` as seen from containers on `fromHost`: through
 * host.docker.internal on the same host, otherwise over the tailnet (or the address it listens on).
 */
export function hostServiceUrl(p: Platform, host: string, name: string, fromHost: string | undefined): string | undefined {
  const h = p.hosts[host];
  const hs = h?.hostServices[name];
  const listen = hs && listenOf(hs);
  if (!h || !listen) return undefined;
  // On its own host a container reaches a loopback or wildcard listener through the host gateway;
  // one bound to a single address (davas's Ollama on its tailnet address) is reached at that address.
  const wildcard = listen.address === '0.0.0.0' || listen.address === '127.0.0.1';
  if (host === fromHost && wildcard) return `http://host.docker.internal:${listen.port}`;
  const address = wildcard ? connectionAddress(h) : listen.address;
  return `http://${address}:${listen.port}`;
}

/** The Ollama base URL of `host` as seen from containers on `fromHost`. */
export function ollamaUrl(p: Platform, host: string, fromHost: string): string | undefined {
  const hit = hostServiceOfKind(p, host, 'ollama');
  return hit && hostServiceUrl(p, host, hit[0], fromHost);
}

export type HostnameTarget =
  { kind: 'service'; service: string; host: string; port: number } | { kind: 'host-service'; service: string; host: string; port: number };

/** Resolve a public hostname's `target` ("web" or "davas/ollama"), or undefined if it names nothing. */
export function resolveTarget(p: Platform, target: string): HostnameTarget | undefined {
  const slash = target.indexOf('/');
  if (slash < 0) {
    const s = p.services[target];
    const port = s && servicePort(s);
    return s && port !== undefined ? { kind: 'service', service: target, host: s.host, port } : undefined;
  }
  const host = target.slice(0, slash);
  const name = target.slice(slash + 1);
  const hs = p.hosts[host]?.hostServices[name];
  const listen = hs && listenOf(hs);
  return listen ? { kind: 'host-service', service: name, host, port: listen.port } : undefined;
}

/** The origin URL cloudflared (running as the tunnel's connector service) uses for a target. */
export function originUrl(p: Platform, t: HostnameTarget): string {
  if (t.kind === 'service') return `http://${t.service}:${t.port}`;
  return hostServiceUrl(p, t.host, t.service, p.services[p.cloudflare.tunnel.connector]?.host)!;
}

export interface PublicEndpoint {
  hostname: string;
  target: HostnameTarget;
  origin: string;
  access: Platform['cloudflare']['hostnames'][number]['access'];
}

export function publicEndpoints(p: Platform): PublicEndpoint[] {
  return p.cloudflare.hostnames.flatMap((h) => {
    const target = resolveTarget(p, h.target);
    return target ? [{ hostname: h.hostname, target, origin: originUrl(p, target), access: h.access }] : [];
  });
}

export function identityFor(p: Platform, host: string): Platform['infisical']['identities'][number] | undefined {
  return p.infisical.identities.find((i) => i.hosts.includes(host));
}

/** Named volumes used on `host`, sorted. */
export function namedVolumesOn(p: Platform, host: string): string[] {
  const names = servicesOn(p, host).flatMap(([, s]) => s.volumes.flatMap((v) => (v.type === 'volume' ? [v.source] : [])));
  return [...new Set(names)].sort();
}

export function routeTimeoutSeconds(p: Platform, r: Route): number {
  return r.timeoutSeconds ?? p.routing.providers[r.provider].timeoutSeconds;
}

export function ollamaHosts(p: Platform): string[] {
  return hostNames(p).filter((h) => hostServiceOfKind(p, h, 'ollama') !== undefined);
}
