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
    // The web control panel verifies Access JWTs itself: it needs the team and the audience tag.
    if (h.target === 'web' && h.access?.policy === 'people') {
      const web = p.services.web;
      if (!h.access.audienceSecret)
        add(
          ['cloudflare', 'hostnames', i, 'access'],
          `the web control panel behind "${h.hostname}" checks Access JWTs, but no secret is named for the application's audience tag`,
          'add "audienceSecret: CF_ACCESS_AUD" (the edge stack writes the tag there) and list it under services.web.secrets',
          true,
        );
      else if (web && !web.secrets.includes(h.access.audienceSecret))
        add(
          ['cloudflare', 'hostnames', i, 'access', 'audienceSecret'],
          `the audience tag is written to secret "${h.access.audienceSecret}", but service "web" does not list it`,
          `add "${h.access.audienceSecret}" to services.web.secrets`,
        );
      if (!p.cloudflare.access)
        add(
          ['cloudflare'],
          `the web control panel behind "${h.hostname}" checks Access JWTs, but the model names no Access team`,
          'add "access: { teamDomain: <team>.cloudflareaccess.com }" under cloudflare',
          true,
        );
    }
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
