/** At most this many parsed messages wait for their second reader (a bound, not a tuning knob). */
const MAX_WAITING = 1024;

/**
 * An intermediate coordinator receives each message from below twice, on two clients of its broker: the intake's
 * (to apply it) and the bridge's (to forward it up, valid ones only). The first reader parses; the second finds the
 * result by topic and equal bytes (a memcmp instead of JSON parsing and schema checks), so each message is parsed
 * once. A coordinator without a parent has one reader and keeps nothing.
 */
export class ParseOnce {
  private readonly waiting = new Map<string, { payload: Buffer; result: { ok: true; value: unknown } | { ok: false; error: unknown } }[]>();
  private size = 0;

  constructor(private readonly readers: 1 | 2) {}

  /** The parse of (topic, payload): `parse()`'s value or its thrown error, computed once for both readers. */
  parse<T>(topic: string, payload: Buffer, parse: () => T): T {
    if (this.readers === 1) return parse();
    const entries = this.waiting.get(topic);
    const at = entries?.findIndex((e) => e.payload.equals(payload)) ?? -1;
    if (entries && at >= 0) {
      const [{ result }] = entries.splice(at, 1);
      this.size--;
      if (entries.length === 0) this.waiting.delete(topic);
      if (result.ok) return result.value as T;
      throw result.error;
    }
    let result: { ok: true; value: unknown } | { ok: false; error: unknown };
    try {
      result = { ok: true, value: parse() };
    } catch (error) {
      result = { ok: false, error };
    }
    this.keep(topic, payload, result);
    if (result.ok) return result.value as T;
    throw result.error;
  }

  private keep(topic: string, payload: Buffer, result: { ok: true; value: unknown } | { ok: false; error: unknown }): void {
    if (this.size >= MAX_WAITING) {
      // The oldest topic's entries: their second reader is late or will not come (a message the bridge does not map).
      const [oldest, entries] = this.waiting.entries().next().value!;
      this.waiting.delete(oldest);
      this.size -= entries.length;
    }
    const entries = this.waiting.get(topic);
    if (entries) entries.push({ payload, result });
    else this.waiting.set(topic, [{ payload, result }]);
    this.size++;
  }
}
