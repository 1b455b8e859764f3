// A work queue of keys with client-go's guarantees: a key waits in the queue at
// most once (adds while it waits are merged), a key is never handed to two
// workers at once (an add while it is processed re-queues it when done), and
// failures back off per key, exponentially.
import type { WorkqueueMetrics } from './metrics.js';

export interface RateLimiterOptions {
  baseDelayMs: number;
  maxDelayMs: number;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  /** Keys waiting in `queue`, with the time they were added. */
  private readonly dirty = new Map<string, number>();
  /** Keys being processed, with the time processing started. */
  private readonly processing = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;

  constructor(
    private readonly limiter: RateLimiterOptions = { baseDelayMs: 100, maxDelayMs: 300_000 },
    private readonly metrics?: WorkqueueMetrics,
    private readonly now: () => number = () => performance.now(),
  ) {}

  add(key: string): void {
    if (this.shuttingDown) return;
    this.metrics?.adds.inc();
    if (this.dirty.has(key)) return;
    this.dirty.set(key, this.now());
    if (this.processing.has(key)) return; // re-queued by done()
    this.push(key);
  }

  /** Adds the key after `ms`; an earlier pending add of the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = this.now() + ms;
    const pending = this.timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Re-adds a failed key after its backoff: base * 2^failures, capped. */
  addRateLimited(key: string): void {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    this.metrics?.retries.inc();
    this.addAfter(key, this.backoffFor(n));
  }

  backoffFor(failures: number): number {
    return Math.min(this.limiter.maxDelayMs, this.limiter.baseDelayMs * 2 ** failures);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Clears the key's failure count (after a success or a terminal error). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Waits for the next key; undefined once the queue shuts down. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) return Promise.resolve(this.take(key));
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks the key processed; a key added meanwhile goes back in the queue. */
  done(key: string): void {
    const started = this.processing.get(key);
    this.processing.delete(key);
    if (started !== undefined) this.metrics?.workDuration.observe((this.now() - started) / 1000);
    if (this.dirty.has(key) && !this.shuttingDown) this.push(key);
  }

  get length(): number {
    return this.queue.length;
  }

  /** Stops handing out keys; waiting get() calls resolve undefined. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const resolve of this.waiters.splice(0)) resolve(undefined);
  }

  private push(key: string): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(this.take(key));
    else {
      this.queue.push(key);
      this.metrics?.depth.set(this.queue.length);
    }
  }

  private take(key: string): string {
    const added = this.dirty.get(key);
    this.dirty.delete(key);
    this.processing.set(key, this.now());
    this.metrics?.depth.set(this.queue.length);
    if (added !== undefined) this.metrics?.queueDuration.observe((this.now() - added) / 1000);
    return key;
  }
}
