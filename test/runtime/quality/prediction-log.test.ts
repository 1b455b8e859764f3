// The prediction log: oldest evicted first under each bound (entries, stored
// numbers, TTL on an injected clock), ids taken once, and, as a property, the
// same answers as a plain list that does everything the slow way.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PredictionLog } from '../../../src/runtime/quality/prediction-log.js';

interface Clock {
  now: () => number;
  advance: (ms: number) => void;
}

function clock(): Clock {
  let t = 0;
  return { now: () => t, advance: (ms) => (t += ms) };
}

function log(
  opts: { maxEntries?: number; maxWeight?: number; ttlMs?: number } = {},
  time = clock(),
): { log: PredictionLog<number[]>; time: Clock; dropped: string[] } {
  const l = new PredictionLog<number[]>({
    maxEntries: opts.maxEntries ?? 100,
    maxWeight: opts.maxWeight ?? 1000,
    ttlMs: opts.ttlMs ?? 60_000,
    weight: (v) => v.length,
    now: time.now,
  });
  const dropped: string[] = [];
  l.onDrop = (v, why) => dropped.push(`${v.join(',')}:${why}`);
  return { log: l, time, dropped };
}

describe('the prediction log', () => {
  it('evicts the oldest entry when full', () => {
    const { log: l, dropped } = log({ maxEntries: 3 });
    for (const i of [1, 2, 3, 4]) l.set(`r${i}`, [i]);
    expect(l.size).toBe(3);
    expect(l.get('r1')).toBeUndefined();
    expect(l.get('r2')).toEqual([2]);
    expect(l.get('r4')).toEqual([4]);
    expect(dropped).toEqual(['1:evicted']);
  });

  it('a re-used id replaces its entry and becomes the newest', () => {
    const { log: l } = log({ maxEntries: 3 });
    l.set('a', [1]);
    l.set('b', [2]);
    l.set('c', [3]);
    l.set('a', [10]);
    l.set('d', [4]);
    expect(l.get('b')).toBeUndefined();
    expect(l.get('a')).toEqual([10]);
    expect(l.size).toBe(3);
  });

  it('bounds the stored numbers, evicting as many oldest entries as it takes', () => {
    const { log: l, dropped } = log({ maxWeight: 10 });
    l.set('a', [1, 1, 1, 1]);
    l.set('b', [2, 2, 2, 2]);
    l.set('c', [3, 3, 3, 3, 3, 3, 3, 3]);
    expect(dropped).toEqual(['1,1,1,1:evicted', '2,2,2,2:evicted']);
    expect(l.weight).toBe(8);
    // An entry heavier than the whole log is not kept (and leaves the others be).
    expect(l.set('huge', new Array<number>(11).fill(0))).toBe(false);
    expect(l.get('huge')).toBeUndefined();
    expect(l.get('c')).toHaveLength(8);
  });

  it('expires entries after the TTL, on the clock it is given', () => {
    const { log: l, time, dropped } = log({ ttlMs: 1000 });
    l.set('a', [1]);
    time.advance(600);
    l.set('b', [2]);
    time.advance(399);
    expect(l.get('a')).toEqual([1]);
    time.advance(1);
    expect(l.get('a')).toBeUndefined();
    expect(l.get('b')).toEqual([2]);
    expect(dropped).toEqual(['1:expired']);
    time.advance(600);
    // Expired entries go without being asked for, at the next set or dropExpired.
    l.dropExpired();
    expect(l.size).toBe(0);
    expect(dropped).toEqual(['1:expired', '2:expired']);
  });

  it('takes an entry once', () => {
    const { log: l, dropped } = log();
    l.set('a', [1, 2]);
    expect(l.take('a')).toEqual([1, 2]);
    expect(l.take('a')).toBeUndefined();
    expect(l.size).toBe(0);
    expect(l.weight).toBe(0);
    expect(dropped).toEqual([]);
  });

  it('stays within its bounds and answers as a plain list would (property)', () => {
    type Op =
      | { op: 'set'; id: number; len: number }
      | { op: 'take'; id: number }
      | { op: 'get'; id: number }
      | { op: 'wait'; ms: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        op: fc.constant('set' as const),
        id: fc.nat(20),
        len: fc.integer({ min: 0, max: 6 }),
      }),
      fc.record({ op: fc.constant('take' as const), id: fc.nat(20) }),
      fc.record({ op: fc.constant('get' as const), id: fc.nat(20) }),
      fc.record({ op: fc.constant('wait' as const), ms: fc.nat(400) }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.array(op, { maxLength: 200 }),
        (maxEntries, maxWeight, ttlMs, ops) => {
          const { log: l, time } = log({ maxEntries, maxWeight, ttlMs });
          // The model: entries oldest first, each with when it expires.
          let model: { id: string; value: number[]; expiresAt: number }[] = [];
          const expire = (): void => {
            model = model.filter((e) => e.expiresAt > time.now());
          };
          for (const o of ops) {
            if (o.op === 'wait') {
              time.advance(o.ms);
              continue;
            }
            const id = `r${o.id}`;
            expire();
            if (o.op === 'set') {
              const value = new Array<number>(o.len).fill(o.id);
              model = model.filter((e) => e.id !== id);
              const kept = l.set(id, value);
              expect(kept).toBe(o.len <= maxWeight);
              if (kept) {
                const weight = (): number => model.reduce((a, e) => a + e.value.length, 0);
                while (model.length >= maxEntries || weight() + o.len > maxWeight) model.shift();
                model.push({ id, value, expiresAt: time.now() + ttlMs });
              }
            } else {
              const want = model.find((e) => e.id === id)?.value;
              expect(o.op === 'take' ? l.take(id) : l.get(id)).toEqual(want);
              if (o.op === 'take') model = model.filter((e) => e.id !== id);
            }
            expect(l.size).toBe(model.length);
            expect(l.size).toBeLessThanOrEqual(maxEntries);
            expect(l.weight).toBeLessThanOrEqual(maxWeight);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('costs O(1) per operation: a set and a take in a full log of 300,000 take about as long as in one of 1,000', () => {
    const ids = Array.from({ length: 350_000 }, (_, i) => `r${i}`);
    const value = [1];
    /** Microseconds per set (each evicting the oldest) and take, once `capacity` entries are held. */
    const perOp = (capacity: number): number => {
      const { log: l } = log({ maxEntries: capacity, maxWeight: 1e9, ttlMs: 1e9 });
      for (let i = 0; i < capacity; i++) l.set(ids[i] as string, value);
      const t0 = performance.now();
      for (let i = 0; i < 50_000; i++) {
        l.set(ids[capacity + i] as string, value);
        l.take(ids[capacity - 1 - (i % capacity)] as string);
      }
      return ((performance.now() - t0) * 1000) / 50_000;
    };
    perOp(1000); // warm up the JIT
    const median = (xs: number[]): number => xs.sort((a, b) => a - b)[1] as number;
    const small = median([perOp(1000), perOp(1000), perOp(1000)]);
    const large = median([perOp(300_000), perOp(300_000), perOp(300_000)]);
    // Work linear in the size would make the large log 300x slower; cache misses on a large
    // map and the CPUs other jobs share with this one account for a few times at most.
    expect(large).toBeLessThan(small * 30);
  });
});
