import { randomUUID } from 'node:crypto';
import { describeError, toRuntimeError, type RuntimeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ChatMessage, ChatEvent, Usage } from '../providers/types.js';
import type { RouterChatOptions } from '../router/index.js';
import type { ChatStore, MessageStatus } from './chat-store.js';

/*
 * Generations belong to the server, not to an HTTP connection. Each keeps every event it sent
 * (with a sequential id), so a reload or a second tab re-attaches with Last-Event-ID and gets
 * exactly what it missed, then the live tail. Stop aborts the provider stream (its HTTP request
 * is closed) and stores the partial answer marked stopped; nobody watching for unwatchedStopMs
 * stops it too.
 */

export type GenerationEventName = 'token' | 'usage' | 'done' | 'error';

export interface GenerationEvent {
  id: number;
  event: GenerationEventName;
  data: unknown;
}

export type StopReason = 'user' | 'unwatched' | 'shutdown';

export type GenerationStatus = 'running' | 'complete' | 'stopped' | 'error';

/** What the registry needs from the router: one streaming call. */
export interface ChatSource {
  chat(model: string, req: { messages: ChatMessage[]; system?: string }, opts: RouterChatOptions): AsyncIterable<ChatEvent>;
}

export interface Watcher {
  send(ev: GenerationEvent): void;
  end(): void;
}

export interface GenerationInfo {
  id: string;
  sessionId: string;
  messageId: string;
  model: string;
  status: GenerationStatus;
  stopReason: StopReason | null;
  watchers: number;
  lastEventId: number;
  startedAt: string;
}

export function sseFrame(ev: GenerationEvent): string {
  return `id: ${ev.id}\nevent: ${ev.event}\ndata: ${JSON.stringify(ev.data)}\n\n`;
}

class Generation {
  readonly id = randomUUID();
  readonly events: GenerationEvent[] = [];
  readonly watchers = new Set<Watcher>();
  readonly controller = new AbortController();
  readonly startedAt = new Date();
  status: GenerationStatus = 'running';
  stopReason: StopReason | null = null;
  content = '';
  usage: Usage | undefined;
  unwatchedTimer: NodeJS.Timeout | undefined;
  finished: Promise<void> = Promise.resolve();

  constructor(
    readonly sessionId: string,
    readonly messageId: string,
    readonly model: string,
  ) {}

  info(): GenerationInfo {
    return {
      id: this.id,
      sessionId: this.sessionId,
      messageId: this.messageId,
      model: this.model,
      status: this.status,
      stopReason: this.stopReason,
      watchers: this.watchers.size,
      lastEventId: this.events.length,
      startedAt: this.startedAt.toISOString(),
    };
  }
}

export interface GenerationRegistryProps {
  source: ChatSource;
  store: ChatStore;
  log: Logger;
  unwatchedStopMs: number;
  retentionMs: number;
  maxGenerations: number;
}

export class GenerationRegistry {
  private readonly gens = new Map<string, Generation>();
  private readonly bySession = new Map<string, string>();

  constructor(private readonly props: GenerationRegistryProps) {}

  get running(): number {
    let n = 0;
    for (const g of this.gens.values()) if (g.status === 'running') n++;
    return n;
  }

  /** Starts streaming into the assistant message `messageId`. */
  start(p: { sessionId: string; messageId: string; model: string; messages: ChatMessage[]; system?: string }): GenerationInfo {
    const g = new Generation(p.sessionId, p.messageId, p.model);
    this.gens.set(g.id, g);
    this.bySession.set(p.sessionId, g.id);
    this.armUnwatched(g);
    g.finished = this.run(g, p.messages, p.system);
    return g.info();
  }

  get(id: string): GenerationInfo | undefined {
    return this.gens.get(id)?.info();
  }

  /** The running (or just finished, still retained) generation of a session. */
  forSession(sessionId: string): GenerationInfo | undefined {
    const id = this.bySession.get(sessionId);
    return id ? this.gens.get(id)?.info() : undefined;
  }

  /** Whether the session has a generation still running. */
  busy(sessionId: string): boolean {
    return this.forSession(sessionId)?.status === 'running';
  }

  /**
   * Replays the events after `lastEventId`, then (while running) sends the live tail to the
   * watcher. Returns a detach function, or undefined when the generation is unknown.
   */
  attach(id: string, lastEventId: number, w: Watcher): (() => void) | undefined {
    const g = this.gens.get(id);
    if (!g) return undefined;
    for (const ev of g.events) if (ev.id > lastEventId) w.send(ev);
    if (g.status !== 'running') {
      w.end();
      return () => undefined;
    }
    g.watchers.add(w);
    if (g.unwatchedTimer) clearTimeout(g.unwatchedTimer);
    g.unwatchedTimer = undefined;
    return () => {
      if (!g.watchers.delete(w)) return;
      if (g.status === 'running') this.armUnwatched(g);
    };
  }

