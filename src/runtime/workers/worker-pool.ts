// A fixed pool of inference workers, each holding its own copy of the model,
// and of decode workers, which hold none. Tasks wait in two FIFO queues:
// inference batches first, then body decodes, so that decoding never starves
// the model. Waiting decodes are sent together (one thread hop for many
// bodies), to a decode worker first. A batch goes to an inference worker
// through shared memory (shared-batch.ts). A worker may hold its next task
// while it runs one, so it starts that task without waiting for this thread
// to take the result and answer. A worker that dies is replaced.

import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { fromSerialized, RuntimeError } from '../errors.js';
import type { DecodedRequest, DecodedRequests, DecodeTask, Protocol } from '../codec/decode.js';
import type { ModelSignature } from '../models/signature.js';
import type { RequestBodies } from '../request-bodies.js';
import type { TensorMap } from '../tensors.js';
import { packShared } from './shared-batch.js';
import type { BatchPart } from '../batching/batcher.js';
import type { FromWorker, TfjsMemory, ToWorker, WorkerInit, WorkerReady } from './messages.js';

export interface InferResult {
  outputs: TensorMap;
  computeSeconds: number;
  /** Indices of parts the worker did not compute because their deadline had passed. */
  expired?: number[];
}

interface InferTask {
  kind: 'infer';
  /** One map per request of the batch, concatenated by the worker. */
  inputs: TensorMap[];
  parts: BatchPart[] | undefined;
  resolve(value: InferResult): void;
  reject(err: Error): void;
}

interface DecodeTaskPending {
  kind: 'decode';
  id: number;
  task: DecodeTask;
  resolve(value: DecodedRequest): void;
  reject(err: Error): void;
}

/** One message to a worker: one inference, or a group of decodes. */
interface Sent {
  id: number;
  infer?: InferTask;
  /** The slot's shared buffer the batch was written to, free again once answered. */
  shared?: number;
  decodes?: DecodeTaskPending[];
}

interface Slot {
  index: number;
  worker: Worker;
  ready: boolean;
  /** Tasks sent and not answered, in the order the worker runs them. */
  sent: Sent[];
  /** This worker's shared batch buffers (shared-batch.ts), one per task it can hold. */
  shared: (SharedArrayBuffer | undefined)[];
  memory: TfjsMemory;
}

export interface WorkerPoolOptions {
  /** Inference workers, each with its own copy of the model. */
  workers: number;
  /**
   * Decode workers beside them: no model, request bodies only, so that large
   * JSON bodies are parsed while the inference workers compute (those decode
   * too when they are free).
   */
  decodeWorkers?: number;
  init: WorkerInit;
  /** Whose bodies the tasks' buffers are: they move to the workers, or go back once copied. */
  bodies: RequestBodies;
  logger?: PoolLogger;
}

export interface PoolLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Most request bodies, and most bytes, decoded in one round trip (so inference interleaves). */
const MAX_DECODE_GROUP = 64;
const MAX_DECODE_GROUP_BYTES = 1 << 20;
/**
 * Tasks a worker holds at once: the one it runs and the next. Two hide the
 * round trip through this thread (whose event loop is busy with sockets)
 * between tasks; more would only make batches wait behind each other.
 */
const DEPTH = 2;

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

/** A shared buffer index of `slot` that no task it holds is using. */
function freeShared(slot: Slot): number {
  for (let i = 0; i < DEPTH; i++) if (!slot.sent.some((t) => t.shared === i)) return i;
  throw new Error('every shared buffer of the worker is in use');
}

export class WorkerPool {
  private readonly size: number;
  private readonly init: WorkerInit;
  private readonly bodies: RequestBodies;
  private readonly logger: PoolLogger | undefined;
  private readonly slots: Slot[] = [];
  /** Decode workers: no model, request bodies only (see `decodeWorkers`). */
  private readonly decoders: Slot[] = [];
  private readonly decodeWorkers: number;
  private readonly high: InferTask[] = [];
  private readonly low: DecodeTaskPending[] = [];
  private nextId = 1;
  private closing = false;
  private readyInfo: WorkerReady | undefined;
  /** Called whenever a worker becomes free (the batcher uses it to dispatch). */
  onIdle: () => void = () => {};

