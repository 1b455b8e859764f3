// The mean of the last N values pushed, in O(1) per push: a ring of the
// values and their running sum. A running sum of floats drifts as values
// come and go, so it is summed afresh each time the ring wraps (every N
// pushes), which keeps the work O(1) amortized and the error that of one
// pass over N values. 0/1 values (correct or not) sum exactly anyway.

export class SlidingMean {
  private readonly ring: Float64Array;
  private next = 0;
  private filled = 0;
  private sum = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('a window holds at least one value');
    this.ring = new Float64Array(capacity);
  }

  /** Values in the window (at most capacity). */
  get size(): number {
    return this.filled;
  }

  push(value: number): void {
    if (this.filled === this.capacity) this.sum -= this.ring[this.next] as number;
    else this.filled++;
    this.ring[this.next] = value;
    this.sum += value;
    this.next++;
    if (this.next === this.capacity) {
      this.next = 0;
      this.sum = this.ring.reduce((a, v) => a + v, 0);
    }
  }

  /** The sum of the values in the window. */
  total(): number {
    return this.sum;
  }

  /** The mean of the values in the window; undefined while it is empty. */
  mean(): number | undefined {
    return this.filled === 0 ? undefined : this.sum / this.filled;
  }
}
