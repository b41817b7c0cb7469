import { useEffect, useState } from 'react';
import { api, type JobDetail, type JobLists, type JobState, type ModelsAnswer, type ScheduleRuns } from './api';
import { renderMarkdown } from './markdown';

const STATES: JobState[] = ['queued', 'active', 'completed', 'failed'];

export function QueuePanel(p: {
  models: ModelsAnswer | null;
  onOpen: (state: JobState, name: string) => void;
  onError: (e: unknown) => void;
}) {
  const [lists, setLists] = useState<JobLists | null>(null);
  const [title, setTitle] = useState('');
  const [prompt, setPrompt] = useState('');
  const [model, setModel] = useState('');
  const [sent, setSent] = useState<string | null>(null);
  const { onError } = p;

  useEffect(() => {
    let live = true;
    const poll = (): void => void api<JobLists>('GET', '/api/jobs').then((l) => live && setLists(l), onError);
    poll();
    // The queue moves on its own (the worker); two seconds is live enough for people.
    const t = setInterval(poll, 2000);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [onError]);

  return (
    <main className="queue" aria-label="queue">
      <div className="side">
        <form
          className="submit"
          onSubmit={async (e) => {
            e.preventDefault();
            try {
              const r = await api<{ name: string }>('POST', '/api/jobs', {
                prompt,
                ...(title.trim() ? { title: title.trim() } : {}),
                ...(model ? { model } : {}),
              });
              setSent(r.name);
              setPrompt('');
              setTitle('');
              setLists(await api<JobLists>('GET', '/api/jobs'));
            } catch (err) {
              onError(err);
            }
          }}
        >
          <h3>new job</h3>
          <input placeholder="title" value={title} onChange={(e) => setTitle(e.target.value)} data-testid="job-title" />
          <select value={model} onChange={(e) => setModel(e.target.value)} aria-label="model">
            <option value="">default model</option>
            {p.models?.models.map((m) => (
              <option key={m.id} value={m.id} disabled={!m.available}>
                {m.label}
                {m.available ? '' : ` (unavailable: ${m.reason ?? ''})`}
              </option>
            ))}
          </select>
          <textarea placeholder="prompt" value={prompt} onChange={(e) => setPrompt(e.target.value)} rows={5} data-testid="job-prompt" />
          <button type="submit" data-testid="job-submit">
            submit
          </button>
          {sent && <p className="muted">queued as {sent}</p>}
        </form>
        <UpcomingRuns onError={onError} />
      </div>
      <div className="lanes">
        {STATES.map((st) => (
          <section key={st} className="lane" data-testid={`lane-${st}`}>
            <h3>
              {st} <span className="muted">{lists?.counts[st] ?? 0}</span>
            </h3>
            <ul className="list">
              {lists?.[st].map((j) => (
                <li key={j.name}>
                  <button className="item" onClick={() => p.onOpen(st, j.name)} data-testid="job">
                    <span className="title">{j.title ?? j.name}</span>
                    <span className="muted small">
                      {j.model ?? 'default'} · {new Date(j.modifiedAt).toLocaleString()}
                    </span>
                  </button>
                </li>
              ))}
            </ul>
          </section>
        ))}
      </div>
    </main>
  );
}

const when = (iso: string): string => new Date(iso).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });

/** The schedules' next runs and their last slot, from /api/schedules. */
function UpcomingRuns(p: { onError: (e: unknown) => void }) {
  const [rows, setRows] = useState<ScheduleRuns[] | null>(null);
  const { onError } = p;
  useEffect(() => {
    let live = true;
    const poll = (): void =>
      void api<{ schedules: ScheduleRuns[] }>('GET', '/api/schedules').then((r) => live && setRows(r.schedules), onError);
    poll();
    // Slots are minutes apart at the finest: a slow poll keeps "next" and "last" current.
    const t = setInterval(poll, 30_000);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [onError]);
  return (
    <section className="schedules" data-testid="schedules">
      <h3>upcoming runs</h3>
      {rows && rows.length === 0 && <p className="muted">no schedules in platform.yaml</p>}
      <table className="grid">
        <tbody>
          {rows?.map((s) => (
            <tr key={s.name} data-testid={`schedule-${s.name}`} className={s.enabled ? '' : 'muted'}>
              <td>
                <strong>{s.name}</strong>
                <div className="muted small" title={`${s.cron} (${s.timezone})`}>
                  {s.cron}
                </div>
              </td>
              <td data-testid="schedule-next">
                {s.enabled ? (
                  s.next.map((t) => (
                    <div key={t} className="small">
                      {when(t)}
                    </div>
                  ))
                ) : (
                  <span className="small">disabled</span>
                )}
              </td>
              <td data-testid="schedule-last" className="small">
                {s.last ? (
                  <>
                    {when(s.last)}
                    <div className={`outcome ${s.lastOutcome ?? s.lastStatus ?? ''}`}>{s.lastOutcome ?? s.lastStatus}</div>
                  </>
                ) : (
                  <span className="muted">never run</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function JobDetailPage(p: { state: string; name: string; onBack: () => void; onError: (e: unknown) => void }) {
  const [job, setJob] = useState<JobDetail | null>(null);
  const { onError } = p;
  useEffect(() => {
    api<JobDetail>('GET', `/api/jobs/${p.state}/${encodeURIComponent(p.name)}`).then(setJob, onError);
  }, [p.state, p.name, onError]);
  if (!job) return <main className="job">loading…</main>;
  const meta = job.output?.meta ?? {};
  return (
    <main className="job" aria-label="job" data-testid="job-detail">
      <button onClick={p.onBack}>‹ queue</button>
      <h2>{job.title ?? job.name}</h2>
      <dl className="figures">
        <dt>state</dt>
        <dd data-testid="job-state">{job.state}</dd>
        <dt>file</dt>
        <dd>{job.name}</dd>
        <dt>id</dt>
        <dd>{job.id ?? '–'}</dd>
        <dt>model</dt>
        <dd>{String(meta.model ?? job.model ?? 'default')}</dd>
        <dt>tokens in / out</dt>
        <dd>
          {String(meta.tokens_in ?? '–')} / {String(meta.tokens_out ?? '–')}
        </dd>
        <dt>duration</dt>
        <dd>{meta.duration_ms != null ? `${(Number(meta.duration_ms) / 1000).toFixed(2)} s` : '–'}</dd>
        <dt>skills</dt>
        <dd>
          {Array.isArray(meta.skills) && meta.skills.length
            ? meta.skills.join(', ')
            : Array.isArray(job.frontmatter?.skills)
              ? (job.frontmatter.skills as string[]).join(', ')
              : '–'}
        </dd>
      </dl>
      {job.failureReason && (
        <div className="error" data-testid="failure">
          <h3>why it failed</h3>
          <pre>{job.failureReason}</pre>
        </div>
      )}
      {job.output && (
        <>
          <h3>output</h3>
          <div className="md" data-testid="job-output" dangerouslySetInnerHTML={{ __html: renderMarkdown(job.output.markdown) }} />
        </>
      )}
      <h3>prompt</h3>
      <pre className="user-text">{job.prompt}</pre>
    </main>
  );
}
