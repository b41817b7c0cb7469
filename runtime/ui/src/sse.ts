import { authHeaders } from './api';

/*
 * Follows a generation's SSE stream with fetch (EventSource cannot send an Authorization
 * header). A dropped connection resumes with Last-Event-ID, so nothing is lost or repeated.
 */

export interface SseEvent {
  id: number;
  event: string;
  data: unknown;
}

export async function follow(url: string, onEvent: (e: SseEvent) => void, signal: AbortSignal, from = 0): Promise<void> {
  let last = from;
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      const res = await fetch(url, { headers: authHeaders(last ? { 'last-event-id': String(last) } : {}), signal });
      if (res.status === 404) return;
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      let finished = false;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let cut: number;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          if (block.startsWith(':')) continue;
          const f: Record<string, string> = {};
          for (const line of block.split('\n')) {
            const i = line.indexOf(':');
            if (i > 0) f[line.slice(0, i)] = line.slice(i + 1).replace(/^ /, '');
          }
          if (f.id === undefined || f.event === undefined) continue;
          last = Number(f.id);
          onEvent({ id: last, event: f.event, data: f.data ? JSON.parse(f.data) : null });
          if (f.event === 'done') finished = true;
        }
      }
      if (finished) return;
    } catch (e) {
      if (signal.aborted) return;
      void e;
    }
    await new Promise((r) => setTimeout(r, Math.min(5000, 500 * (attempt + 1))));
  }
}
