import { opt } from '../shared/config.js';
import { defineCommand } from '../shared/command.js';
import { Duration } from '../shared/duration.js';
import { ForwardedLevel, type LogLine } from '../shared/logs.js';
import { ApiClient } from './api-client.js';
import { apiOptions } from './api-options.js';

/** How often `--follow` asks for new lines. */
const FOLLOW_MS = 1000;

export const logsCommand = defineCommand(
  {
    command: 'logs',
    summary: "show a device's recent warn/error lines (its steps' and its agent's); --follow for new ones",
    usage: 'flotilla logs DEVICE [--step PATH] [--level warn|error] [--since 10m] [--follow] [--json] [--api URL] [--api-token T]',
    argument: 'DEVICE',
    options: {
      ...apiOptions,
      step: { schema: opt.string, description: "only this child's lines (a path such as root/avg, or a subtree)" },
      level: { schema: ForwardedLevel, default: 'warn', description: 'lowest level shown: warn (warn and error) or error' },
      since: { schema: Duration, description: 'only lines newer than this, e.g. 10m' },
      follow: { schema: opt.bool, flag: true, description: 'keep printing new lines (checks every second) until Ctrl-C' },
      json: { schema: opt.bool, flag: true, description: 'one JSON line per log line' },
    },
  },
  async (v, { argument: device }) => {
    const client = new ApiClient(v.api, v['api-token']);
    const print = (line: LogLine) => console.log(v.json ? JSON.stringify(line) : formatLogLine(line));
    const cursor = new LogCursor(v.since === undefined ? undefined : Date.now() - v.since);
    const fetchNew = async () => {
      const { lines } = await client.logs(device, { step: v.step, level: v.level, since: cursor.since });
      for (const line of cursor.fresh(lines)) print(line);
    };
    await fetchNew();
    if (!v.follow) return 0;
    const stop = new AbortController();
    process.once('SIGINT', () => stop.abort());
    process.once('SIGTERM', () => stop.abort());
    while (!stop.signal.aborted) {
      await new Promise((resolve) => setTimeout(resolve, FOLLOW_MS));
      await fetchNew();
    }
    return 0;
  },
);

/**
 * What `--follow` has printed: it asks again from the newest timestamp seen (inclusive, since several lines can share
 * a millisecond) and prints only lines it has not printed yet.
 */
export class LogCursor {
  private newest: number | undefined;
  private atNewest = new Set<string>();

  constructor(private readonly from: number | undefined) {}

  /** The `since` to ask with: lines strictly newer than this are returned. */
  get since(): number | undefined {
    return this.newest === undefined ? this.from : this.newest - 1;
  }

  fresh(lines: LogLine[]): LogLine[] {
    const out: LogLine[] = [];
    for (const line of lines) {
      const key = JSON.stringify(line);
      if (this.newest !== undefined && (line.ts < this.newest || (line.ts === this.newest && this.atNewest.has(key)))) continue;
      if (this.newest === undefined || line.ts > this.newest) [this.newest, this.atNewest] = [line.ts, new Set()];
      this.atNewest.add(key);
      out.push(line);
    }
    return out;
  }
}

/** `2026-12-01T21:50:00.123Z warn  root/avg  config must be {"field": string, ...}`; the agent's own lines say `agent`. */
export function formatLogLine(line: LogLine): string {
  return `${new Date(line.ts).toISOString()} ${line.level.padEnd(5)} ${line.step ?? 'agent'}  ${line.message}`;
}