  constructor(opts: WorkerPoolOptions) {
    this.size = opts.workers;
    this.init = opts.init;
    this.bodies = opts.bodies;
    this.logger = opts.logger;
    this.decodeWorkers = opts.decodeWorkers ?? 0;
  }

  /** Starts every worker and resolves once all have loaded and warmed up the model. */
  async start(): Promise<WorkerReady> {
    const results = await Promise.allSettled(
      Array.from({ length: this.size }, (_, i) => this.spawn(i)),
    );
    const failed = results.find((r) => r.status === 'rejected');
    if (failed !== undefined) {
      await this.close();
      throw failed.reason;
    }
    const info = (results[0] as PromiseFulfilledResult<WorkerReady>).value;
    const decoders = await Promise.allSettled(
      Array.from({ length: this.decodeWorkers }, (_, i) => this.spawn(i, info.signature)),
    );
    const decoderFailed = decoders.find((r) => r.status === 'rejected');
    if (decoderFailed !== undefined) {
      await this.close();
      throw decoderFailed.reason;
    }
    this.readyInfo = info;
    return info;
  }

  /** Starts inference worker `index`, or decode worker `index` for a signature. */
  private spawn(index: number, decodeOnly?: ModelSignature): Promise<WorkerReady | undefined> {
    const entry = workerEntry();
    const what = decodeOnly === undefined ? 'inference worker' : 'decode worker';
    const workerData: WorkerInit =
      decodeOnly === undefined ? this.init : { ...this.init, decodeOnly };
    const worker = new Worker(entry.script, { workerData, eval: entry.eval });
    const slot: Slot = {
      index,
      worker,
      ready: false,
      sent: [],
      shared: [],
      memory: { numBytes: 0, numTensors: 0 },
    };
    (decodeOnly === undefined ? this.slots : this.decoders)[index] = slot;
    return new Promise<WorkerReady | undefined>((resolve, reject) => {
      let settled = false;
      worker.on('message', (msg: FromWorker) => {
        if (msg.type === 'ready' || msg.type === 'decoder-ready') {
          slot.ready = true;
          if (msg.type === 'ready') slot.memory = msg.memory;
          settled = true;
          resolve(msg.type === 'ready' ? msg : undefined);
          this.dispatch();
          // A replacement worker adds capacity the batcher may be waiting for.
          this.onIdle();
          return;
        }
        if (msg.type === 'init-failed') {
          settled = true;
          reject(fromSerialized(msg.error));
          return;
        }
        this.complete(slot, msg);
      });
      worker.on('error', (err) => {
        this.logger?.error({ err, worker: index }, `${what} crashed`);
        if (!settled) {
          settled = true;
          reject(new RuntimeError('MODEL_LOAD_FAILED', `${what} failed: ${err.message}`));
        }
      });
      worker.on('exit', (code) => {
        const sent = slot.sent.splice(0);
        slot.ready = false;
        // Terminated by close(): the request meets the shutdown, not a crash.
        const err = this.closing
          ? new RuntimeError('DRAINING', 'the runtime shut down during this request', {
              retryAfterSeconds: 1,
            })
          : new RuntimeError(
              'INFERENCE_FAILED',
              `the ${what} exited (code ${code}) during this request`,
            );
        for (const task of sent) {
          task.infer?.reject(err);
          for (const d of task.decodes ?? []) d.reject(err);
        }
        if (!settled) {
          settled = true;
          reject(
            new RuntimeError('MODEL_LOAD_FAILED', `${what} exited with code ${code} while loading`),
          );
          return;
        }
        if (!this.closing && this.readyInfo !== undefined) {
          this.logger?.error({ worker: index, code }, `${what} exited; starting a replacement`);
          this.spawn(index, decodeOnly).catch((e: unknown) => {
            this.logger?.error({ err: e, worker: index }, `replacement ${what} failed to start`);
          });
        }
      });
    });
  }

