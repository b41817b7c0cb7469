import { useEffect, useState, type RefObject } from 'react';
import { api, type SearchHit, type Session } from './api';

export function SessionsPane(p: {
  sessions: Session[];
  current: string | null;
  searchRef: RefObject<HTMLInputElement | null>;
  onOpen: (id: string) => void;
  onNew: () => void;
  onRename: (id: string, title: string) => void;
  onDelete: (id: string) => void;
  onError: (e: unknown) => void;
}) {
  const [q, setQ] = useState('');
  const [hits, setHits] = useState<SearchHit[] | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const [title, setTitle] = useState('');
  const { onError } = p;

  useEffect(() => {
    if (!q.trim()) {
      setHits(null);
      return;
    }
    const t = setTimeout(() => {
      api<{ results: SearchHit[] }>('GET', `/api/search?q=${encodeURIComponent(q)}`).then((r) => setHits(r.results), onError);
    }, 150);
    return () => clearTimeout(t);
  }, [q, onError]);

  return (
    <aside className="pane sessions" aria-label="sessions">
      <div className="row">
        <input
          ref={p.searchRef}
          className="search"
          placeholder="search  /"
          value={q}
          onChange={(e) => setQ(e.target.value)}
          onKeyDown={(e) => e.key === 'Escape' && (setQ(''), e.currentTarget.blur())}
          data-testid="search"
        />
        <button onClick={p.onNew} title="Alt+N" data-testid="new-chat">
          + new
        </button>
      </div>
      {hits ? (
        <ul className="list" data-testid="search-results">
          {hits.length === 0 && <li className="muted">no match</li>}
          {hits.map((h, i) => (
            <li key={`${h.sessionId}-${h.messageId ?? 't'}-${i}`}>
              <button className="item" onClick={() => p.onOpen(h.sessionId)}>
                <span className="title">{h.sessionTitle}</span>
                <span className="snippet">
                  {h.snippet.map((s, j) => (s.hit ? <mark key={j}>{s.text}</mark> : <span key={j}>{s.text}</span>))}
                </span>
              </button>
            </li>
          ))}
        </ul>
      ) : (
        <ul className="list" data-testid="session-list">
          {p.sessions.map((s) => (
            <li key={s.id} className={s.id === p.current ? 'current' : ''}>
              {editing === s.id ? (
                <form
                  onSubmit={(e) => {
                    e.preventDefault();
                    if (title.trim()) p.onRename(s.id, title.trim());
                    setEditing(null);
                  }}
                >
                  <input
                    autoFocus
                    value={title}
                    onChange={(e) => setTitle(e.target.value)}
                    onBlur={() => setEditing(null)}
                    aria-label="new title"
                    data-testid="rename-input"
                  />
                </form>
              ) : (
                <div className="row">
                  <button className="item" onClick={() => p.onOpen(s.id)} data-testid="session">
                    <span className="title">{s.title}</span>
                  </button>
                  <button
                    className="icon"
                    title="rename"
                    aria-label={`rename ${s.title}`}
                    onClick={() => {
                      setEditing(s.id);
                      setTitle(s.title);
                    }}
                  >
                    ✎
                  </button>
                  <button
                    className="icon"
                    title="delete"
                    aria-label={`delete ${s.title}`}
                    onClick={() => confirm(`Delete "${s.title}"?`) && p.onDelete(s.id)}
                  >
                    ✕
                  </button>
                </div>
              )}
            </li>
          ))}
        </ul>
      )}
    </aside>
  );
}
