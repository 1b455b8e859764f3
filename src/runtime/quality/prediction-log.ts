// Recent predictions by request id, waiting for their feedback. Bounded in
// memory three ways, the oldest dropped first: a number of entries, a total
// of stored numbers (a regression output can be wide), and an age (TTL).
// Insertion order is age order (a re-used id moves to the newest end), so
// every bound is enforced from the oldest end: a Map for lookup and a
// doubly linked list for order keep every operation O(1) (amortized for
// evictions, each entry being evicted at most once).

export interface PredictionLogOptions<V> {
  maxEntries: number;
  /** The most `weight` summed over the entries kept. */
  maxWeight: number;
  ttlMs: number;
  /** What an entry counts against maxWeight. */
  weight: (value: V) => number;
  /** A monotonic clock in milliseconds (injected by tests). */
  now?: () => number;
}

interface Entry<V> {
  id: string;
  value: V;
  weight: number;
  expiresAt: number;
  older: Entry<V> | undefined;
  newer: Entry<V> | undefined;
}

/** Why an entry left the log without being taken. */
export type Eviction = 'expired' | 'evicted';

export class PredictionLog<V> {
  private readonly byId = new Map<string, Entry<V>>();
  private oldest: Entry<V> | undefined;
  private newest: Entry<V> | undefined;
  private weightHeld = 0;
  private readonly opts: Required<PredictionLogOptions<V>>;
  /** Called for each entry dropped by a bound (metrics count them). */
  onDrop: (value: V, why: Eviction) => void = () => {};

  constructor(opts: PredictionLogOptions<V>) {
    this.opts = { now: () => performance.now(), ...opts };
  }

  get size(): number {
    return this.byId.size;
  }

  /** The summed weight of the entries kept. */
  get weight(): number {
    return this.weightHeld;
  }

  /**
   * Keeps `value` under `id` as the newest entry (replacing an entry with
   * the same id). Returns false when it alone outweighs the log: it is not kept.
   */
  set(id: string, value: V): boolean {
    const now = this.opts.now();
    this.dropExpired(now);
    const old = this.byId.get(id);
    if (old !== undefined) this.unlink(old);
    const weight = this.opts.weight(value);
    if (weight > this.opts.maxWeight) return false;
    while (
      this.oldest !== undefined &&
      (this.byId.size >= this.opts.maxEntries || this.weightHeld + weight > this.opts.maxWeight)
    ) {
      this.drop(this.oldest, 'evicted');
    }
    const entry: Entry<V> = {
      id,
      value,
      weight,
      expiresAt: now + this.opts.ttlMs,
      older: this.newest,
      newer: undefined,
    };
    if (this.newest === undefined) this.oldest = entry;
    else this.newest.newer = entry;
    this.newest = entry;
    this.byId.set(id, entry);
    this.weightHeld += weight;
    return true;
  }

  /** The value under `id`, unless it expired. */
  get(id: string): V | undefined {
    const entry = this.live(id);
    return entry?.value;
  }

  /** Removes and returns the value under `id` (feedback labels a prediction once). */
  take(id: string): V | undefined {
    const entry = this.live(id);
    if (entry === undefined) return undefined;
    this.unlink(entry);
    return entry.value;
  }

  /** Drops the entries past their TTL (every set, get and take does). */
  dropExpired(now = this.opts.now()): void {
    while (this.oldest !== undefined && this.oldest.expiresAt <= now)
      this.drop(this.oldest, 'expired');
  }

  /** The entry under `id`; every operation drops the expired entries first. */
  private live(id: string): Entry<V> | undefined {
    this.dropExpired();
    return this.byId.get(id);
  }

  private drop(entry: Entry<V>, why: Eviction): void {
    this.unlink(entry);
    this.onDrop(entry.value, why);
  }

  private unlink(entry: Entry<V>): void {
    if (entry.older === undefined) this.oldest = entry.newer;
    else entry.older.newer = entry.newer;
    if (entry.newer === undefined) this.newest = entry.older;
    else entry.newer.older = entry.older;
    entry.older = undefined;
    entry.newer = undefined;
    this.byId.delete(entry.id);
    this.weightHeld -= entry.weight;
  }
}