  /** Aborts the provider stream; resolves once the partial answer is stored. */
  async stop(id: string, reason: StopReason = 'user'): Promise<GenerationInfo | undefined> {
    const g = this.gens.get(id);
    if (!g) return undefined;
    if (g.status === 'running' && !g.controller.signal.aborted) {
      g.stopReason = reason;
      g.controller.abort(new Error(`stopped (${reason})`));
    }
    await g.finished;
    return g.info();
  }

  /** Stops every running generation (server shutdown) and forgets them all. */
  async close(): Promise<void> {
    await Promise.all([...this.gens.values()].filter((g) => g.status === 'running').map((g) => this.stop(g.id, 'shutdown')));
    for (const g of this.gens.values()) if (g.unwatchedTimer) clearTimeout(g.unwatchedTimer);
    this.gens.clear();
    this.bySession.clear();
  }

  private armUnwatched(g: Generation): void {
    if (g.unwatchedTimer) clearTimeout(g.unwatchedTimer);
    g.unwatchedTimer = setTimeout(() => {
      g.unwatchedTimer = undefined;
      if (g.watchers.size === 0 && g.status === 'running') {
        this.props.log.info('generation stopped: nobody watching', {
          generation: g.id,
          session: g.sessionId,
          afterMs: this.props.unwatchedStopMs,
        });
        void this.stop(g.id, 'unwatched');
      }
    }, this.props.unwatchedStopMs);
    g.unwatchedTimer.unref();
  }

  private emit(g: Generation, event: GenerationEventName, data: unknown): void {
    const ev: GenerationEvent = { id: g.events.length + 1, event, data };
    g.events.push(ev);
    for (const w of g.watchers) {
      try {
        w.send(ev);
      } catch (e) {
        // A watcher whose socket broke is dropped; the generation carries on for the others.
        this.props.log.debug('dropping a watcher', { generation: g.id, error: describeError(e) });
        g.watchers.delete(w);
      }
    }
  }

  private async run(g: Generation, messages: ChatMessage[], system: string | undefined): Promise<void> {
    let error: RuntimeError | undefined;
    let finishReason: string | undefined;
    try {
      const stream = this.props.source.chat(
        g.model,
        { messages, ...(system ? { system } : {}) },
        { signal: g.controller.signal, mode: 'chat', sessionId: g.sessionId },
      );
      for await (const ev of stream) {
        if (ev.type === 'text') {
          if (!ev.delta) continue;
          g.content += ev.delta;
          this.emit(g, 'token', { text: ev.delta });
        } else if (ev.type === 'usage') {
          g.usage = ev.usage;
          this.emit(g, 'usage', ev.usage);
        } else if (ev.type === 'done') finishReason = ev.reason;
      }
    } catch (e) {
      error = toRuntimeError(e, 'PROVIDER_ERROR');
    }
    const aborted = g.controller.signal.aborted;
    const status: MessageStatus = aborted ? 'stopped' : error ? 'error' : 'complete';
    g.status = status === 'complete' ? 'complete' : status === 'stopped' ? 'stopped' : 'error';
    if (g.unwatchedTimer) clearTimeout(g.unwatchedTimer);
    g.unwatchedTimer = undefined;
    try {
      this.props.store.finishMessage(g.messageId, {
        content: g.content,
        status,
        ...(error && !aborted ? { errorCode: error.code, errorMessage: error.message } : {}),
        ...(g.usage
          ? {
              tokensIn: g.usage.inputTokens,
              tokensOut: g.usage.outputTokens,
              durationMs: g.usage.durationMs,
              ...(g.usage.timeToFirstTokenMs !== undefined ? { ttftMs: g.usage.timeToFirstTokenMs } : {}),
            }
          : {}),
      });
    } catch (e) {
      this.props.log.error('storing a finished answer failed', { generation: g.id, error: describeError(e) });
    }
    if (error && !aborted) this.emit(g, 'error', { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) });
    this.emit(g, 'done', {
      status,
      messageId: g.messageId,
      ...(g.stopReason ? { stopReason: g.stopReason } : {}),
      ...(finishReason && !aborted ? { finishReason } : {}),
    });
    for (const w of g.watchers) w.end();
    g.watchers.clear();
    const t = setTimeout(() => {
      this.gens.delete(g.id);
      if (this.bySession.get(g.sessionId) === g.id) this.bySession.delete(g.sessionId);
    }, this.props.retentionMs);
    t.unref();
  }
}
