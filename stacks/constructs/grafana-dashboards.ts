import { Construct } from 'constructs';
import { checkProps, StackError } from '../errors.js';
import { externalLiteral } from '../literal.js';
import { GrafanaDashboard, GrafanaFolder } from '../providers/grafana.js';

export interface DashboardFile {
  /** File name without .json, e.g. "jobs". */
  readonly name: string;
  /** The file's text, exactly as generated. */
  readonly json: string;
}

export interface GrafanaDashboardsProps {
  readonly folderTitle: string;
  readonly folderUid: string;
  readonly dashboards: readonly DashboardFile[];
}

/**
 * A folder and one dashboard per generated JSON file. The JSON reaches Grafana unchanged: its own
 * template variables (`${datasource}`) are escaped for Terraform, which decodes them back.
 */
export class GrafanaDashboards extends Construct {
  readonly folder: GrafanaFolder;
  readonly dashboards: readonly GrafanaDashboard[];

  constructor(scope: Construct, id: string, props: GrafanaDashboardsProps) {
    super(scope, id);
    const problems: string[] = [];
    if (!/^[A-Za-z0-9_-]{1,40}$/.test(props.folderUid))
      problems.push(`folder uid "${props.folderUid}" is not 1-40 letters, digits, "-" or "_"`);
    const names = new Set<string>();
    for (const d of props.dashboards) {
      if (!/^[a-z0-9][a-z0-9_-]*$/.test(d.name)) problems.push(`dashboard file name "${d.name}" is not a lower-case name`);
      if (names.has(d.name)) problems.push(`dashboard "${d.name}" is listed twice`);
      names.add(d.name);
      let parsed: unknown;
      try {
        parsed = JSON.parse(d.json);
      } catch (e) {
        throw StackError.create('DASHBOARD_INVALID', { name: d.name, reason: (e as Error).message }, { cause: e });
      }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed) || typeof (parsed as { title?: unknown }).title !== 'string') {
        problems.push(`dashboard "${d.name}" is not a dashboard object with a "title"`);
      }
    }
    checkProps(this, problems);

    this.folder = new GrafanaFolder(this, 'folder', { title: props.folderTitle, uid: props.folderUid });
    this.dashboards = props.dashboards.map(
      (d) =>
        new GrafanaDashboard(this, `dashboard-${d.name}`, {
          configJson: externalLiteral(`dashboard "${d.name}"`, d.json),
          folder: this.folder,
          overwrite: true,
          message: 'generated from platform.yaml',
        }),
    );
  }
}
