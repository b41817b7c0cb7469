import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { AdminPage } from './admin';
import { ApiError, api, type Health, type Message, type ModelsAnswer, type Session, type SessionView, type Started } from './api';
import { ChatPane } from './chat-pane';
import { HelpOverlay, SHORTCUTS } from './help';
import { Inspector } from './inspector';
import { JobDetailPage, QueuePanel } from './queue';
import { follow } from './sse';
import { SessionsPane } from './sessions-pane';

/*
 * The control panel: sessions | chat | inspector, a queue view and job pages. Keyboard first
 * (see help.tsx); under 700 px the panes stack into one column.
 */

type Route =
  { view: 'chat'; sessionId: string | null } | { view: 'queue' } | { view: 'admin' } | { view: 'job'; state: string; name: string };

function parseRoute(path: string): Route {
  const m = /^\/ui\/session\/([0-9a-f-]{36})$/.exec(path);
  if (m) return { view: 'chat', sessionId: m[1]! };
  if (path === '/ui/queue') return { view: 'queue' };
  if (path === '/ui/admin') return { view: 'admin' };
  const j = /^\/ui\/jobs\/(queued|active|completed|failed)\/([^/]+)$/.exec(path);
  if (j) return { view: 'job', state: j[1]!, name: decodeURIComponent(j[2]!) };
  return { view: 'chat', sessionId: null };
}

export interface Streaming {
  generationId: string;
  messageId: string;
  text: string;
  usage: { inputTokens: number; outputTokens: number; timeToFirstTokenMs?: number; durationMs: number } | null;
  status: 'running' | 'complete' | 'stopped' | 'error';
  error: string | null;
}

