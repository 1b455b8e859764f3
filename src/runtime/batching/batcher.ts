// Dynamic batching. Requests wait in a bounded FIFO queue; a batch is formed
// from requests along dimension 0 (up to maxBatchSize rows) and handed to
// the executor (service.ts), which computes a lone request on the HTTP
// thread's copy of a small model when the runtime is idle, and otherwise has
// the worker pool write the batch into a free worker's shared memory;
// outputs are split back so each request gets exactly its own rows.
//
// When to dispatch: immediately when no batch is running (an idle machine
// adds no latency), otherwise as soon as maxBatchSize rows are waiting or the
// oldest request has waited batchTimeoutMicros. While every worker is busy,
// requests accumulate and the next free worker takes them all at once. A
// full batch (maxBatchSize rows) may also go to a busy worker as its next
// task, so the worker never waits for this thread between batches. Deadlines
// are checked here and again by the executor when a held batch starts: a
// request whose deadline passed while it waited inside the worker is not
// computed and gets DEADLINE_EXCEEDED like one that expired here.

import { RuntimeError, invalidInput } from '../errors.js';
import type { TensorMap } from '../tensors.js';
import { split0 } from '../tensors.js';

/** One request of a batch, as the executor sees it. */
export interface BatchPart {
  rows: number;
  /** When the request expires, in milliseconds since the epoch (performance.timeOrigin + now). */
  deadline: number;
}

export interface BatchOutcome {
  /** Outputs for the requests computed, whose leading dimension is their rows. */
  outputs: TensorMap;
  computeSeconds: number;
  /**
   * Indices (into `parts`) of requests not computed because their deadline had
   * passed when the batch started; outputs then hold only the others' rows.
   */
  expired?: readonly number[];
}

export interface BatchExecutor {
  /**
   * Runs one batch of `parts`, whose inputs are `inputs[i]` (one map per
   * request, to concatenate along dimension 0: the executor does it, where
   * the batch is going). Requests whose deadline passed before the batch
   * starts may be left out (see `expired`).
   */
  run(inputs: readonly TensorMap[], parts: readonly BatchPart[]): Promise<BatchOutcome>;
  /** How many batches could start right now (free workers). */
  capacity(): number;
  /** How many busy workers could take a batch as their next task (0 when absent). */
  spare?(): number;
}

export interface BatcherOptions {
  maxBatchSize: number;
  batchTimeoutMicros: number;
  maxQueueSize: number;
  /** False when the model has a fixed leading dimension: requests then run one by one. */
  batchable: boolean;
}

export interface BatchResult {
  outputs: TensorMap;
  queueSeconds: number;
  computeSeconds: number;
  batchSize: number;
}

interface Item {
  inputs: TensorMap;
  rows: number | undefined;
  enqueuedAt: number;
  deadline: number;
  resolve(result: BatchResult): void;
  reject(err: Error): void;
}

export interface BatchObserver {
  onBatch?(batchSize: number, requests: number): void;
}

function expiredError(waitedMs: number): RuntimeError {
  return new RuntimeError(
    'DEADLINE_EXCEEDED',
    `the request waited ${Math.round(waitedMs)} ms in the queue, past its deadline`,
  );
}

export class Batcher {
  private readonly opts: BatcherOptions;
  private readonly executor: BatchExecutor;
  private readonly observer: BatchObserver;
  private readonly queue: Item[] = [];
  private queuedRows = 0;
  private running = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(opts: BatcherOptions, executor: BatchExecutor, observer: BatchObserver = {}) {
    this.opts = opts;
    this.executor = executor;
    this.observer = observer;
  }

  /** Requests waiting (not yet sent to a worker). */
  get depth(): number {
    return this.queue.length;
  }

  /** Batches currently computing. */
  get inflight(): number {
    return this.running;
  }

  /**
   * Queues one request. `rows` (its batch size) must be every input's
   * dimension 0: a batch is cut back into requests by rows, so a request whose
   * inputs disagree could be handed rows that are not its own. Without rows it
   * runs alone.
   */
  submit(inputs: TensorMap, rows: number | undefined, timeoutMs: number): Promise<BatchResult> {
    if (rows !== undefined) {
      for (const [name, t] of Object.entries(inputs)) {
        if (t.shape[0] !== rows) {
          return Promise.reject(
            invalidInput(
              `input "${name}" has ${String(t.shape[0])} rows where the request has ${rows}; every input of a request needs the same number of rows`,
            ),
          );
        }
      }
    }
    if (this.queue.length >= this.opts.maxQueueSize) {
      return Promise.reject(
        new RuntimeError(
          'QUEUE_FULL',
          `the batching queue is full (${this.opts.maxQueueSize} requests waiting); retry later`,
          { retryAfterSeconds: 1 },
        ),
      );
    }
    return new Promise<BatchResult>((resolve, reject) => {
      const now = performance.now();
      this.queue.push({
        inputs,
        rows,
        enqueuedAt: now,
        deadline: now + timeoutMs,
        resolve,
        reject,
      });
      this.queuedRows += rows ?? 1;
      this.pump();
    });
  }

