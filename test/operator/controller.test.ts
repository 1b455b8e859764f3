import { describe, expect, it } from 'vitest';
import { Controller } from '../../src/operator/controller.js';
import { silentLogger } from '../../src/operator/logger.js';
import { OperatorMetrics } from '../../src/operator/metrics.js';
import { TerminalError } from '../../src/operator/reconcile.js';
import type { ReconcileResult } from '../../src/operator/reconcile.js';
import { WorkQueue } from '../../src/operator/workqueue.js';

function setup(reconcile: (key: string) => Promise<ReconcileResult>) {
  const metrics = new OperatorMetrics({ defaultMetrics: false });
  const queue = new WorkQueue({ baseDelayMs: 5, maxDelayMs: 20 }, metrics.workqueue);
  const controller = new Controller(queue, { reconcile }, metrics, silentLogger, 2);
  const count = async (result: string) =>
    (await metrics.reconcileTotal.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
  return { metrics, queue, controller, count };
}

describe('Controller', () => {
  it('retries errors with backoff until they succeed', async () => {
    let calls = 0;
    const { queue, controller, count } = setup(() => {
      calls++;
      if (calls < 3) return Promise.reject(new Error('boom'));
      return Promise.resolve({});
    });
    controller.start();
    queue.add('ns/a');
    await expect.poll(() => calls, { timeout: 2000 }).toBe(3);
    await expect.poll(() => count('success')).toBe(1);
    expect(await count('error')).toBe(2);
    expect(queue.numRequeues('ns/a')).toBe(0);
    await controller.stop();
  });

  it('does not retry terminal errors', async () => {
    let calls = 0;
    const { queue, controller, metrics } = setup(() => {
      calls++;
      return Promise.reject(new TerminalError('bad spec'));
    });
    controller.start();
    queue.add('ns/a');
    await expect.poll(async () => (await metrics.terminalErrors.get()).values[0]?.value).toBe(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(calls).toBe(1);
    await controller.stop();
  });

  it('requeues after the requested delay', async () => {
    let calls = 0;
    const { queue, controller, count } = setup(() => {
      calls++;
      return Promise.resolve(calls === 1 ? { requeueAfterMs: 30 } : {});
    });
    controller.start();
    queue.add('ns/a');
    await expect.poll(() => calls, { timeout: 2000 }).toBe(2);
    expect(await count('requeue_after')).toBe(1);
    await controller.stop();
  });

  it('never reconciles one key on two workers at once', async () => {
    let running = 0;
    let maxRunning = 0;
    let calls = 0;
    const { queue, controller } = setup(async () => {
      running++;
      calls++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((r) => setTimeout(r, 20));
      running--;
      return {};
    });
    controller.start();
    for (let i = 0; i < 10; i++) {
      queue.add('ns/a');
      await new Promise((r) => setTimeout(r, 5));
    }
    await expect.poll(() => running === 0 && queue.length === 0).toBe(true);
    // stop() waits for a reconcile in flight: the counts are final after it.
    await controller.stop();
    expect(maxRunning).toBe(1);
    expect(calls).toBeLessThan(10);
  });
});