  private complete(
    slot: Slot,
    msg: Exclude<FromWorker, WorkerReady | { type: 'init-failed' } | { type: 'decoder-ready' }>,
  ): void {
    // A worker answers its tasks in the order they were sent.
    const current = slot.sent[0]?.id === msg.id ? slot.sent.shift() : undefined;
    if (current === undefined) {
      this.logger?.error(
        { worker: slot.index, id: msg.id },
        'worker answered a task it was not given',
      );
    } else if (msg.type === 'inferred') {
      slot.memory = msg.memory;
      current.infer?.resolve({
        outputs: msg.outputs,
        computeSeconds: msg.computeSeconds,
        ...(msg.expired === undefined ? {} : { expired: msg.expired }),
      });
    } else if (msg.type === 'decoded') {
      const byId = new Map((current.decodes ?? []).map((d) => [d.id, d]));
      for (const r of msg.results) {
        const pending = byId.get(r.id);
        if (pending === undefined) continue;
        if ('error' in r) pending.reject(fromSerialized(r.error));
        else pending.resolve(r.decoded);
      }
    } else {
      const err = fromSerialized(msg.error);
      current.infer?.reject(err);
      for (const d of current.decodes ?? []) d.reject(err);
    }
    this.dispatch();
    this.onIdle();
  }

  private dispatch(): void {
    // Idle workers first, then the next-task places of busy ones.
    for (let held = 0; held < DEPTH; held++) {
      for (const slot of this.decoders) {
        if (slot === undefined || !slot.ready || slot.sent.length !== held) continue;
        if (!this.sendDecodes(slot)) break;
      }
      for (const slot of this.slots) {
        if (slot === undefined || !slot.ready || slot.sent.length !== held) continue;
        if (!this.sendNext(slot)) return;
      }
    }
  }

  /** Sends the next waiting task to `slot`; false when nothing waits. */
  private sendNext(slot: Slot): boolean {
    const infer = this.high.shift();
    if (infer !== undefined) {
      const id = this.nextId++;
      const index = freeShared(slot);
      let packed: ReturnType<typeof packShared>;
      try {
        packed = packShared(infer.inputs, index, slot.shared[index]);
      } catch (err) {
        // A batch too large for a shared buffer (RangeError): this batch fails, the rest go on.
        infer.reject(
          new RuntimeError(
            'INFERENCE_FAILED',
            `the batch could not be written to shared memory: ${(err as Error).message}`,
          ),
        );
        return true;
      }
      const msg: ToWorker = { type: 'infer', id, inputs: packed === undefined ? infer.inputs : [] };
      if (infer.parts !== undefined) msg.parts = infer.parts;
      if (packed === undefined) {
        slot.sent.push({ id, infer });
        slot.worker.postMessage(
          msg,
          this.bodies.transferables(infer.inputs.flatMap((m) => Object.values(m))),
        );
        return true;
      }
      slot.shared[index] = packed.buffer;
      msg.shared = packed.layout;
      if (packed.grown) msg.buffer = packed.buffer;
      slot.sent.push({ id, infer, shared: index });
      slot.worker.postMessage(msg);
      this.bodies.release(infer.inputs);
      return true;
    }
    return this.sendDecodes(slot);
  }

  /** Sends `slot` the decodes waiting (several bodies per message); false when none wait. */
  private sendDecodes(slot: Slot): boolean {
    if (this.low.length === 0) return false;
    const id = this.nextId++;
    let n = 0;
    let bytes = 0;
    while (n < this.low.length && n < MAX_DECODE_GROUP) {
      bytes += (this.low[n] as DecodeTaskPending).task.body.byteLength;
      if (n > 0 && bytes > MAX_DECODE_GROUP_BYTES) break;
      n++;
    }
    const decodes = this.low.splice(0, n);
    slot.sent.push({ id, decodes });
    const transfer: ArrayBuffer[] = [];
    const items = decodes.map((d) => {
      const { body, transfer: buf } = this.bodies.movable(d.task.body);
      transfer.push(buf);
      return { id: d.id, task: { ...d.task, body } };
    });
    slot.worker.postMessage({ type: 'decode', id, items } satisfies ToWorker, transfer);
    return true;
  }

