import { createHash } from 'node:crypto';
import {
  VizLegendOptionsBuilder,
  LegendDisplayMode,
  LegendPlacement,
  StackingConfigBuilder,
  StackingMode,
  BigValueGraphMode,
  ReduceDataOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common';
import {
  CustomVariableBuilder,
  DashboardBuilder,
  DatasourceVariableBuilder,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  type Dashboard,
  type DataSourceRef,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

/*
 * A small declarative layer over the Grafana Foundation SDK: a dashboard is rows of panels, each
 * panel a few catalog-built queries. Panel ids are assigned in order and the uid is derived from
 * the names, so the JSON is the same on every render.
 */

export interface Target {
  expr: string;
  legend?: string;
}

export interface PanelSpec {
  kind: 'timeseries' | 'stat';
  title: string;
  description?: string;
  /** A Grafana unit id: "s", "bytes", "percentunit", "short", "reqps", "dateTimeFromNow", ... */
  unit: string;
  targets: Target[];
  /** Width in grid columns (of 24) and height in grid rows. */
  w: number;
  h?: number;
  stacked?: boolean;
  /** Stat panels: the value from which the panel turns red (green below). */
  redFrom?: number;
  /** Stat panels: green at and above this value, red below (e.g. availability). */
  greenFrom?: number;
}

export interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

export interface VariableSpec {
  name: string;
  label: string;
  /** Fixed values, from the model. */
  values: string[];
}

export interface DashboardSpec {
  /** Short name: the file name and the seed of the uid. */
  name: string;
  title: string;
  description: string;
  variables: VariableSpec[];
  rows: RowSpec[];
}

/** The datasource variable every panel queries through. */
export const DATASOURCE_VARIABLE = 'datasource';
const DATASOURCE: DataSourceRef = { type: 'prometheus', uid: `\${${DATASOURCE_VARIABLE}}` };

/** A stable uid (Grafana allows 40 characters): readable prefix plus a hash of platform and name. */
export function dashboardUid(platform: string, name: string): string {
  const hash = createHash('sha256').update(`${platform}/${name}`).digest('hex').slice(0, 10);
  return `${name.slice(0, 24)}-${hash}`;
}

function target(t: Target, i: number): DataqueryBuilder {
  const q = new DataqueryBuilder()
    .refId(String.fromCharCode(65 + i))
    .expr(t.expr)
    .range();
  return t.legend === undefined ? q : q.legendFormat(t.legend);
}

function thresholds(spec: PanelSpec): ThresholdsConfigBuilder | undefined {
  if (spec.redFrom !== undefined) {
    return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([
      { value: null, color: 'green' },
      { value: spec.redFrom, color: 'red' },
    ]);
  }
  if (spec.greenFrom !== undefined) {
    return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([
      { value: null, color: 'red' },
      { value: spec.greenFrom, color: 'green' },
    ]);
  }
  return undefined;
}

function panel(spec: PanelSpec, id: number): TimeseriesPanelBuilder | StatPanelBuilder {
  const h = spec.h ?? (spec.kind === 'stat' ? 5 : 8);
  const t = thresholds(spec);
  if (spec.kind === 'stat') {
    const b = new StatPanelBuilder()
      .id(id)
      .title(spec.title)
      .datasource(DATASOURCE)
      .unit(spec.unit)
      .span(spec.w)
      .height(h)
      .graphMode(BigValueGraphMode.Area)
      .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
    spec.targets.forEach((x, i) => b.withTarget(target(x, i)));
    if (spec.description) b.description(spec.description);
    if (t) b.thresholds(t);
    return b;
  }
  const b = new TimeseriesPanelBuilder()
    .id(id)
    .title(spec.title)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .span(spec.w)
    .height(h)
    .fillOpacity(spec.stacked ? 30 : 10)
    .legend(new VizLegendOptionsBuilder().showLegend(true).displayMode(LegendDisplayMode.List).placement(LegendPlacement.Bottom));
  spec.targets.forEach((x, i) => b.withTarget(target(x, i)));
  if (spec.description) b.description(spec.description);
  if (spec.stacked) b.stacking(new StackingConfigBuilder().mode(StackingMode.Normal));
  if (t) b.thresholds(t);
  return b;
}

export function buildDashboard(platform: string, spec: DashboardSpec): Dashboard {
  const d = new DashboardBuilder(spec.title)
    .uid(dashboardUid(platform, spec.name))
    .description(spec.description)
    .tags([platform, 'generated'])
    .editable()
    .refresh('1m')
    .time({ from: 'now-6h', to: 'now' })
    .timezone('browser')
    .withVariable(new DatasourceVariableBuilder(DATASOURCE_VARIABLE).label('Data source').type('prometheus'));
  for (const v of spec.variables) {
    d.withVariable(
      new CustomVariableBuilder(v.name)
        .label(v.label)
        .values(v.values.join(','))
        .multi(true)
        .includeAll(true)
        .allValue('.*')
        .current({ text: 'All', value: '$__all' }),
    );
  }
  let id = 0;
  for (const row of spec.rows) {
    d.withRow(new RowBuilder(row.title).id(++id));
    for (const p of row.panels) d.withPanel(panel(p, ++id));
  }
  return d.build();
}
