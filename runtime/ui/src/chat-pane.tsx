import { useEffect, useRef, useState, type RefObject } from 'react';
import type { Message, SessionView } from './api';
import type { Streaming } from './app';
import { renderMarkdown } from './markdown';

async function copy(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const t = document.createElement('textarea');
    t.value = text;
    document.body.append(t);
    t.select();
    document.execCommand('copy');
    t.remove();
  }
}

function Markdown({ text }: { text: string }) {
  return <div className="md" dangerouslySetInnerHTML={{ __html: renderMarkdown(text) }} />;
}

export function ChatPane(p: {
  view: SessionView | null;
  streaming: Streaming | null;
  composerRef: RefObject<HTMLTextAreaElement | null>;
  onSend: (content: string, editOf?: string) => Promise<void>;
  onStop: () => void;
  onRegenerate: (m: Message) => void;
  onSibling: (id: string) => void;
}) {
  const [draft, setDraft] = useState('');
  const [editing, setEditing] = useState<{ id: string; text: string } | null>(null);
  const [copied, setCopied] = useState<string | null>(null);
  const end = useRef<HTMLDivElement>(null);
  const running = p.streaming?.status === 'running';

  useEffect(() => {
    end.current?.scrollIntoView({ block: 'end' });
  }, [p.view, p.streaming?.text]);

  const submit = async (): Promise<void> => {
    const text = draft.trim();
    if (!text || running) return;
    setDraft('');
    await p.onSend(text);
  };

  return (
    <section className="pane chat" aria-label="chat">
      <div className="messages" data-testid="messages">
        {!p.view && <p className="muted">Pick a session, or start typing: a new chat begins with your first message.</p>}
        {p.view?.messages.map((m) => {
          const live = p.streaming && p.streaming.messageId === m.id ? p.streaming : null;
          const text = live ? live.text : m.content;
          const status = live ? live.status : m.status;
          const idx = m.siblings.indexOf(m.id);
          return (
            <article key={m.id} className={`msg ${m.role}`} data-testid={`msg-${m.role}`} data-status={status}>
              <header>
                <span className="who">{m.role === 'user' ? 'you' : (m.model ?? 'assistant')}</span>
                {status !== 'complete' && (
                  <span className={`badge ${status}`} data-testid="status">
                    {status === 'running' ? 'writing…' : status}
                  </span>
                )}
                {m.siblings.length > 1 && (
                  <span className="siblings">
                    <button
                      className="icon"
                      disabled={idx <= 0}
                      onClick={() => p.onSibling(m.siblings[idx - 1]!)}
                      aria-label="previous version"
                    >
                      ‹
                    </button>
                    {idx + 1}/{m.siblings.length}
                    <button
                      className="icon"
                      disabled={idx >= m.siblings.length - 1}
                      onClick={() => p.onSibling(m.siblings[idx + 1]!)}
                      aria-label="next version"
                    >
                      ›
                    </button>
                  </span>
                )}
                <span className="actions">
                  <button className="icon" onClick={() => void copy(text).then(() => setCopied(m.id))} aria-label="copy">
                    {copied === m.id ? 'copied' : 'copy'}
                  </button>
                  {m.role === 'user' && !running && (
                    <button className="icon" onClick={() => setEditing({ id: m.id, text: m.content })} aria-label="edit">
                      edit
                    </button>
                  )}
                  {m.role === 'assistant' && !running && (
                    <button className="icon" onClick={() => p.onRegenerate(m)} aria-label="regenerate" data-testid="regenerate">
                      regenerate
                    </button>
                  )}
                </span>
              </header>
              {editing?.id === m.id ? (
                <form
                  className="edit"
                  onSubmit={(e) => {
                    e.preventDefault();
                    const t = editing.text.trim();
                    setEditing(null);
                    if (t) void p.onSend(t, m.id);
                  }}
                >
                  <textarea
                    value={editing.text}
                    onChange={(e) => setEditing({ id: m.id, text: e.target.value })}
                    aria-label="edit message"
                  />
                  <button type="submit">send edited</button>
                  <button type="button" onClick={() => setEditing(null)}>
                    cancel
                  </button>
                </form>
              ) : m.role === 'user' ? (
                <pre className="user-text">{text}</pre>
              ) : (
                <div data-testid="answer">
                  <Markdown text={text} />
                </div>
              )}
              {(live?.error ?? m.errorMessage) && <p className="error">{live?.error ?? `${m.errorCode}: ${m.errorMessage}`}</p>}
            </article>
          );
        })}
        <div ref={end} />
      </div>
      <form
        className="composer"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <textarea
          ref={p.composerRef}
          value={draft}
          placeholder="message  (Enter to send, Shift+Enter for a new line)"
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
              e.preventDefault();
              void submit();
            }
          }}
          data-testid="composer"
        />
        {running ? (
          <button type="button" className="stop" onClick={p.onStop} data-testid="stop" title="Esc">
            stop
          </button>
        ) : (
          <button type="submit" data-testid="send">
            send
          </button>
        )}
      </form>
    </section>
  );
}
