import { constants } from 'node:fs';
import { access, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import type { RuntimeConfig } from '../config/index.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { OllamaProvider } from '../providers/ollama.js';
import type { Db } from '../store/db.js';

/*
 * The health page's data, refreshed in the background: a request reads the last snapshot and
 * never waits on a dependency (a host that hangs for minutes only makes its own entry stale).
 * Each probe is bounded by the probe timeout.
 */

export type DependencyState = 'up' | 'down' | 'unknown' | 'unconfigured';

export interface DependencyHealth {
  name: string;
  kind: 'ollama' | 'provider' | 'mcp' | 'retrieval' | 'vault' | 'sqlite';
  state: DependencyState;
  latencyMs: number | null;
  reason: string | null;
  checkedAt: string | null;
}

export interface HealthSnapshot {
  status: 'ok' | 'degraded' | 'starting';
  checkedAt: string | null;
  dependencies: DependencyHealth[];
}

export interface HealthMonitorProps {
  config: RuntimeConfig;
  db: Db;
  log: Logger;
  intervalMs: number;
  timeoutMs: number;
}

type Probe = () => Promise<{ state: DependencyState; reason?: string }>;

export class HealthMonitor {
  private readonly entries = new Map<string, DependencyHealth>();
  private readonly probes = new Map<string, Probe>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastRound: string | null = null;
  private stopped = true;

  constructor(private readonly props: HealthMonitorProps) {
    const { config } = props;
    for (const [host, url] of Object.entries(config.ollamaHosts)) {
      const p = new OllamaProvider({ host, baseUrl: url });
      this.add(`ollama:${host}`, 'ollama', async () => {
        const h = await p.health(props.timeoutMs);
        return h.ok ? { state: 'up' } : { state: 'down', reason: h.reason ?? 'health check failed' };
      });
    }
    for (const kind of ['groq', 'gemini', 'anthropic'] as const) {
      const secret = config.providers[kind].apiKeySecret;
      // Hosted providers are not called for health (each call costs); the key is what we can know.
      this.add(`provider:${kind}`, 'provider', async () =>
        config.secrets.providers[kind] ? { state: 'up' } : { state: 'unconfigured', reason: `${secret} is not set` },
      );
    }
    this.add('mcp', 'mcp', async () => {
      const res = await fetch(new URL('/healthz', config.services.mcpUrl), { signal: AbortSignal.timeout(props.timeoutMs) });
      await res.body?.cancel();
      return res.ok ? { state: 'up' } : { state: 'down', reason: `HTTP ${res.status} from ${config.services.mcpUrl}/healthz` };
    });
    this.add('retrieval', 'retrieval', async () => ({
      state: 'unconfigured',
      reason: 'RAG_UNAVAILABLE: retrieval over the vault is not built in this version',
    }));
    this.add('vault', 'vault', async () => {
      const queue = join(config.vault.path, config.vault.folders.queue);
      const st = await lstat(config.vault.path);
      if (!st.isDirectory()) return { state: 'down', reason: `${config.vault.path} is not a directory` };
      await access(queue, constants.W_OK);
      return { state: 'up' };
    });
    this.add('sqlite', 'sqlite', async () => {
      props.db.prepare('SELECT 1').get();
      return { state: 'up' };
    });
  }

  private add(name: string, kind: DependencyHealth['kind'], probe: Probe): void {
    this.entries.set(name, { name, kind, state: 'unknown', latencyMs: null, reason: 'not checked yet', checkedAt: null });
    this.probes.set(name, probe);
  }

  /** Starts the background refresh; the first round runs now but is not awaited. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const tick = (): void => {
      void this.refresh().finally(() => {
        if (this.stopped) return;
        this.timer = setTimeout(tick, this.props.intervalMs);
        this.timer.unref();
      });
    };
    tick();
  }

  /** Stops the refresh. A probe still in flight is not waited for: it is bounded by its timeout. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** One round of every probe, each bounded; concurrent callers share the round. */
  refresh(): Promise<void> {
    this.running ??= Promise.all([...this.probes].map(([name, probe]) => this.runProbe(name, probe))).then(() => {
      this.lastRound = new Date().toISOString();
      this.running = undefined;
    });
    return this.running;
  }

  private async runProbe(name: string, probe: Probe): Promise<void> {
    const started = performance.now();
    let r: { state: DependencyState; reason?: string };
    try {
      r = await Promise.race([
        probe(),
        new Promise<{ state: DependencyState; reason: string }>((resolve) => {
          const t = setTimeout(
            () => resolve({ state: 'down', reason: `no answer within ${this.props.timeoutMs} ms` }),
            this.props.timeoutMs,
          );
          t.unref();
        }),
      ]);
    } catch (e) {
      r = { state: 'down', reason: describeError(e) };
    }
    const prev = this.entries.get(name)!;
    if (prev.state !== r.state && prev.state !== 'unknown')
      this.props.log.info('dependency state changed', { dependency: name, from: prev.state, to: r.state, reason: r.reason });
    this.entries.set(name, {
      ...prev,
      state: r.state,
      reason: r.reason ?? null,
      latencyMs: Math.round(performance.now() - started),
      checkedAt: new Date().toISOString(),
    });
  }

  snapshot(): HealthSnapshot {
    const dependencies = [...this.entries.values()].map((d) => ({ ...d }));
    const status = this.lastRound === null ? 'starting' : dependencies.some((d) => d.state === 'down') ? 'degraded' : 'ok';
    return { status, checkedAt: this.lastRound, dependencies };
  }
}
