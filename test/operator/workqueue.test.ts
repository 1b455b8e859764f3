import { describe, expect, it } from 'vitest';
import { WorkQueue } from '../../src/operator/workqueue.js';
import { OperatorMetrics } from '../../src/operator/metrics.js';

describe('WorkQueue', () => {
  it('merges adds of a key that is waiting', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('a');
    q.add('b');
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
  });

  it('never hands a key to two workers: an add while processing re-queues it after done', async () => {
    const q = new WorkQueue();
    q.add('a');
    const key = await q.get();
    q.add('a');
    expect(q.length).toBe(0);
    q.done(key!);
    expect(q.length).toBe(1);
    expect(await q.get()).toBe('a');
  });

  it('wakes a waiting worker on add', async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.add('x');
    expect(await waiting).toBe('x');
  });

  it('backs off exponentially per key and forgets on success', () => {
    const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 50 });
    expect([0, 1, 2, 3, 4].map((n) => q.backoffFor(n))).toEqual([10, 20, 40, 50, 50]);
    q.addRateLimited('a');
    q.addRateLimited('a');
    expect(q.numRequeues('a')).toBe(2);
    expect(q.numRequeues('b')).toBe(0);
    q.forget('a');
    expect(q.numRequeues('a')).toBe(0);
    q.shutDown();
  });

  it('adds after a delay, the earliest pending delay winning', async () => {
    const q = new WorkQueue();
    q.addAfter('a', 10_000);
    q.addAfter('a', 20);
    const started = Date.now();
    expect(await q.get()).toBe('a');
    expect(Date.now() - started).toBeLessThan(5_000);
    q.shutDown();
  });

  it('shutDown releases waiting workers and ignores later adds', async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.shutDown();
    expect(await waiting).toBeUndefined();
    q.add('a');
    expect(await q.get()).toBeUndefined();
  });

  it('reports depth, adds and retries under controller-runtime names', async () => {
    const m = new OperatorMetrics({ defaultMetrics: false });
    const q = new WorkQueue({ baseDelayMs: 1, maxDelayMs: 1 }, m.workqueue);
    q.add('a');
    q.add('b');
    q.addRateLimited('c');
    const text = await m.registry.metrics();
    expect(text).toMatch(
      /workqueue_depth\{name="modeldeployment",controller="modeldeployment"\} 2/,
    );
    expect(text).toMatch(
      /workqueue_adds_total\{name="modeldeployment",controller="modeldeployment"\} 2/,
    );
    expect(text).toMatch(
      /workqueue_retries_total\{name="modeldeployment",controller="modeldeployment"\} 1/,
    );
    expect(text).toMatch(
      /controller_runtime_reconcile_total\{controller="modeldeployment",result="success"\} 0/,
    );
    q.shutDown();
  });
});
