import type { LogRecord } from '../shared/log.js';
import { LOG_MESSAGE_MAX_CHARS, type LogLine } from '../shared/logs.js';
import { KeyedBuckets } from '../shared/token-bucket.js';

export interface ForwarderOptions {
  /** Sends one line to the coordinator; false if it could not be sent now (link down): it is then counted dropped. */
  send(line: LogLine): boolean;
  /** Lines per second each step (and the agent itself) may forward, after a burst. */
  ratePerS?: number;
  burst?: number;
  now?(): number;
}

/** Defaults: a step that logs in a loop costs its coordinator at most 2 lines/s after a burst of 20. */
export const LOG_RATE_PER_S = 2;
export const LOG_BURST = 20;

/** The agent's own lines share one bucket under this key (step paths never contain a space). */
const AGENT_KEY = 'agent ';

/**
 * Forwards the warn and error lines of the agent and of its steps to the coordinator (docs/protocol.md "Logs"),
 * rate-limited per step by a token bucket; what is not sent is counted (reported in health as `logsDropped`).
 * Pure apart from `send`: the clock is injected.
 */
export class LogForwarder {
  dropped = 0;
  private readonly buckets: KeyedBuckets;
  private readonly now: () => number;
  private sending = false;

  constructor(private readonly opts: ForwarderOptions) {
    this.buckets = new KeyedBuckets(opts.ratePerS ?? LOG_RATE_PER_S, opts.burst ?? LOG_BURST, 1000);
    this.now = opts.now ?? Date.now;
  }

  /** A logger tap: every record goes through here; only warn and error lines leave the device. */
  record(record: LogRecord): void {
    if (record.level !== 'warn' && record.level !== 'error') return;
    // A line logged while sending one (the link layer warning about the send) is not forwarded: no feedback loop.
    if (this.sending) return;
    const ts = this.now();
    if (!this.buckets.take(record.step ?? AGENT_KEY, ts)) {
      this.dropped++;
      return;
    }
    const message = record.message.length > LOG_MESSAGE_MAX_CHARS ? `${record.message.slice(0, LOG_MESSAGE_MAX_CHARS - 1)}…` : record.message;
    const line: LogLine = { ts, level: record.level, ...(record.step !== undefined ? { step: record.step } : {}), message };
    this.sending = true;
    try {
      if (!this.opts.send(line)) this.dropped++;
    } finally {
      this.sending = false;
    }
  }
}
