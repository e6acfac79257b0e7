import type { Packed } from './protocol.js';

/**
 * Packs queued messages into one transferable batch: payloads are copied once, at `add`, into a growing buffer.
 * The first buffer is sized after the previous batch, so steady traffic allocates about once per batch.
 */
export class BatchWriter {
  count = 0;
  bytes = 0;
  private lens: Uint32Array;
  private data: Uint8Array;

  constructor(private readonly sizeHint: { count: number; bytes: number } = { count: 16, bytes: 4096 }) {
    this.lens = new Uint32Array(Math.max(16, sizeHint.count));
    this.data = new Uint8Array(Math.max(4096, sizeHint.bytes));
  }

  add(payload: Uint8Array): void {
    if (this.count === this.lens.length) {
      const grown = new Uint32Array(this.lens.length * 2);
      grown.set(this.lens);
      this.lens = grown;
    }
    if (this.bytes + payload.length > this.data.length) {
      const grown = new Uint8Array(Math.max(this.data.length * 2, this.bytes + payload.length));
      grown.set(this.data.subarray(0, this.bytes));
      this.data = grown;
    }
    this.lens[this.count++] = payload.length;
    this.data.set(payload, this.bytes);
    this.bytes += payload.length;
  }

  /** The packed batch (its buffers are transferred, so this writer must not be used again). */
  seal(): Packed & { transfer: ArrayBuffer[] } {
    const lens = this.lens.buffer as ArrayBuffer;
    const data = this.data.buffer as ArrayBuffer;
    return { count: this.count, lens, data, transfer: [lens, data] };
  }
}

/** Calls `each` with a view of every message in a packed batch (views share the batch's buffer; no copies). */
export function unpack(packed: Packed, each: (payload: Uint8Array) => void): void {
  if (packed.count === 0) return;
  const lens = new Uint32Array(packed.lens!, 0, packed.count);
  let offset = 0;
  for (let i = 0; i < packed.count; i++) {
    each(new Uint8Array(packed.data!, offset, lens[i]));
    offset += lens[i];
  }
}
