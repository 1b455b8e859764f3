// Messages between the HTTP thread and the worker threads. A batch's inputs
// come through shared memory (shared-batch.ts); other tensor buffers move
// (are transferred) when nothing else lives in them (tensors.ts's
// transferable), and request bodies always do (request-bodies.ts).

import type { BackendChoice } from '../../contract/runtime.js';
import type { BackendName, Device } from '../backends/select.js';
import type { BatchPart } from '../batching/batcher.js';
import type { SerializedError } from '../errors.js';
import type { ModelFormat } from '../models/format.js';
import type { ModelSignature } from '../models/signature.js';
import type { DecodeTask, DecodedRequest } from '../codec/decode.js';
import type { TensorMap } from '../tensors.js';
import type { SharedLayout } from './shared-batch.js';

export interface WorkerInit {
  modelDir: string;
  format: ModelFormat;
  backend: BackendChoice;
  signatureName: string;
  warmupIterations: number;
  /** A decode worker: no backend, no model, only request bodies decoded against this signature. */
  decodeOnly?: ModelSignature;
}

export interface WorkerReady {
  type: 'ready';
  backend: BackendName;
  tfjsBackend: string;
  device: Device;
  skipped: { backend: BackendName; reason: string }[];
  format: ModelFormat;
  signature: ModelSignature;
  loadSeconds: number;
  warmupSeconds: number;
  memory: TfjsMemory;
}

export interface TfjsMemory {
  numBytes: number;
  numTensors: number;
}

/** Several request bodies decoded in one round trip (amortizes the thread hop). */
export interface DecodeItem {
  id: number;
  task: DecodeTask;
}

/** An item's request (decoded from the item's task, so of its protocol), or why not. */
export type DecodeOutcome =
  { id: number; decoded: DecodedRequest } | { id: number; error: SerializedError };

export type ToWorker =
  /**
   * The batch, in one of two forms: `shared` says where it lies in one of the
   * worker's shared buffers (`buffer` comes along when that buffer is new);
   * otherwise `inputs` holds one inputs map per request, which the worker
   * concatenates. `parts[i]` describes request i.
   */
  | {
      type: 'infer';
      id: number;
      inputs: TensorMap[];
      shared?: SharedLayout;
      buffer?: SharedArrayBuffer;
      parts?: BatchPart[];
    }
  | { type: 'decode'; id: number; items: DecodeItem[] };

export type FromWorker =
  | WorkerReady
  | { type: 'decoder-ready' }
  | { type: 'init-failed'; error: SerializedError }
  | {
      type: 'inferred';
      id: number;
      outputs: TensorMap;
      computeSeconds: number;
      memory: TfjsMemory;
      /** Indices of parts not computed (past their deadline); outputs hold the others' rows. */
      expired?: number[];
    }
  | { type: 'decoded'; id: number; results: DecodeOutcome[] }
  | { type: 'failed'; id: number; error: SerializedError };
