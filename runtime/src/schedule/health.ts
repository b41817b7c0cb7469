import type { QueueStats } from '../queue/types.js';
import type { HostStatus, ModelInfo } from '../router/types.js';

/*
 * Platform health as the worker sees it, for the briefing's {{health}}: the model hosts the
 * router health-checks, the models it cannot serve now and why, and the queue's counts.
 */

export interface HealthSnapshot {
  readonly hosts?: readonly HostStatus[];
  readonly models?: readonly ModelInfo[];
  readonly queue?: QueueStats;
}

export function describeHealth(h: HealthSnapshot, failedSince: readonly string[]): string {
  const lines: string[] = [];
  if (h.hosts) {
    lines.push('Model hosts:');
    if (h.hosts.length === 0) lines.push('- (none health-checked)');
    for (const s of h.hosts) {
      const when = s.checkedAt !== undefined ? `, checked ${new Date(s.checkedAt).toISOString()}` : '';
      const latency = s.latencyMs !== undefined ? `, ${Math.round(s.latencyMs)} ms` : '';
      lines.push(`- ${s.host}: ${s.state}${s.state === 'down' && s.reason ? ` (${s.reason})` : ''}${when}${latency}`);
    }
  } else {
    lines.push('Model hosts: (not known to this process)');
  }
  if (h.models) {
    const down = h.models.filter((m) => !m.available);
    lines.push(
      down.length === 0
        ? `Models: all ${h.models.length} available.`
        : `Models unavailable (${down.length} of ${h.models.length}): ${down.map((m) => `${m.id} (${m.reason ?? 'unavailable'})`).join('; ')}`,
    );
  }
  if (h.queue) {
    const q = h.queue;
    lines.push(
      `Queue: ${q.queued} queued, ${q.active} active, ${q.completed} completed, ${q.failed} failed${q.queued > 0 ? `; the oldest has waited ${Math.round(q.oldestAgeMs / 1000)} s` : ''}.`,
    );
  }
  lines.push(failedSince.length ? `Jobs failed since the last run: ${failedSince.length}.` : 'Jobs failed since the last run: none.');
  return lines.join('\n');
}
