/*
 * Server-sent events parser over a fetch body: yields each event's name and joined data lines.
 * Handles \n, \r\n and \r line ends and comments (": keep-alive").
 */

export interface SseEvent {
  event: string | undefined;
  data: string;
}

export async function* parseSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buf = '';
  let event: string | undefined;
  let data: string[] = [];
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let idx: number;
      while ((idx = buf.search(/\r\n|\r|\n/)) >= 0) {
        const line = buf.slice(0, idx);
        const sepLen = buf.startsWith('\r\n', idx) ? 2 : 1;
        // A lone \r at the end of the buffer may be the first half of \r\n: wait for more.
        if (buf[idx] === '\r' && sepLen === 1 && idx === buf.length - 1) break;
        buf = buf.slice(idx + sepLen);
        if (line === '') {
          if (data.length > 0) yield { event, data: data.join('\n') };
          event = undefined;
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') data.push(value);
        else if (field === 'event') event = value;
      }
    }
    if (data.length > 0) yield { event, data: data.join('\n') };
  } finally {
    reader.releaseLock();
  }
}