  /** Workers that are loaded and hold no task, less inferences already waiting for one. */
  idleCount(): number {
    let n = 0;
    for (const s of this.slots) if (s !== undefined && s.ready && s.sent.length === 0) n++;
    return Math.max(0, n - this.high.length);
  }

  /**
   * Busy workers that can take their next task now (it starts as soon as the
   * running one ends), less inferences already waiting for such a place.
   */
  spareCount(): number {
    let idle = 0;
    let spare = 0;
    for (const s of this.slots) {
      if (s === undefined || !s.ready) continue;
      if (s.sent.length === 0) idle++;
      else if (s.sent.length < DEPTH) spare++;
    }
    return Math.max(0, spare - Math.max(0, this.high.length - idle));
  }

  /** True when no worker is idle and tasks wait (or every worker already holds its next one). */
  busy(): boolean {
    return this.idleCount() === 0 && (this.queued() > 0 || this.spareCount() === 0);
  }

  /**
   * Stops one worker as a crash would (its running task fails) and lets the
   * pool replace it. Used to recover a wedged worker, and by the tests of the
   * replacement path. Resolves when the worker has exited.
   */
  async kill(index: number): Promise<void> {
    const slot = this.slots[index];
    if (slot === undefined) throw new RuntimeError('INTERNAL', `no worker ${index}`);
    await slot.worker.terminate();
  }

  /** Workers loaded and able to take tasks. */
  readyCount(): number {
    return this.slots.filter((s) => s !== undefined && s.ready).length;
  }

  /** Tasks waiting for a worker. */
  queued(): number {
    return this.high.length + this.low.length;
  }

  memory(): TfjsMemory[] {
    return this.slots.map((s) => s.memory);
  }

  /**
   * Runs one inference on `inputs`, or on a batch of requests' inputs which
   * the worker concatenates along dimension 0 (their buffers are transferred,
   * so this thread never copies them). With `parts` (one per request), the
   * worker leaves out those whose deadline has passed when it starts.
   */
  infer(
    inputs: TensorMap | readonly TensorMap[],
    parts?: readonly BatchPart[],
  ): Promise<InferResult> {
    if (this.closing)
      return Promise.reject(new RuntimeError('DRAINING', 'the runtime is shutting down'));
    const list: TensorMap[] = Array.isArray(inputs)
      ? [...(inputs as readonly TensorMap[])]
      : [inputs as TensorMap];
    if (parts !== undefined && parts.length !== list.length) {
      return Promise.reject(
        new RuntimeError(
          'INTERNAL',
          `a batch of ${parts.length} requests came with ${list.length} inputs`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      this.high.push({
        kind: 'infer',
        inputs: list,
        parts: parts === undefined ? undefined : [...parts],
        resolve,
        reject,
      });
      this.dispatch();
    });
  }

  decode<P extends Protocol>(task: DecodeTask<P>): Promise<DecodedRequests[P]> {
    if (this.closing)
      return Promise.reject(new RuntimeError('DRAINING', 'the runtime is shutting down'));
    return new Promise((resolve, reject) => {
      this.low.push({
        kind: 'decode',
        id: this.nextId++,
        task,
        // The worker answers this task with decodeBody(task): a request of its protocol.
        resolve: resolve as (value: DecodedRequest) => void,
        reject,
      });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    const err = new RuntimeError('DRAINING', 'the runtime is shutting down');
    for (const p of this.high.splice(0)) p.reject(err);
    for (const p of this.low.splice(0)) p.reject(err);
    await Promise.all(
      [...this.slots, ...this.decoders]
        .filter((s) => s !== undefined)
        .map((s) => s.worker.terminate()),
    );
  }
}