export function App() {
  const [route, setRoute] = useState<Route>(() => parseRoute(location.pathname));
  const [sessions, setSessions] = useState<Session[]>([]);
  const [view, setView] = useState<SessionView | null>(null);
  const [models, setModels] = useState<ModelsAnswer | null>(null);
  const [health, setHealth] = useState<Health | null>(null);
  const [streaming, setStreaming] = useState<Streaming | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [help, setHelp] = useState(false);
  const [theme, setTheme] = useState<string>(() => localStorage.getItem('runtime.theme') ?? 'dark');
  const followRef = useRef<AbortController | null>(null);
  const searchRef = useRef<HTMLInputElement>(null);
  const composerRef = useRef<HTMLTextAreaElement>(null);

  const go = useCallback((path: string) => {
    history.pushState(null, '', path);
    setRoute(parseRoute(path));
  }, []);

  useEffect(() => {
    const onPop = (): void => setRoute(parseRoute(location.pathname));
    addEventListener('popstate', onPop);
    return () => removeEventListener('popstate', onPop);
  }, []);

  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem('runtime.theme', theme);
  }, [theme]);

  const fail = useCallback((e: unknown) => setNotice(e instanceof ApiError ? `${e.code}: ${e.message}` : String(e)), []);

  const loadSessions = useCallback(async () => {
    try {
      setSessions((await api<{ sessions: Session[] }>('GET', '/api/sessions?limit=100')).sessions);
    } catch (e) {
      fail(e);
    }
  }, [fail]);

  useEffect(() => {
    void loadSessions();
    void api<ModelsAnswer>('GET', '/api/models').then(setModels, fail);
    const poll = (): void => void api<Health>('GET', '/api/health').then(setHealth, () => setHealth(null));
    poll();
    const t = setInterval(poll, 10_000);
    return () => clearInterval(t);
  }, [loadSessions, fail]);

  /** Follows a generation into the streaming state; reload and re-attach use the same path. */
  const attach = useCallback(
    (generationId: string, messageId: string, eventsUrl: string) => {
      followRef.current?.abort();
      const ctl = new AbortController();
      followRef.current = ctl;
      setStreaming({ generationId, messageId, text: '', usage: null, status: 'running', error: null });
      void follow(
        eventsUrl,
        (ev) => {
          setStreaming((s) => {
            if (!s || s.generationId !== generationId) return s;
            if (ev.event === 'token') return { ...s, text: s.text + (ev.data as { text: string }).text };
            if (ev.event === 'usage') return { ...s, usage: ev.data as Streaming['usage'] };
            if (ev.event === 'error')
              return { ...s, error: `${(ev.data as { code: string }).code}: ${(ev.data as { message: string }).message}` };
            if (ev.event === 'done') return { ...s, status: (ev.data as { status: Streaming['status'] }).status };
            return s;
          });
        },
        ctl.signal,
      ).then(async () => {
        if (ctl.signal.aborted) return;
        const sid = parseRoute(location.pathname);
        if (sid.view === 'chat' && sid.sessionId) setView(await api<SessionView>('GET', `/api/sessions/${sid.sessionId}`));
        setStreaming(null);
        void loadSessions();
      }, fail);
    },
    [fail, loadSessions],
  );

  const sessionId = route.view === 'chat' ? route.sessionId : null;
  // The chat to go back to from the queue.
  const lastSession = useRef<string | null>(null);
  if (sessionId) lastSession.current = sessionId;
  const chatPath = (): string => (lastSession.current ? `/ui/session/${lastSession.current}` : '/');
  useEffect(() => {
    followRef.current?.abort();
    setStreaming(null);
    if (!sessionId) {
      setView(null);
      return;
    }
    let live = true;
    api<SessionView>('GET', `/api/sessions/${sessionId}`).then((v) => {
      if (!live) return;
      setView(v);
      if (v.generation?.status === 'running') attach(v.generation.id, v.generation.messageId, `/api/generations/${v.generation.id}/events`);
    }, fail);
    return () => {
      live = false;
    };
  }, [sessionId, attach, fail]);

  const newChat = useCallback(async () => {
    try {
      const s = await api<Session>('POST', '/api/sessions', {});
      await loadSessions();
      go(`/ui/session/${s.id}`);
      setTimeout(() => composerRef.current?.focus(), 50);
    } catch (e) {
      fail(e);
    }
  }, [go, loadSessions, fail]);

  const start = useCallback(
    async (p: Promise<Started>) => {
      try {
        const st = await p;
        const v = await api<SessionView>('GET', `/api/sessions/${st.generation.sessionId}`);
        setView(v);
        attach(st.generation.id, st.assistantMessage.id, st.events);
      } catch (e) {
        fail(e);
      }
    },
    [attach, fail],
  );

  const send = useCallback(
    async (content: string, editOf?: string) => {
      let sid = sessionId;
      if (!sid) {
        const s = await api<Session>('POST', '/api/sessions', {});
        sid = s.id;
        go(`/ui/session/${s.id}`);
      }
      await start(api<Started>('POST', `/api/sessions/${sid}/messages`, { content, ...(editOf ? { editOf } : {}) }));
    },
    [sessionId, go, start],
  );

  const stop = useCallback(async () => {
    if (!streaming || streaming.status !== 'running') return;
    try {
      await api('POST', `/api/generations/${streaming.generationId}/stop`);
    } catch (e) {
      fail(e);
    }
  }, [streaming, fail]);

  const regenerate = useCallback(
    (m: Message) => sessionId && start(api<Started>('POST', `/api/sessions/${sessionId}/regenerate`, { messageId: m.id })),
    [sessionId, start],
  );

  const showSibling = useCallback(
    async (messageId: string) => {
      if (!sessionId) return;
      try {
        const v = await api<{ session: Session; messages: Message[] }>('POST', `/api/sessions/${sessionId}/head`, { messageId });
        setView((old) => (old ? { ...old, ...v } : old));
      } catch (e) {
        fail(e);
      }
    },
    [sessionId, fail],
  );

  const updateSession = useCallback(
    async (patch: Partial<Pick<Session, 'title' | 'model' | 'system' | 'skills'>>, id = sessionId) => {
      if (!id) return;
      try {
        const s = await api<Session>('PATCH', `/api/sessions/${id}`, patch);
        setView((old) => (old && old.session.id === id ? { ...old, session: s } : old));
        void loadSessions();
      } catch (e) {
        fail(e);
      }
    },
    [sessionId, loadSessions, fail],
  );

  const deleteSession = useCallback(
    async (id: string) => {
      try {
        await api('DELETE', `/api/sessions/${id}`);
        if (id === sessionId) go('/');
        await loadSessions();
      } catch (e) {
        fail(e);
      }
    },
    [sessionId, go, loadSessions, fail],
  );

  // Keyboard shortcuts (help.tsx lists them).
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      const typing =
        e.target instanceof HTMLElement && (e.target.tagName === 'INPUT' || e.target.tagName === 'TEXTAREA' || e.target.isContentEditable);
      if (e.key === 'Escape') {
        if (help) return setHelp(false);
        if (streaming?.status === 'running') {
          e.preventDefault();
          void stop();
        }
        return;
      }
      if (e.altKey && !e.ctrlKey && !e.metaKey) {
        const k = e.key.toLowerCase();
        if (k === 'n' || e.code === 'KeyN') return (e.preventDefault(), void newChat());
        if (k === 'q' || e.code === 'KeyQ') return (e.preventDefault(), go('/ui/queue'));
        if (k === 'c' || e.code === 'KeyC') return (e.preventDefault(), go(chatPath()));
        if (k === 't' || e.code === 'KeyT') return (e.preventDefault(), setTheme((t) => (t === 'dark' ? 'light' : 'dark')));
        if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
          e.preventDefault();
          if (!sessions.length) return;
          const i = sessions.findIndex((s) => s.id === sessionId);
          const next = e.key === 'ArrowDown' ? Math.min(sessions.length - 1, i + 1) : Math.max(0, i < 0 ? 0 : i - 1);
          go(`/ui/session/${sessions[next]!.id}`);
          return;
        }
      }
      if (typing) return;
      if (e.key === '/' && !e.shiftKey) return (e.preventDefault(), searchRef.current?.focus());
      if (e.key === '?' || (e.shiftKey && e.code === 'Slash')) return (e.preventDefault(), setHelp((h) => !h));
      if (e.key === 'i') return (e.preventDefault(), composerRef.current?.focus());
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [help, streaming, stop, newChat, go, sessions, sessionId]);

  const down = useMemo(() => health?.dependencies.filter((d) => d.state === 'down') ?? [], [health]);

  return (
    <div className="app">
      <header className="topbar">
        <span className="brand">control</span>
        <nav>
          <button className={route.view === 'chat' ? 'tab on' : 'tab'} onClick={() => go(chatPath())}>
            chat
          </button>
          <button
            className={route.view === 'queue' || route.view === 'job' ? 'tab on' : 'tab'}
            onClick={() => go('/ui/queue')}
            data-testid="queue-tab"
          >
            queue
          </button>
          <button className={route.view === 'admin' ? 'tab on' : 'tab'} onClick={() => go('/ui/admin')} data-testid="admin-tab">
            stats
          </button>
        </nav>
        <span
          className={`health ${health?.status ?? 'unknown'}`}
          data-testid="health"
          title={
            health
              ? health.dependencies.map((d) => `${d.name}: ${d.state}${d.reason ? ` (${d.reason})` : ''}`).join('\n')
              : 'health unknown'
          }
        >
          ● {health ? (down.length ? `${down.length} down: ${down.map((d) => d.name).join(', ')}` : health.status) : 'no answer'}
        </span>
        <button className="tab" onClick={() => setTheme((t) => (t === 'dark' ? 'light' : 'dark'))} title="Alt+T">
          {theme === 'dark' ? 'light' : 'dark'}
        </button>
        <button className="tab" onClick={() => setHelp(true)} title="?">
          ?
        </button>
      </header>
      {notice && (
        <div className="notice" role="alert" data-testid="notice" onClick={() => setNotice(null)}>
          {notice}
        </div>
      )}
      {route.view === 'chat' ? (
        <main className="panes">
          <SessionsPane
            sessions={sessions}
            current={sessionId}
            searchRef={searchRef}
            onOpen={(id) => go(`/ui/session/${id}`)}
            onNew={newChat}
            onRename={(id, title) => updateSession({ title }, id)}
            onDelete={deleteSession}
            onError={fail}
          />
          <ChatPane
            view={view}
            streaming={streaming}
            composerRef={composerRef}
            onSend={send}
            onStop={stop}
            onRegenerate={regenerate}
            onSibling={showSibling}
          />
          <Inspector view={view} models={models} streaming={streaming} onUpdate={updateSession} onNotice={setNotice} />
        </main>
      ) : route.view === 'admin' ? (
        <AdminPage onError={fail} />
      ) : route.view === 'queue' ? (
        <QueuePanel models={models} onOpen={(state, name) => go(`/ui/jobs/${state}/${encodeURIComponent(name)}`)} onError={fail} />
      ) : (
        <JobDetailPage state={route.state} name={route.name} onBack={() => go('/ui/queue')} onError={fail} />
      )}
      {help && <HelpOverlay onClose={() => setHelp(false)} shortcuts={SHORTCUTS} />}
    </div>
  );
}
