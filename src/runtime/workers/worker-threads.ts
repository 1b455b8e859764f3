// The threads of the worker pool: inference workers, each holding its own
// copy of the model, and decode workers, which hold none. This file starts
// them (the entry file resolved next to it at run time), says when each is
// ready, and replaces one that dies. What they are given to do is the pool's
// (worker-pool.ts), which hears of every thread through ThreadEvents.

import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { fromSerialized, RuntimeError } from '../errors.js';
import type { RuntimeLogger } from '../logger.js';
import type { ModelSignature } from '../models/signature.js';
import type { FromWorker, TfjsMemory, WorkerInit, WorkerReady } from './messages.js';

/** One running thread: its place among its kind and the Worker to post tasks to. */
export interface WorkerThread {
  readonly kind: 'inference' | 'decode';
  readonly index: number;
  readonly worker: Worker;
}

/** A worker's answer to a task (anything but the start-up messages). */
export type TaskAnswer = Exclude<
  FromWorker,
  WorkerReady | { type: 'init-failed' } | { type: 'decoder-ready' }
>;

export interface ThreadEvents {
  /** A thread has loaded (at start, or as a replacement) and can take tasks. */
  ready(thread: WorkerThread): void;
  /** A thread answered a task. */
  answered(thread: WorkerThread, answer: TaskAnswer): void;
  /** A thread exited: the tasks it held, if it was ready, fail with `err`. */
  exited(thread: WorkerThread, err: RuntimeError): void;
}

/** Starts one worker thread for `workerData` (a seam: tests reach the threads through it). */
export type StartThread = (workerData: WorkerInit) => Worker;

export interface WorkerThreadsOptions {
  /** Inference workers, each with its own copy of the model. */
  workers: number;
  /** Decode workers beside them (no model, request bodies only). */
  decodeWorkers?: number;
  init: WorkerInit;
  logger?: RuntimeLogger;
  startThread?: StartThread;
}

/**
 * How to start the worker entry next to this file: the built .js directly, or,
 * when running from TypeScript sources (tsx, vitest), a bootstrap that
 * registers tsx's loader in the worker before importing the .ts entry.
 */
function workerEntry(): { script: string | URL; eval: boolean } {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return { script: new URL('./inference-worker.js', self), eval: false };
  const entry = new URL('./inference-worker.ts', self).href;
  // require.resolve finds the CommonJS build; the worker imports the ESM one next to it.
  const api = createRequire(self)
    .resolve('tsx/esm/api')
    .replace(/\.cjs$/, '.mjs');
  const tsx = pathToFileURL(api).href;
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return { script: code, eval: true };
}

/** Starts a worker thread on the runtime's worker entry (inference-worker.ts). */
export const startWorkerThread: StartThread = (workerData) => {
  const entry = workerEntry();
  return new Worker(entry.script, { workerData, eval: entry.eval });
};

export class WorkerThreads {
  private readonly opts: WorkerThreadsOptions;
  private readonly events: ThreadEvents;
  private readonly startThread: StartThread;
  /** The running threads of each kind, by index (a replacement takes its place). */
  private readonly running: Record<WorkerThread['kind'], WorkerThread[]> = {
    inference: [],
    decode: [],
  };
  /** tfjs memory of each inference worker, as it last reported it. */
  private readonly memories: TfjsMemory[] = [];
  private started = false;
  private closing = false;

  constructor(opts: WorkerThreadsOptions, events: ThreadEvents) {
    this.opts = opts;
    this.events = events;
    this.startThread = opts.startThread ?? startWorkerThread;
  }

  /** Starts every worker and resolves once all have loaded and warmed up the model. */
  async start(): Promise<WorkerReady> {
    const results = await Promise.allSettled(
      Array.from({ length: this.opts.workers }, (_, i) => this.spawn(i)),
    );
    const failed = results.find((r) => r.status === 'rejected');
    if (failed !== undefined) {
      await this.close();
      throw failed.reason;
    }
    const info = (results[0] as PromiseFulfilledResult<WorkerReady>).value;
    const decoders = await Promise.allSettled(
      Array.from({ length: this.opts.decodeWorkers ?? 0 }, (_, i) => this.spawn(i, info.signature)),
    );
    const decoderFailed = decoders.find((r) => r.status === 'rejected');
    if (decoderFailed !== undefined) {
      await this.close();
      throw decoderFailed.reason;
    }
    this.started = true;
    return info;
  }

  /** Starts inference worker `index`, or decode worker `index` for a signature. */
  private spawn(index: number, decodeOnly?: ModelSignature): Promise<WorkerReady | undefined> {
    const kind = decodeOnly === undefined ? 'inference' : 'decode';
    const what = `${kind} worker`;
    const init = this.opts.init;
    const worker = this.startThread(decodeOnly === undefined ? init : { ...init, decodeOnly });
    const thread: WorkerThread = { kind, index, worker };
    this.running[kind][index] = thread;
    if (kind === 'inference') this.memories[index] = { numBytes: 0, numTensors: 0 };
    const logger = this.opts.logger;
    return new Promise<WorkerReady | undefined>((resolve, reject) => {
      let settled = false;
      worker.on('message', (msg: FromWorker) => {
        if (msg.type === 'ready' || msg.type === 'decoder-ready') {
          if (msg.type === 'ready') this.memories[index] = msg.memory;
          settled = true;
          resolve(msg.type === 'ready' ? msg : undefined);
          this.events.ready(thread);
          return;
        }
        if (msg.type === 'init-failed') {
          settled = true;
          reject(fromSerialized(msg.error));
          return;
        }
        if (msg.type === 'inferred') this.memories[index] = msg.memory;
        this.events.answered(thread, msg);
      });
      worker.on('error', (err) => {
        logger?.error({ err, worker: index }, `${what} crashed`);
        if (!settled) {
          settled = true;
          reject(new RuntimeError('MODEL_LOAD_FAILED', `${what} failed: ${err.message}`));
        }
      });
      worker.on('exit', (code) => {
        // Terminated by close(): the request meets the shutdown, not a crash.
        const err = this.closing
          ? new RuntimeError('DRAINING', 'the runtime shut down during this request', {
              retryAfterSeconds: 1,
            })
          : new RuntimeError(
              'INFERENCE_FAILED',
              `the ${what} exited (code ${code}) during this request`,
            );
        this.events.exited(thread, err);
        if (!settled) {
          settled = true;
          reject(
            new RuntimeError('MODEL_LOAD_FAILED', `${what} exited with code ${code} while loading`),
          );
          return;
        }
        if (!this.closing && this.started) {
          logger?.error({ worker: index, code }, `${what} exited; starting a replacement`);
          this.spawn(index, decodeOnly).catch((e: unknown) => {
            logger?.error({ err: e, worker: index }, `replacement ${what} failed to start`);
          });
        }
      });
    });
  }

  /** tfjs memory of each inference worker. */
  memory(): TfjsMemory[] {
    return [...this.memories];
  }

  /** Stops every thread; the tasks they hold fail with DRAINING. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      [...this.running.inference, ...this.running.decode]
        .filter((t) => t !== undefined)
        .map((t) => t.worker.terminate()),
    );
  }
}