  /** Called when capacity may have freed up (a worker finished something). */
  pump(): void {
    const now = performance.now();
    while (this.queue.length > 0) {
      const idle = this.executor.capacity() > 0;
      if (!idle && (this.executor.spare?.() ?? 0) === 0) break;
      this.dropExpired(now);
      const head = this.queue[0];
      if (head === undefined) break;
      const single = !this.opts.batchable || head.rows === undefined;
      if (!idle) {
        // Only full batches queue behind a running one: partial ones keep
        // growing until a worker is free, which is what makes batching pay.
        if (single || this.queuedRows < this.opts.maxBatchSize) break;
        this.launch(this.take(this.opts.maxBatchSize, false));
        continue;
      }
      const waitedMicros = (now - head.enqueuedAt) * 1000;
      const ready =
        single ||
        this.running === 0 ||
        this.queuedRows >= this.opts.maxBatchSize ||
        waitedMicros >= this.opts.batchTimeoutMicros;
      if (!ready) {
        this.arm((this.opts.batchTimeoutMicros - waitedMicros) / 1000);
        break;
      }
      this.launch(single ? this.take(1, true) : this.take(this.opts.maxBatchSize, false));
    }
  }

  private arm(ms: number): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.pump();
      },
      Math.max(0, ms),
    );
  }

  private dropExpired(now: number): void {
    while (this.queue.length > 0 && (this.queue[0] as Item).deadline <= now) {
      const item = this.queue.shift() as Item;
      this.queuedRows -= item.rows ?? 1;
      item.reject(expiredError(now - item.enqueuedAt));
    }
  }

  private take(maxRows: number, single: boolean): Item[] {
    const batch: Item[] = [];
    let rows = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0] as Item;
      const r = next.rows ?? 1;
      if (batch.length > 0 && (single || next.rows === undefined || rows + r > maxRows)) break;
      batch.push(next);
      this.queue.shift();
      this.queuedRows -= r;
      rows += r;
    }
    return batch;
  }

  private launch(batch: Item[]): void {
    if (batch.length === 0) return;
    if (this.timer !== undefined && this.queue.length === 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.running++;
    const start = performance.now();
    const rows = batch.map((b) => b.rows ?? 1);
    const total = rows.reduce((a, b) => a + b, 0);
    // Not concatenated here: the executor writes the batch where its worker reads it.
    const inputs = batch.map((b) => b.inputs);
    this.observer.onBatch?.(total, batch.length);
    const parts = batch.map((b, i) => ({
      rows: rows[i] as number,
      deadline: performance.timeOrigin + b.deadline,
    }));
    this.executor
      .run(inputs, parts)
      .then(({ outputs, computeSeconds, expired = [] }) => {
        const now = performance.now();
        const gone = new Set(expired);
        const live = batch.filter((_, i) => !gone.has(i));
        const liveRows = rows.filter((_, i) => !gone.has(i));
        const liveTotal = liveRows.reduce((a, b) => a + b, 0);
        const pieces: Record<string, TensorMap[string][]> = {};
        if (live.length > 0) {
          for (const [name, t] of Object.entries(outputs)) {
            if (batch.length > 1 && t.shape[0] !== liveTotal) {
              throw new RuntimeError(
                'INFERENCE_FAILED',
                `output "${name}" has ${t.shape[0]} rows for a batch of ${liveTotal}; the model cannot be batched`,
              );
            }
            pieces[name] = live.length === 1 ? [t] : split0(t, liveRows);
          }
        }
        let at = 0;
        batch.forEach((item, i) => {
          if (gone.has(i)) {
            item.reject(expiredError(now - item.enqueuedAt));
            return;
          }
          const own: TensorMap = {};
          for (const name of Object.keys(pieces))
            own[name] = (pieces[name] as TensorMap[string][])[at] as TensorMap[string];
          at++;
          item.resolve({
            outputs: own,
            queueSeconds: (start - item.enqueuedAt) / 1000,
            computeSeconds,
            batchSize: total,
          });
        });
      })
      .catch((err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err));
        for (const item of batch) item.reject(e);
      })
      .finally(() => {
        this.running--;
        this.pump();
      });
  }

  /** Rejects everything still queued (used when the drain timeout runs out). */
  abort(reason: RuntimeError): void {
    for (const item of this.queue.splice(0)) item.reject(reason);
    this.queuedRows = 0;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
