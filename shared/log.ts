/** Human-readable logs go to stderr; stdout is reserved for machine-readable JSON lines (`{"event":...}`). */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  /** A logger for a part of this one; `step` marks the lines of a running step (its path in the tree). */
  child(scope: string, fields?: { step?: string }): Logger;
}

/** Every line logged, whatever the level filter, as data: the agent forwards its warn/error lines with it. */
export interface LogRecord {
  level: LogLevel;
  scope: string;
  message: string;
  step?: string;
}

export function createLogger(
  scope: string,
  level: LogLevel = 'info',
  sink: (line: string) => void = writeStderr,
  tap?: (record: LogRecord) => void,
  step?: string,
): Logger {
  const write = (at: LogLevel, msg: string) => {
    if (ORDER[at] >= ORDER[level]) sink(`${new Date().toISOString()} ${at.padEnd(5)} [${scope}] ${msg}`);
    tap?.({ level: at, scope, message: msg, step });
  };
  return {
    debug: (m) => write('debug', m),
    info: (m) => write('info', m),
    warn: (m) => write('warn', m),
    error: (m) => write('error', m),
    child: (sub, fields) => createLogger(`${scope}/${sub}`, level, sink, tap, fields?.step ?? step),
  };
}

function writeStderr(line: string): void {
  process.stderr.write(line + '\n');
}

/** One JSON line on stdout, for scripts and tests that wait on a process's milestones. */
export function announce(event: string, fields: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ event, ...fields }) + '\n');
}
