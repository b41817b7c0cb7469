/*
 * JSON-lines logger: one object per line on stdout (level, time, msg, then fields), which Alloy
 * ships to Loki as is. Library code logs through a Logger passed in; tests inject a sink.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export const LOG_LEVELS = Object.keys(ORDER) as LogLevel[];

export interface LogRecord extends LogFields {
  level: LogLevel;
  time: string;
  msg: string;
}

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

export type LogSink = (line: string, record: LogRecord) => void;

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; stdout by default. */
  sink?: LogSink;
  /** Clock, for tests. */
  now?: () => Date;
  fields?: LogFields;
}

const stdoutSink: LogSink = (line) => {
  process.stdout.write(`${line}\n`);
};

function serialise(value: unknown): unknown {
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: value.message };
    for (const k of ['code', 'hint', 'httpStatus', 'retryAfterMs'] as const) {
      const v = (value as unknown as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = v;
    }
    return out;
  }
  return value;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const sink = opts.sink ?? stdoutSink;
  const now = opts.now ?? (() => new Date());
  const base = opts.fields ?? {};
  const write = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (ORDER[level] < min) return;
    const record: LogRecord = { level, time: now().toISOString(), msg };
    for (const [k, v] of Object.entries({ ...base, ...fields })) {
      if (k !== 'level' && k !== 'time' && k !== 'msg') record[k] = serialise(v);
    }
    let line: string;
    try {
      line = JSON.stringify(record);
    } catch {
      line = JSON.stringify({ level, time: record.time, msg, note: 'fields were not serialisable' });
    }
    sink(line, record);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => createLogger({ ...opts, fields: { ...base, ...fields } }),
  };
}

/** A logger that keeps records in memory, for tests. */
export function memoryLogger(level: LogLevel = 'debug'): Logger & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  const log = createLogger({ level, sink: (_line, r) => records.push(r) });
  return Object.assign(log, { records });
}

export const silentLogger: Logger = createLogger({ sink: () => undefined });
