import { useEffect, useState } from 'react';
import type { ModelsAnswer, Session, SessionView } from './api';
import type { Streaming } from './app';

export function Inspector(p: {
  view: SessionView | null;
  models: ModelsAnswer | null;
  streaming: Streaming | null;
  onUpdate: (patch: Partial<Pick<Session, 'model' | 'system' | 'skills'>>) => void;
  onNotice: (s: string) => void;
}) {
  const s = p.view?.session;
  const [system, setSystem] = useState(s?.system ?? '');
  const [why, setWhy] = useState<string | null>(null);
  useEffect(() => setSystem(s?.system ?? ''), [s?.id, s?.system]);

  const last = [...(p.view?.messages ?? [])].reverse().find((m) => m.role === 'assistant');
  const live = p.streaming;
  const figures = live?.usage
    ? {
        in: live.usage.inputTokens,
        out: live.usage.outputTokens,
        ttft: live.usage.timeToFirstTokenMs ?? null,
        dur: live.usage.durationMs,
        state: live.status,
      }
    : last
      ? { in: last.tokensIn, out: last.tokensOut, ttft: last.ttftMs, dur: last.durationMs, state: live?.status ?? last.status }
      : null;

  return (
    <aside className="pane inspector" aria-label="inspector">
      <h3>model</h3>
      <ul className="models" data-testid="models">
        {p.models?.models.map((m) => (
          <li key={m.id}>
            <button
              className={`model ${m.available ? '' : 'greyed'} ${s?.model === m.id ? 'chosen' : ''}`}
              aria-disabled={!m.available}
              title={m.available ? m.purpose : `unavailable: ${m.reason ?? ''}`}
              data-testid={`model-${m.id}`}
              onClick={() => {
                if (!m.available) {
                  setWhy(`${m.label} is unavailable: ${m.reason ?? 'no reason given'}`);
                  return;
                }
                setWhy(null);
                if (s && s.model !== m.id) p.onUpdate({ model: m.id });
              }}
            >
              {m.label}
            </button>
          </li>
        ))}
      </ul>
      {why && (
        <p className="why" role="status" data-testid="model-reason">
          {why}
        </p>
      )}
      {s && (
        <>
          <h3>system prompt</h3>
          <textarea
            value={system}
            onChange={(e) => setSystem(e.target.value)}
            onBlur={() => system !== s.system && p.onUpdate({ system })}
            aria-label="system prompt"
            rows={3}
          />
          <h3>skills</h3>
          {p.models?.skills.length ? (
            p.models.skills.map((k) => (
              <label key={k.name} className="check" title={k.description}>
                <input
                  type="checkbox"
                  checked={s.skills.includes(k.name)}
                  onChange={(e) => p.onUpdate({ skills: e.target.checked ? [...s.skills, k.name] : s.skills.filter((x) => x !== k.name) })}
                />{' '}
                {k.name}
              </label>
            ))
          ) : (
            <p className="muted">no skills in the vault</p>
          )}
          <label className="check muted" title={p.models?.retrieval.reason}>
            <input type="checkbox" disabled checked={false} onChange={() => undefined} /> use the vault
          </label>
          <p className="muted small" data-testid="vault-reason">
            {p.models?.retrieval.code}: {p.models?.retrieval.reason}
          </p>
        </>
      )}
      <h3>last answer</h3>
      {figures ? (
        <dl className="figures" data-testid="figures">
          <dt>state</dt>
          <dd>{figures.state}</dd>
          <dt>tokens in / out</dt>
          <dd>
            {figures.in ?? '–'} / {figures.out ?? '–'}
          </dd>
          <dt>first token</dt>
          <dd>{figures.ttft != null ? `${figures.ttft} ms` : '–'}</dd>
          <dt>duration</dt>
          <dd>{figures.dur != null ? `${(figures.dur / 1000).toFixed(2)} s` : '–'}</dd>
        </dl>
      ) : (
        <p className="muted">none yet</p>
      )}
    </aside>
  );
}
