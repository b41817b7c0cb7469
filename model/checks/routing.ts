import type { Platform } from '../schema.js';
import { oneOf } from '../suggest.js';
import { hostServiceOfKind } from '../views.js';
import { dupes, problems, type RawProblem } from './problems.js';

/* routing: every model id routed once, to a host that runs Ollama and has the model pulled. */
export function checkRouting(p: Platform): RawProblem[] {
  const { list, add } = problems();
  const hosts = Object.keys(p.hosts);
  const routes = p.routing.models;
  dupes(routes.map((r) => r.id)).forEach((i) =>
    add(['routing', 'models', i, 'id'], `model id "${routes[i]!.id}" is routed twice`, 'route each model id once'),
  );
  routes.forEach((r, i) => {
    if (r.provider === 'ollama') {
      if (r.host === undefined) {
        add(
          ['routing', 'models', i],
          `Ollama model "${r.id}" has no host`,
          `add "host:" naming a host that runs Ollama: ${ollamaHostList(p)}`,
          true,
        );
      } else if (!p.hosts[r.host]) {
        add(['routing', 'models', i, 'host'], `model "${r.id}" is routed to unknown host "${r.host}"`, oneOf(r.host, hosts));
      } else {
        const ollama = hostServiceOfKind(p, r.host, 'ollama');
        if (!ollama)
          add(
            ['routing', 'models', i, 'host'],
            `model "${r.id}" is routed to "${r.host}", which runs no Ollama`,
            `route it to a host that runs Ollama (${ollamaHostList(p)}) or add an ollama host service to "${r.host}"`,
          );
        else if (!ollama[1].models.includes(r.id))
          add(
            ['routing', 'models', i, 'id'],
            `model "${r.id}" is not pulled on "${r.host}"`,
            `add "${r.id}" to hosts.${r.host}.hostServices.${ollama[0]}.models`,
          );
      }
    } else if (r.host !== undefined) {
      add(
        ['routing', 'models', i, 'host'],
        `"host" applies to Ollama models only; "${r.id}" is served by ${r.provider}`,
        'remove "host"',
        true,
      );
    }
    if (r.provider === 'gemini' && !r.id.startsWith('models/'))
      add(
        ['routing', 'models', i, 'id'],
        `Gemini model id "${r.id}" lacks the "models/" prefix its OpenAI-compatible endpoint requires`,
        `write "models/${r.id}"`,
      );
  });
  if (!routes.some((r) => r.id === p.routing.default))
    add(
      ['routing', 'default'],
      `default model "${p.routing.default}" is not in routing.models`,
      oneOf(
        p.routing.default,
        routes.map((r) => r.id),
      ),
    );
  else if (routes.find((r) => r.id === p.routing.default)?.healthGated)
    add(
      ['routing', 'default'],
      `default model "${p.routing.default}" is health-gated, so the default would vanish when its host is down`,
      'make an always-on model the default',
    );
  const emb = p.routing.embedding;
  if (!p.hosts[emb.host]) add(['routing', 'embedding', 'host'], `embedding host "${emb.host}" is unknown`, oneOf(emb.host, hosts));
  else {
    const ollama = hostServiceOfKind(p, emb.host, 'ollama');
    if (!ollama) add(['routing', 'embedding', 'host'], `embedding host "${emb.host}" runs no Ollama`, `use one of: ${ollamaHostList(p)}`);
    else if (!ollama[1].models.includes(emb.model))
      add(
        ['routing', 'embedding', 'model'],
        `embedding model "${emb.model}" is not pulled on "${emb.host}"`,
        `add "${emb.model}" to hosts.${emb.host}.hostServices.${ollama[0]}.models`,
      );
  }
  return list;
}

function ollamaHostList(p: Platform): string {
  const list = Object.keys(p.hosts).filter((h) => hostServiceOfKind(p, h, 'ollama'));
  return list.length ? list.join(', ') : '(no host runs Ollama)';
}
