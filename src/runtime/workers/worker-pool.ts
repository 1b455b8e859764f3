// The worker pool's scheduling: which task goes to which worker thread, and
// when (the threads themselves, and their replacement when one dies, are
// worker-threads.ts's). Tasks wait in two FIFO queues: inference batches
// first, then body decodes, so that decoding never starves the model.
// Waiting decodes are sent together (one thread hop for many bodies), to a
// decode worker first. A batch goes to an inference worker through shared
// memory (shared-batch.ts). A worker may hold its next task while it runs
// one, so it starts that task without waiting for this thread to take the
// result and answer.

import type { BatchPart } from '../batching/batcher.js';
import type { DecodedRequest, DecodedRequests, DecodeTask, Protocol } from '../codec/decode.js';
import { fromSerialized, RuntimeError } from '../errors.js';
import type { RequestBodies } from '../request-bodies.js';
import type { TensorMap } from '../tensors.js';
import type { TfjsMemory, ToWorker, WorkerReady } from './messages.js';
import { packShared } from './shared-batch.js';
import type { TaskAnswer, WorkerThread, WorkerThreadsOptions } from './worker-threads.js';
import { WorkerThreads } from './worker-threads.js';

export interface InferResult {
  outputs: TensorMap;
  computeSeconds: number;
  /** Indices of parts the worker did not compute because their deadline had passed. */
  expired?: number[];
}

interface InferTask {
  kind: 'infer';
  /** One map per request of the batch (see infer). */
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

/** What the pool holds for a ready worker thread. */
interface Slot {
  thread: WorkerThread;
  /** Tasks sent and not answered, in the order the worker runs them. */
  sent: Sent[];
  /** This worker's shared batch buffers (shared-batch.ts), one per task it can hold. */
  shared: (SharedArrayBuffer | undefined)[];
}

export interface WorkerPoolOptions extends WorkerThreadsOptions {
  /** Whose bodies the tasks' buffers are: they move to the workers, or go back once copied. */
  bodies: RequestBodies;
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

/** A shared buffer index of `slot` that no task it holds is using. */
function freeShared(slot: Slot): number {
  for (let i = 0; i < DEPTH; i++) if (!slot.sent.some((t) => t.shared === i)) return i;
  throw new Error('every shared buffer of the worker is in use');
}

export class WorkerPool {
  private readonly threads: WorkerThreads;
  private readonly bodies: RequestBodies;
  private readonly logger: WorkerPoolOptions['logger'];
  /** Ready inference workers, by thread index. */
  private readonly slots: (Slot | undefined)[] = [];
  /** Ready decode workers: no model, request bodies only (see `decodeWorkers`). */
  private readonly decoders: (Slot | undefined)[] = [];
  private readonly high: InferTask[] = [];
  private readonly low: DecodeTaskPending[] = [];
  private nextId = 1;
  private closing = false;
  /** Called whenever a worker becomes free (the batcher uses it to dispatch). */
  onIdle: () => void = () => {};

  constructor(opts: WorkerPoolOptions) {
    this.bodies = opts.bodies;
    this.logger = opts.logger;
    this.threads = new WorkerThreads(opts, {
      ready: (thread) => {
        this.slotsOf(thread)[thread.index] = { thread, sent: [], shared: [] };
        this.dispatch();
        // A replacement worker adds capacity the batcher may be waiting for.
        this.onIdle();
      },
      answered: (thread, answer) => this.complete(thread, answer),
      exited: (thread, err) => this.failHeld(thread, err),
    });
  }

  /** Starts every worker and resolves once all have loaded and warmed up the model. */
  start(): Promise<WorkerReady> {
    return this.threads.start();
  }

  private slotsOf(thread: WorkerThread): (Slot | undefined)[] {
    return thread.kind === 'inference' ? this.slots : this.decoders;
  }

  /** The slot of `thread` while it is ready. */
  private slotOf(thread: WorkerThread): Slot | undefined {
    const slot = this.slotsOf(thread)[thread.index];
    return slot?.thread === thread ? slot : undefined;
  }

  /** `thread` exited: what it held fails, and it takes no more tasks. */
  private failHeld(thread: WorkerThread, err: RuntimeError): void {
    const slot = this.slotOf(thread);
    if (slot === undefined) return;
    this.slotsOf(thread)[thread.index] = undefined;
    for (const task of slot.sent) {
      task.infer?.reject(err);
      for (const d of task.decodes ?? []) d.reject(err);
    }
  }

  private complete(thread: WorkerThread, msg: TaskAnswer): void {
    const slot = this.slotOf(thread);
    // A worker answers its tasks in the order they were sent.
    const current = slot?.sent[0]?.id === msg.id ? slot.sent.shift() : undefined;
    if (current === undefined) {
      this.logger?.error(
        { worker: thread.index, id: msg.id },
        'worker answered a task it was not given',
      );
    } else if (msg.type === 'inferred') {
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
        if (slot === undefined || slot.sent.length !== held) continue;
        if (!this.sendDecodes(slot)) break;
      }
      for (const slot of this.slots) {
        if (slot === undefined || slot.sent.length !== held) continue;
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
        slot.thread.worker.postMessage(
          msg,
          this.bodies.transferables(infer.inputs.flatMap((m) => Object.values(m))),
        );
        return true;
      }
      slot.shared[index] = packed.buffer;
      msg.shared = packed.layout;
      if (packed.grown) msg.buffer = packed.buffer;
      slot.sent.push({ id, infer, shared: index });
      slot.thread.worker.postMessage(msg);
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
    slot.thread.worker.postMessage({ type: 'decode', id, items } satisfies ToWorker, transfer);
    return true;
  }

  /** Workers that are loaded and hold no task, less inferences already waiting for one. */
  idleCount(): number {
    let n = 0;
    for (const s of this.slots) if (s !== undefined && s.sent.length === 0) n++;
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
      if (s === undefined) continue;
      if (s.sent.length === 0) idle++;
      else if (s.sent.length < DEPTH) spare++;
    }
    return Math.max(0, spare - Math.max(0, this.high.length - idle));
  }

  /** True when no worker is idle and tasks wait (or every worker already holds its next one). */
  busy(): boolean {
    return this.idleCount() === 0 && (this.queued() > 0 || this.spareCount() === 0);
  }

  /** Tasks waiting for a worker. */
  queued(): number {
    return this.high.length + this.low.length;
  }

  /** tfjs memory of each inference worker. */
  memory(): TfjsMemory[] {
    return this.threads.memory();
  }

  /**
   * Runs one inference on `inputs`, or on a batch of requests' inputs
   * (concatenated along dimension 0): this thread writes them into the
   * worker's shared memory (shared-batch.ts), or, when they cannot go that
   * way (BYTES inputs), sends them for the worker to concatenate. With
   * `parts` (one per request), the worker leaves out those whose deadline has
   * passed when it starts.
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

  /** Decodes a body in a worker, a decode worker first (grouped with others waiting). */
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
    await this.threads.close();
  }
}
