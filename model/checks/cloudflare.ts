import type { Platform } from '../schema.js';
import { oneOf } from '../suggest.js';
import { hostServicesOf, listenOf, resolveTarget } from '../views.js';
import { dupes, problems, type RawProblem } from './problems.js';

/* cloudflare: the zone, the tunnel connector and every public hostname's target. */
export function checkCloudflare(p: Platform): RawProblem[] {
  const { list, add } = problems();
  const zone = p.cloudflare.zone;
  const services = Object.keys(p.services);
  if (p.domain !== zone && !p.domain.endsWith(`.${zone}`))
    add(
      ['cloudflare', 'zone'],
      `zone "${zone}" does not contain the domain "${p.domain}"`,
      `set the zone to "${p.domain}" or a parent of it`,
    );
  const connectorName = p.cloudflare.tunnel.connector;
  const connector = p.services[connectorName];
  if (!connector)
    add(['cloudflare', 'tunnel', 'connector'], `tunnel connector "${connectorName}" is not a service`, oneOf(connectorName, services));
  else if (!connector.secrets.includes(p.cloudflare.tunnel.tokenSecret)) {
    add(
      ['cloudflare', 'tunnel', 'connector'],
      `the tunnel token is written to secret "${p.cloudflare.tunnel.tokenSecret}", but connector service "${connectorName}" does not list it`,
      `add "${p.cloudflare.tunnel.tokenSecret}" to services.${connectorName}.secrets (cloudflared reads TUNNEL_TOKEN)`,
    );
  }
  p.cloudflare.hostnames.forEach((h, i) => {
    if (h.hostname !== zone && !h.hostname.endsWith(`.${zone}`))
      add(
        ['cloudflare', 'hostnames', i, 'hostname'],
        `hostname "${h.hostname}" is outside the zone "${zone}"`,
        `use a name ending in ".${zone}"`,
      );
    const target = resolveTarget(p, h.target);
    if (!target) {
      const candidates = [
        ...services,
        ...Object.keys(p.hosts).flatMap((hn) =>
          hostServicesOf(p, hn)
            .filter(([, s]) => listenOf(s))
            .map(([sn]) => `${hn}/${sn}`),
        ),
      ];
      add(
        ['cloudflare', 'hostnames', i, 'target'],
        `hostname "${h.hostname}" points at "${h.target}", which is neither a service with a port nor a host service with a listen address`,
        oneOf(h.target, candidates),
      );
    } else if (target.kind === 'service' && connector && p.hosts[connector.host] && target.host !== connector.host) {
      // cloudflared reaches a compose service by its name on its own compose network only: the
      // origin `http://<service>:<port>` resolves to nothing on another host.
      add(
        ['cloudflare', 'hostnames', i, 'target'],
        `hostname "${h.hostname}" points at service "${h.target}" on "${target.host}", but the tunnel connector "${connectorName}" runs on "${connector.host}" and reaches compose services on its own host only`,
        `place "${h.target}" on "${connector.host}", or point the hostname at a service on "${connector.host}" or at a host service as "<host>/<service>"`,
      );
    }
  });
  dupes(p.cloudflare.hostnames.map((h) => h.hostname)).forEach((i) =>
    add(
      ['cloudflare', 'hostnames', i, 'hostname'],
      `hostname "${p.cloudflare.hostnames[i]!.hostname}" is defined twice`,
      'define each hostname once',
    ),
  );
  return list;
}
