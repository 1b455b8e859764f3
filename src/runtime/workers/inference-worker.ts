// Inference worker thread: loads the backend and the model once, warms it up,
// then serves decode and infer tasks one at a time (tfjs computes
// synchronously, so this thread is busy while the HTTP thread is not).
// Started with `decodeOnly`, it is a decode worker: no model, bodies only.

import { parentPort, workerData } from 'node:worker_threads';
import { loadBackend } from '../backends/select.js';
import { RuntimeError, toRuntimeError } from '../errors.js';
import type { LoadedModel } from '../models/load.js';
import { loadModel, warmupInputs } from '../models/load.js';
import { decodeBody } from '../codec/decode.js';
import type { TensorMap } from '../tensors.js';
import { reusedBuffers, transferables } from '../tensors.js';
import { live, liveBatch } from './expiry.js';
import type { SharedLayout } from './shared-batch.js';
import { sharedInputs } from './shared-batch.js';
import type { ModelSignature } from '../models/signature.js';
import type { DecodeItem, DecodeOutcome, FromWorker, ToWorker, WorkerInit } from './messages.js';

const port = parentPort;
if (port === null) throw new Error('inference-worker must run in a worker thread');

function post(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(msg, transfer);
}

/** Decodes request bodies against `signature`, each with its own outcome. */
function decodeItems(
  items: readonly DecodeItem[],
  signature: ModelSignature,
): { results: DecodeOutcome[]; transfer: ArrayBuffer[] } {
  const results: DecodeOutcome[] = [];
  const transfer: ArrayBuffer[] = [];
  for (const item of items) {
    try {
      const decoded = decodeBody(item.task, signature);
      results.push({ id: item.id, decoded });
      transfer.push(...transferables(Object.values(decoded.inputs)));
    } catch (err) {
      results.push({ id: item.id, error: toRuntimeError(err, 'INTERNAL').toJSON() });
    }
  }
  return { results, transfer };
}

/** A decode worker: bodies only, one message at a time, no model. */
function serveDecodes(signature: ModelSignature): void {
  port?.on('message', (msg: ToWorker) => {
    if (msg.type !== 'decode') {
      post({
        type: 'failed',
        id: msg.id,
        error: new RuntimeError('INTERNAL', 'a decode worker was sent an inference').toJSON(),
      });
      return;
    }
    const { results, transfer } = decodeItems(msg.items, signature);
    post({ type: 'decoded', id: msg.id, results }, transfer);
  });
  post({ type: 'decoder-ready' });
}

async function main(init: WorkerInit): Promise<void> {
  if (init.decodeOnly !== undefined) {
    serveDecodes(init.decodeOnly);
    return;
  }
  const t0 = performance.now();
  const backend = await loadBackend(init.backend);
  const { tf } = backend;
  let model: LoadedModel;
  try {
    model = await loadModel(tf, backend.name, init.modelDir, init.format, init.signatureName);
  } catch (err) {
    post({ type: 'init-failed', error: toRuntimeError(err, 'MODEL_LOAD_FAILED').toJSON() });
    return;
  }
  const loadSeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  try {
    for (let i = 0; i < init.warmupIterations; i++) await model.run(warmupInputs(model.signature));
  } catch (err) {
    post({
      type: 'init-failed',
      error: new RuntimeError(
        'MODEL_LOAD_FAILED',
        `warmup inference failed: ${(err as Error).message}`,
      ).toJSON(),
    });
    return;
  }
  post({
    type: 'ready',
    backend: backend.name,
    tfjsBackend: backend.tfjsBackend,
    device: backend.device,
    skipped: backend.skipped,
    format: model.format,
    signature: model.signature,
    loadSeconds,
    warmupSeconds: (performance.now() - t1) / 1000,
    memory: { numBytes: tf.memory().numBytes, numTensors: tf.memory().numTensors },
  });

  // Batches that are not in shared memory as they are (BYTES inputs, or some
  // requests expired) are assembled in buffers kept from one batch to the next:
  // tasks run one at a time and the backend has read a batch's inputs by the end of its run.
  const batchBuffers = reusedBuffers();

  // The shared buffers batches arrive in, by index (the HTTP thread sends each once).
  const sharedBuffers: SharedArrayBuffer[] = [];
  function sharedBatch(layout: SharedLayout, buffer: SharedArrayBuffer | undefined): TensorMap {
    if (buffer !== undefined) sharedBuffers[layout.index] = buffer;
    const held = sharedBuffers[layout.index];
    if (held === undefined) throw new Error(`no shared buffer ${layout.index} in this worker`);
    return sharedInputs(held, layout);
  }

  // Tasks are handled strictly one at a time so a task's compute time is its own.
  let chain: Promise<void> = Promise.resolve();
  port?.on('message', (msg: ToWorker) => {
    chain = chain.then(() => handle(msg));
  });

  async function handle(msg: ToWorker): Promise<void> {
    try {
      if (msg.type === 'decode') {
        const { results, transfer } = decodeItems(msg.items, model.signature);
        post({ type: 'decoded', id: msg.id, results }, transfer);
        return;
      }
      const start = performance.now();
      const now = performance.timeOrigin + start;
      const { inputs, expired } =
        msg.shared === undefined
          ? live(msg.inputs, msg.parts, now, batchBuffers)
          : liveBatch(
              sharedBatch(msg.shared, msg.buffer),
              msg.shared.rows,
              msg.parts,
              now,
              batchBuffers,
            );
      const outputs: TensorMap = inputs === undefined ? {} : await model.run(inputs);
      const computeSeconds = (performance.now() - start) / 1000;
      const mem = tf.memory();
      post(
        {
          type: 'inferred',
          id: msg.id,
          outputs,
          computeSeconds,
          memory: { numBytes: mem.numBytes, numTensors: mem.numTensors },
          ...(expired.length > 0 ? { expired } : {}),
        },
        transferables(Object.values(outputs)),
      );
    } catch (err) {
      const fallback = msg.type === 'infer' ? 'INFERENCE_FAILED' : 'INTERNAL';
      post({ type: 'failed', id: msg.id, error: toRuntimeError(err, fallback).toJSON() });
    }
  }
}

main(workerData as WorkerInit).catch((err: unknown) => {
  post({ type: 'init-failed', error: toRuntimeError(err, 'BACKEND_UNAVAILABLE').toJSON() });
});
