import { describe, expect, it } from 'vitest';
import { RestartBuffer } from '../../agent/supervisor/restart-buffer.js';

const b = (s: string) => new TextEncoder().encode(s);
const texts = (xs: Uint8Array[]) => xs.map((x) => new TextDecoder().decode(x));

describe('RestartBuffer', () => {
  it('restore puts taken messages back in front, in order; what no longer fits (the newest) is dropped and counted', () => {
    const buffer = new RestartBuffer(3);
    buffer.add(b('a'));
    buffer.add(b('b'));
    const taken = buffer.take();
    buffer.add(b('c'));
    buffer.add(b('d'));
    buffer.restore(taken);
    expect(texts(buffer.take())).toEqual(['a', 'b', 'c']);
    expect(buffer.dropped).toBe(1);
  });
});
