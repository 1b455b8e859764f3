// The owner of request-body memory, one per runtime: the server makes it and
// hands it to the app (whose body reader allocates from it), the service and
// the worker pool. Each body is read into a buffer of its own, taken from a
// pool (buffer-pool.ts). Since that buffer holds one body and nothing else,
// decoded tensors may view it in place, and it may move to a worker whole.
// It goes back to the pool once its batch's inputs have been read (copied
// into a worker's shared memory, or computed on the HTTP thread): nothing
// reads a request's inputs after that.

import { BufferPool } from './buffer-pool.js';
import type { HostTensor, TensorMap } from './tensors.js';
import { transferable, transferables } from './tensors.js';

/** What the pool keeps at most by default; buffers given back beyond it are left to the GC. */
const POOLED_BYTES = 64 * 1024 * 1024;

export class RequestBodies {
  private readonly pool: BufferPool;
  /** The buffers that hold one body and nothing else. */
  private readonly bodies = new WeakSet<ArrayBuffer>();
  private readonly holdsOneBody = (buf: ArrayBuffer): boolean => this.bodies.has(buf);

  constructor(maxPooledBytes = POOLED_BYTES) {
    this.pool = new BufferPool(maxPooledBytes);
  }

  /**
   * A buffer for one body of `length` bytes, starting `pad` bytes into a
   * buffer of its own. Not zero-filled: every byte of the body is written
   * before it is used, and the padding is never read.
   */
  allocate(pad: number, length: number): Buffer {
    const whole = this.pool.take(pad + length);
    this.bodies.add(whole);
    return Buffer.from(whole, pad, length);
  }

  /** Whether `view` lies in a buffer that holds one body alone (so a tensor may view it). */
  isBody(view: ArrayBufferView): boolean {
    return view.buffer instanceof ArrayBuffer && this.bodies.has(view.buffer);
  }

  /** The buffers that may move to another thread with `tensors` (tensors.ts's one rule). */
  transferables(tensors: Iterable<HostTensor>): ArrayBuffer[] {
    return transferables(tensors, this.holdsOneBody);
  }

  /**
   * `body` ready to move to a worker: itself when its buffer may move, else
   * its bytes copied into a buffer that may (its slice only, not whatever
   * else shares its memory).
   */
  movable(body: Uint8Array): { body: Uint8Array; transfer: ArrayBuffer } {
    const buf = transferable(body, this.holdsOneBody);
    if (buf !== undefined) return { body, transfer: buf };
    const copy = new Uint8Array(body);
    return { body: copy, transfer: copy.buffer };
  }

  /**
   * A batch's inputs have been read (copied into a worker's shared memory,
   * or computed on this thread): the bodies they view go back to the pool.
   */
  release(requests: readonly TensorMap[]): void {
    const seen = new Set<ArrayBuffer>();
    for (const m of requests) {
      for (const t of Object.values(m)) {
        if (!Array.isArray(t.data) && this.isBody(t.data)) seen.add(t.data.buffer as ArrayBuffer);
      }
    }
    this.pool.give(seen);
  }
}
