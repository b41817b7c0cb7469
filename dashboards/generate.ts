import type { Artifact, Generator } from '../render/types.js';
import { toJson } from '../render/yaml.js';
import { buildDashboard } from './build.js';
import { dashboardSpecs } from './specs.js';

/*
 * Grafana dashboards as JSON (JSON has no comments, so the notice goes in the description).
 * They are deployed by the Grafana Cloud stack (stacks/) or imported by hand.
 */

export const dashboardsGenerator: Generator = {
  name: 'dashboards',
  generate(p): Artifact[] {
    return dashboardSpecs(p).map((spec) => {
      const d = buildDashboard(p.name, {
        ...spec,
        description: `${spec.description} Generated from platform.yaml by make render, do not edit.`,
      });
      return { path: `grafana/dashboards/${spec.name}.json`, content: toJson(d) };
    });
  },
};
