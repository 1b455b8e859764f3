// One event per line on stderr, in one of two encodings, as controller-runtime
// offers them: JSON objects, which log pipelines ingest without parsing
// rules (the default when stderr is not a terminal), and a console line for
// people (time, coloured level, message, key=value fields; the default on a
// terminal).
export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export const LOG_FORMATS = ['auto', 'json', 'console'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export interface LogRecord {
  time: Date;
  level: Level;
  msg: string;
  fields: Record<string, unknown>;
}

export type Encoder = (r: LogRecord) => string;

export const jsonEncoder: Encoder = (r) =>
  JSON.stringify({ time: r.time.toISOString(), level: r.level, msg: r.msg, ...r.fields });

/** Width messages are padded to, so that fields start in one column. */
const MSG_WIDTH = 32;
const COLOURS: Record<Level, string> = {
  debug: '\x1b[90m',
  info: '\x1b[36m',
  warn: '\x1b[33m',
  error: '\x1b[31m',
};
const RESET = '\x1b[0m';

/** A field value as a console line shows it: bare when it has no space or quote, else JSON. */
function consoleValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (v instanceof Error) return JSON.stringify(v.message);
  return JSON.stringify(v) ?? String(v);
}

/** `10:33:26.602 INFO  applied   key=ns/m kind=Deployment`, the level coloured when asked. */
export function consoleEncoder(colour: boolean): Encoder {
  return (r) => {
    const level = r.level.toUpperCase().padEnd(5);
    const fields = Object.entries(r.fields)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${consoleValue(v)}`)
      .join(' ');
    const head = `${r.time.toISOString().slice(11, 23)} ${colour ? COLOURS[r.level] + level + RESET : level} `;
    return fields === '' ? head + r.msg : `${head}${r.msg.padEnd(MSG_WIDTH)} ${fields}`;
  };
}

/** The encoder a format names; `auto` is console on a terminal (coloured unless NO_COLOR), else JSON. */
export function encoderFor(
  format: LogFormat,
  stream: { isTTY?: boolean } = process.stderr,
  env: NodeJS.ProcessEnv = process.env,
): Encoder {
  const tty = stream.isTTY === true;
  if (format === 'json' || (format === 'auto' && !tty)) return jsonEncoder;
  return consoleEncoder(tty && !env['NO_COLOR']);
}

export function createLogger(
  level: Level = 'info',
  base: Record<string, unknown> = {},
  write: (line: string) => void = (line) => process.stderr.write(line + '\n'),
  encode: Encoder = jsonEncoder,
): Logger {
  const log =
    (l: Level) =>
    (msg: string, fields: Record<string, unknown> = {}) => {
      if (ORDER[l] < ORDER[level]) return;
      write(encode({ time: new Date(), level: l, msg, fields: { ...base, ...fields } }));
    };
  return {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: (fields) => createLogger(level, { ...base, ...fields }, write, encode),
  };
}

/** A logger that drops everything, for tests. */
export const silentLogger: Logger = createLogger('error', {}, () => {});
