/** Human-readable logs go to stderr; stdout is reserved for machine-readable JSON lines (`{"event":...}`). */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  child(scope: string): Logger;
}

export function createLogger(scope: string, level: LogLevel = 'info', sink: (line: string) => void = writeStderr): Logger {
  const write = (at: LogLevel, msg: string) => {
    if (ORDER[at] >= ORDER[level]) sink(`${new Date().toISOString()} ${at.padEnd(5)} [${scope}] ${msg}`);
  };
  return {
    debug: (m) => write('debug', m),
    info: (m) => write('info', m),
    warn: (m) => write('warn', m),
    error: (m) => write('error', m),
    child: (sub) => createLogger(`${scope}/${sub}`, level, sink),
  };
}

function writeStderr(line: string): void {
  process.stderr.write(line + '\n');
}

/** One JSON line on stdout, for scripts and tests that wait on a process's milestones. */
export function announce(event: string, fields: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ event, ...fields }) + '\n');
}
