import type { Platform } from '../schema.js';
import { oneOf } from '../suggest.js';
import { dupes, problems, type RawProblem } from './problems.js';

/* infisical: machine identities, the hosts they cover, one identity per host. */
export function checkInfisical(p: Platform): RawProblem[] {
  const { list, add } = problems();
  const hosts = Object.keys(p.hosts);
  p.infisical.identities.forEach((id, i) => {
    id.hosts.forEach((h, j) => {
      if (!p.hosts[h]) add(['infisical', 'identities', i, 'hosts', j], `identity "${id.name}" names unknown host "${h}"`, oneOf(h, hosts));
    });
  });
  dupes(p.infisical.identities.map((x) => x.name)).forEach((i) =>
    add(
      ['infisical', 'identities', i, 'name'],
      `identity "${p.infisical.identities[i]!.name}" is defined twice`,
      'give each identity a unique name',
    ),
  );
  const claimed = new Map<string, string>();
  p.infisical.identities.forEach((id, i) =>
    id.hosts.forEach((h, j) => {
      const prior = claimed.get(h);
      if (prior)
        add(
          ['infisical', 'identities', i, 'hosts', j],
          `host "${h}" is covered by identities "${prior}" and "${id.name}"`,
          'a host authenticates as exactly one identity: remove it from one',
        );
      claimed.set(h, id.name);
    }),
  );
  return list;
}
