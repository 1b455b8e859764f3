// The worker loop: N workers take keys from the queue and reconcile them. The
// result decides what happens next, as in controller-runtime: error ->
// rate-limited retry; terminal error -> counted, not retried; requeueAfter ->
// forget, then add later; success -> forget.
import type { Logger } from './logger.js';
import { CONTROLLER } from './metrics.js';
import type { OperatorMetrics } from './metrics.js';
import type { Reconciler } from './reconcile.js';
import { TerminalError } from './reconcile.js';
import type { WorkQueue } from './workqueue.js';
import { errorMessage } from './kube/informer.js';

export class Controller {
  private workers: Promise<void>[] = [];
  private running = false;

  constructor(
    private readonly queue: WorkQueue,
    private readonly reconciler: Reconciler,
    private readonly metrics: OperatorMetrics,
    private readonly logger: Logger,
    private readonly concurrency: number,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.metrics.maxWorkers.set({ controller: CONTROLLER }, this.concurrency);
    for (let i = 0; i < this.concurrency; i++) this.workers.push(this.work());
  }

  /** Stops taking keys and waits for running reconciles to finish. */
  async stop(): Promise<void> {
    this.running = false;
    this.queue.shutDown();
    await Promise.all(this.workers);
    this.workers = [];
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      await this.process(key);
    }
  }

  async process(key: string): Promise<void> {
    const labels = { controller: CONTROLLER };
    this.metrics.activeWorkers.inc(labels);
    const end = this.metrics.reconcileTime.startTimer(labels);
    try {
      const result = await this.reconciler.reconcile(key);
      this.queue.forget(key);
      if (result.requeueAfterMs !== undefined) {
        this.metrics.reconcileTotal.inc({ ...labels, result: 'requeue_after' });
        this.queue.addAfter(key, result.requeueAfterMs);
      } else {
        this.metrics.reconcileTotal.inc({ ...labels, result: 'success' });
      }
    } catch (err) {
      this.metrics.reconcileTotal.inc({ ...labels, result: 'error' });
      this.metrics.reconcileErrors.inc(labels);
      if (err instanceof TerminalError) {
        this.metrics.terminalErrors.inc(labels);
        this.queue.forget(key);
        this.logger.warn('reconcile failed permanently', { key, error: err.message });
      } else {
        const retry = this.queue.numRequeues(key);
        this.queue.addRateLimited(key);
        this.logger.warn('reconcile failed, will retry', {
          key,
          error: errorMessage(err),
          retryInMs: this.queue.backoffFor(retry),
        });
      }
    } finally {
      end();
      this.metrics.activeWorkers.dec(labels);
      this.queue.done(key);
    }
  }
}
