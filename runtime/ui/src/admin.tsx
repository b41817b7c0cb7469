import { useCallback, useEffect, useState } from 'react';
import { api } from './api';

interface Row {
  day: string;
  provider: string;
  model: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  errors: number;
  avgTtftMs: number | null;
}

interface Token {
  id: string;
  name: string;
  scope: 'read' | 'write';
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/* Usage by model and day, and API tokens (made here or with `runtime token`). */
export function AdminPage({ onError }: { onError: (e: unknown) => void }) {
  const [rows, setRows] = useState<Row[]>([]);
  const [tokens, setTokens] = useState<Token[]>([]);
  const [name, setName] = useState('');
  const [scope, setScope] = useState<'read' | 'write'>('read');
  const [fresh, setFresh] = useState<string | null>(null);

  const load = useCallback(() => {
    api<{ byModelDay: Row[] }>('GET', '/api/stats?days=30').then((s) => setRows(s.byModelDay), onError);
    api<{ tokens: Token[] }>('GET', '/api/tokens').then((t) => setTokens(t.tokens), onError);
  }, [onError]);
  useEffect(load, [load]);

  return (
    <main className="job" aria-label="stats and tokens">
      <h3>usage, last 30 days</h3>
      <table className="grid" data-testid="stats">
        <thead>
          <tr>
            <th>day</th>
            <th>model</th>
            <th>requests</th>
            <th>tokens in</th>
            <th>tokens out</th>
            <th>errors</th>
            <th>first token</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={`${r.day}-${r.provider}-${r.model}`}>
              <td>{r.day}</td>
              <td>{r.model}</td>
              <td>{r.requests}</td>
              <td>{r.inputTokens}</td>
              <td>{r.outputTokens}</td>
              <td>{r.errors}</td>
              <td>{r.avgTtftMs != null ? `${Math.round(r.avgTtftMs)} ms` : '–'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>API tokens</h3>
      <form
        className="row"
        onSubmit={async (e) => {
          e.preventDefault();
          try {
            const r = await api<{ token: string }>('POST', '/api/tokens', { name: name.trim(), scope });
            setFresh(r.token);
            setName('');
            load();
          } catch (err) {
            onError(err);
          }
        }}
      >
        <input placeholder="name" value={name} onChange={(e) => setName(e.target.value)} data-testid="token-name" />
        <select value={scope} onChange={(e) => setScope(e.target.value as 'read' | 'write')} aria-label="scope">
          <option value="read">read</option>
          <option value="write">write</option>
        </select>
        <button type="submit" data-testid="token-create">
          create
        </button>
      </form>
      {fresh && (
        <p className="why" data-testid="token-fresh">
          shown once, keep it now: <code>{fresh}</code>
        </p>
      )}
      <table className="grid" data-testid="tokens">
        <tbody>
          {tokens.map((t) => (
            <tr key={t.id}>
              <td>{t.name}</td>
              <td>{t.scope}</td>
              <td>{t.revokedAt ? 'revoked' : t.lastUsedAt ? `used ${new Date(t.lastUsedAt).toLocaleString()}` : 'never used'}</td>
              <td>
                {!t.revokedAt && (
                  <button
                    className="icon"
                    aria-label={`revoke ${t.name}`}
                    onClick={() => api('DELETE', `/api/tokens/${t.id}`).then(load, onError)}
                  >
                    revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </main>
  );
}
