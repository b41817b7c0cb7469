import { PlatformError } from '../model/index.js';

/*
 * The subset of Prometheus's template functions the rules' annotations use, reimplemented so the
 * promtool unit tests can state the exact annotation text an alert renders to.
 */

/** Go's %.4g for the magnitudes annotations show. */
export function g4(v: number): string {
  if (v === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(v)));
  if (exp < -4 || exp >= 4) {
    const [mant, e] = v.toExponential(3).split('e');
    const m = mant!.includes('.') ? mant!.replace(/0+$/, '').replace(/\.$/, '') : mant!;
    const n = Number(e);
    return `${m}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  const s = v.toPrecision(4);
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

export function humanize(v: number): string {
  if (v === 0 || !Number.isFinite(v)) return g4(v);
  if (Math.abs(v) >= 1) {
    const prefixes = ['k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y'];
    let prefix = '';
    for (const p of prefixes) {
      if (Math.abs(v) < 1000) break;
      prefix = p;
      v /= 1000;
    }
    return `${g4(v)}${prefix}`;
  }
  const prefixes = ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y'];
  let prefix = '';
  for (const p of prefixes) {
    if (Math.abs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return `${g4(v)}${prefix}`;
}

export function humanizePercentage(v: number): string {
  return `${g4(v * 100)}%`;
}

export function humanizeDuration(v: number): string {
  if (!Number.isFinite(v)) return g4(v);
  if (v === 0) return '0s';
  if (Math.abs(v) >= 1) {
    const sign = v < 0 ? '-' : '';
    const a = Math.abs(v);
    const seconds = Math.trunc(a) % 60;
    const minutes = Math.trunc(a / 60) % 60;
    const hours = Math.trunc(a / 3600) % 24;
    const days = Math.trunc(a / 86400);
    if (days !== 0) return `${sign}${days}d ${hours}h ${minutes}m ${seconds}s`;
    if (hours !== 0) return `${sign}${hours}h ${minutes}m ${seconds}s`;
    if (minutes !== 0) return `${sign}${minutes}m ${seconds}s`;
    return `${sign}${g4(a)}s`;
  }
  return `${g4(v * 1000)}ms`;
}

const FUNCS: Record<string, (v: number) => string> = { humanize, humanizePercentage, humanizeDuration };

/**
 * Render an annotation template for one alert: `{{ $labels.x }}`, `{{ $value }}` and
 * `{{ $value | fn }}` with the functions above. Anything else is refused, so a template the
 * tests cannot predict never reaches a rule.
 */
export function expand(template: string, labels: Readonly<Record<string, string>>, value: number): string {
  return template.replace(/\{\{\s*([^}]*?)\s*\}\}/g, (_, body: string) => {
    const label = /^\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)$/.exec(body);
    if (label) return labels[label[1]!] ?? '';
    const fn = /^\$value(?:\s*\|\s*([a-zA-Z]+))?$/.exec(body);
    if (fn) {
      if (fn[1] === undefined) return String(value);
      const f = FUNCS[fn[1]];
      if (f) return f(value);
    }
    throw new PlatformError('RENDER_FAILED', `annotation template "{{ ${body} }}" is not one the tests can predict`, {
      hint: 'use $labels.x, $value, or $value piped to humanize, humanizePercentage or humanizeDuration',
    });
  });
}
