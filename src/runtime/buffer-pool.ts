// A pool of ArrayBuffers in size classes, for request bodies (see
// request-bodies.ts). Without it, every body is a fresh allocation outside
// the JS heap: V8 counts that memory and collects garbage early to keep up
// (at 600 KB a body and 1,000 requests a second, a scavenge every 40 ms).

/** Sizes below this are rounded up to it. */
const MIN_CLASS = 1024;

/**
 * The pooled size for a request of `size` bytes: at most 1/8 larger, so that
 * bodies of nearly the same length share buffers.
 */
export function sizeClass(size: number): number {
  if (size <= MIN_CLASS) return MIN_CLASS;
  const step = 2 ** (Math.floor(Math.log2(size - 1)) - 3);
  return Math.ceil(size / step) * step;
}

export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private held = 0;

  /** `maxBytes`: what the pool keeps at most; buffers given back beyond it are left to the GC. */
  constructor(readonly maxBytes: number) {}

  /** An ArrayBuffer of at least `size` bytes, of `sizeClass(size)` bytes; contents undefined. */
  take(size: number): ArrayBuffer {
    const cls = sizeClass(size);
    const buf = this.free.get(cls)?.pop();
    if (buf !== undefined) {
      this.held -= cls;
      return buf;
    }
    // Not zero-filled: callers write every byte they read.
    return Buffer.allocUnsafeSlow(cls).buffer;
  }

  /** Keeps buffers for reuse; only whole buffers of a pool size that no one else holds. */
  give(buffers: Iterable<ArrayBuffer>): void {
    for (const buf of buffers) {
      const cls = buf.byteLength;
      if (cls !== sizeClass(cls) || this.held + cls > this.maxBytes) continue;
      let list = this.free.get(cls);
      if (list === undefined) this.free.set(cls, (list = []));
      list.push(buf);
      this.held += cls;
    }
  }
}
