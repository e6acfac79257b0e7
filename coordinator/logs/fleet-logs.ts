import type { LogLine } from '../../shared/logs.js';
import { LogRings } from './log-rings.js';

/**
 * The coordinator's logs room: lines arriving from its own devices go into their rings (rate-limited per device)
 * and, when kept, to whoever listens live (the dashboard stream). Nothing here is sent up the hierarchy unasked.
 */
export class FleetLogs {
  readonly rings: LogRings;
  private readonly listeners = new Set<(id: string, line: LogLine) => void>();

  constructor(
    private readonly now: () => number = Date.now,
    rings = new LogRings(),
  ) {
    this.rings = rings;
  }

  /** One line from device `id` (already parsed by its schema); false if it was over the device's rate. */
  intake(id: string, line: LogLine): boolean {
    if (!this.rings.add(id, line, this.now())) return false;
    for (const listener of this.listeners) listener(id, line);
    return true;
  }

  /** Lines as they are kept. Returns the unsubscribe function. */
  onLine(listener: (id: string, line: LogLine) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  forget(id: string): void {
    this.rings.forget(id);
  }
}
