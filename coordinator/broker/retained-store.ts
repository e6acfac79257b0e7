import { topicMatches } from '../../shared/topics.js';
import type { StoredPacket } from './persistence-records.js';

/**
 * The broker's retained messages by topic. aedes-persistence's memory store tests every retained topic against
 * every filter of a SUBSCRIBE; with a retained status per device, every device subscribing to its own `cmd` topic
 * cost a scan of all devices' topics: O(devices²) when thousands (re)connect, which kept a coordinator busy for
 * minutes. A filter without wildcards is a lookup here; only wildcard filters scan.
 */
export class RetainedStore {
  private readonly byTopic = new Map<string, StoredPacket>();

  /** Store a copy (the caller may reuse the packet); an empty payload clears the topic ([MQTT-3.3.1-10]). */
  store(p: StoredPacket): void {
    if (p.payload.length === 0) this.byTopic.delete(p.topic);
    else this.byTopic.set(p.topic, { ...p });
  }

  /** The retained messages matching each filter in turn (one per match, as the memory store yields them). */
  *match(filters: string[]): Generator<StoredPacket> {
    for (const filter of filters) {
      if (!filter.includes('+') && !filter.includes('#')) {
        const p = this.byTopic.get(filter);
        if (p) yield p;
        continue;
      }
      for (const [topic, p] of this.byTopic) if (topicMatches(filter, topic)) yield p;
    }
  }

  get size(): number {
    return this.byTopic.size;
  }

  all(): IterableIterator<StoredPacket> {
    return this.byTopic.values();
  }
}
