// The pool of request body buffers: size classes, reuse, and its cap.

import { describe, expect, it } from 'vitest';
import { BufferPool, sizeClass } from '../../src/runtime/buffer-pool.js';

describe('sizeClass', () => {
  it('rounds up by at most 1/8, and small sizes to 1 KiB', () => {
    expect(sizeClass(0)).toBe(1024);
    expect(sizeClass(1024)).toBe(1024);
    expect(sizeClass(1025)).toBe(1152);
    expect(sizeClass(4096)).toBe(4096);
    expect(sizeClass(602_160)).toBe(655_360);
    for (let size = 1; size < 5_000_000; size = Math.ceil(size * 1.37) + 1) {
      const cls = sizeClass(size);
      expect(cls).toBeGreaterThanOrEqual(size);
      expect(size <= 1024 || cls <= size * 1.125).toBe(true);
      // A class is its own class, so buffers given back are recognised.
      expect(sizeClass(cls)).toBe(cls);
    }
  });
});

describe('BufferPool', () => {
  it('hands back a buffer given to it, for any size of its class', () => {
    const pool = new BufferPool(1 << 20);
    const a = pool.take(5000);
    expect(a.byteLength).toBe(sizeClass(5000));
    pool.give([a]);
    expect(pool.take(5100)).toBe(a);
    expect(pool.take(5000)).not.toBe(a);
  });

  it('keeps no more than its cap, and refuses buffers of other sizes', () => {
    const pool = new BufferPool(4096);
    // Not a pool size: refused, so it takes up none of the cap.
    pool.give([new ArrayBuffer(1500)]);
    const big = [pool.take(2048), pool.take(2048), pool.take(2048)];
    pool.give(big);
    // Two fit under the cap; the third is left to the GC.
    const again = [pool.take(2048), pool.take(2048), pool.take(2048)];
    expect(again.filter((b) => big.includes(b))).toHaveLength(2);
  });
});
