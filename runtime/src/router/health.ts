import type { RuntimeConfig } from '../config/index.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { OllamaProvider } from '../providers/ollama.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { HostStateChange, HostStatus } from './types.js';

/*
 * Health checks of the health-gated Ollama hosts, in the background. State changes are logged
 * and handed to a callback; starting up with a host reachable is not a change worth telling.
 */

export interface HealthMonitorDeps {
  config: Pick<RuntimeConfig, 'ollamaHosts' | 'routing'>;
  ollama: ReadonlyMap<string, OllamaProvider>;
  log: Logger;
  metrics?: Metrics | undefined;
  onStateChange?: ((change: HostStateChange) => void) | undefined;
  now: () => number;
}

export class HealthMonitor {
  private readonly gated = new Map<string, HostStatus>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private inflight: Promise<void> | undefined;

  constructor(private readonly deps: HealthMonitorDeps) {
    const { config } = deps;
    for (const r of config.routing.models) {
      if (r.provider === 'ollama' && r.healthGated && r.host && !this.gated.has(r.host)) {
        this.gated.set(r.host, { host: r.host, url: config.ollamaHosts[r.host] ?? '', state: 'unknown' });
      }
    }
  }

  /** The live status of a gated host; undefined when the host is not health-gated. */
  status(host: string): HostStatus | undefined {
    return this.gated.get(host);
  }

  statuses(): HostStatus[] {
    return [...this.gated.values()].map((s) => ({ ...s }));
  }

  /** Starts background health checks; resolves after the first round. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.checkNow();
    this.schedule();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.inflight;
  }

  /** Checks every health-gated host once. */
  async checkNow(): Promise<void> {
    if (this.inflight) return this.inflight;
    this.inflight = Promise.all([...this.gated.values()].map((s) => this.checkHost(s))).then(() => undefined);
    try {
      await this.inflight;
    } finally {
      this.inflight = undefined;
    }
  }

  downReason(s: HostStatus): string {
    const ago = s.checkedAt !== undefined ? ` (checked ${Math.max(0, Math.round((this.deps.now() - s.checkedAt) / 1000))}s ago)` : '';
    return `${s.host} is unreachable: ${s.reason ?? 'health check failed'}${ago}`;
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      void this.checkNow().finally(() => this.schedule());
    }, this.deps.config.routing.health.intervalMs);
    this.timer.unref();
  }

  private async checkHost(s: HostStatus): Promise<void> {
    const { log, metrics } = this.deps;
    const p = this.deps.ollama.get(s.host);
    if (!p) return;
    const h = await p.health(this.deps.config.routing.health.timeoutMs);
    const previous = s.state;
    s.state = h.ok ? 'up' : 'down';
    s.checkedAt = this.deps.now();
    s.latencyMs = h.latencyMs;
    if (h.ok) delete s.reason;
    else s.reason = h.reason ?? 'health check failed';
    metrics?.set('platform_provider_up', h.ok ? 1 : 0, { provider: 'ollama', host: s.host });
    if (previous === s.state) return;
    const fields = { provider: 'ollama', host: s.host, url: s.url, previous, state: s.state, ...(s.reason ? { reason: s.reason } : {}) };
    if (h.ok) log.info('provider host is up', fields);
    else log.warn('provider host is down', fields);
    // Starting up with the host reachable is not news.
    if (previous === 'unknown' && h.ok) return;
    const change: HostStateChange = {
      provider: 'ollama',
      host: s.host,
      url: s.url,
      previous,
      state: s.state,
      at: new Date(s.checkedAt),
      ...(s.reason ? { reason: s.reason } : {}),
    };
    try {
      this.deps.onStateChange?.(change);
    } catch (e) {
      log.warn('state change callback threw', { error: describeError(e) });
    }
  }
}
