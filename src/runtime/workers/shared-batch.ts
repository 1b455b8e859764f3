// A batch handed to a worker through shared memory. The HTTP thread writes
// each request's rows into a SharedArrayBuffer the worker already holds (one
// per task it can hold), and the message carries only where each input lies.
// Moving request buffers instead (transfer) costs more than the copy: every
// buffer that arrives on a thread counts as new memory outside the JS heap,
// and V8 answers that with early garbage collections on both threads (at 600
// KB bodies, a scavenge every 40 ms on each). A buffer is rewritten only
// after the worker has answered the task that used it.

import type { TfjsDtype } from '../dtypes.js';
import type { HostTensor, TensorMap } from '../tensors.js';
import { sizeOf, split0 } from '../tensors.js';

/** Where one input of the batch lies in the shared buffer. */
export interface SharedInput {
  name: string;
  dtype: Exclude<TfjsDtype, 'string'>;
  /** The whole batch's shape (rows of every request). */
  shape: number[];
  byteOffset: number;
}

export interface SharedLayout {
  /** Which of the worker's shared buffers holds the batch. */
  index: number;
  inputs: SharedInput[];
  /** Rows of each request, in order. */
  rows: number[];
}

type NumericData = Float32Array | Int32Array | Uint8Array;

/** Offsets are multiples of this, so every typed array view is aligned. */
const ALIGN = 8;
/** A new buffer is at least this large, then doubled: few reallocations as batches grow. */
const MIN_BYTES = 64 * 1024;

const align = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

function view(
  buf: SharedArrayBuffer,
  dtype: SharedInput['dtype'],
  byteOffset: number,
  size: number,
): NumericData {
  if (dtype === 'float32') return new Float32Array(buf, byteOffset, size);
  if (dtype === 'int32') return new Int32Array(buf, byteOffset, size);
  return new Uint8Array(buf, byteOffset, size);
}

/**
 * Lays out and copies `requests` (one inputs map each) into `current`, or
 * into a new, larger buffer when it does not fit (returned as `grown`, for
 * the worker to keep). Undefined when the batch cannot go through shared
 * memory (string tensors, inputs whose names or inner dimensions disagree):
 * the caller sends the maps themselves.
 */
export function packShared(
  requests: readonly TensorMap[],
  index: number,
  current: SharedArrayBuffer | undefined,
): { layout: SharedLayout; buffer: SharedArrayBuffer; grown: boolean } | undefined {
  const first = requests[0];
  if (first === undefined) return undefined;
  const names = Object.keys(first);
  const inputs: SharedInput[] = [];
  let bytes = 0;
  for (const name of names) {
    const head = first[name] as HostTensor;
    if (head.dtype === 'string') return undefined;
    const inner = head.shape.slice(1);
    let rows = 0;
    for (const req of requests) {
      const t = req[name];
      if (t === undefined || t.dtype !== head.dtype || t.shape.length !== head.shape.length)
        return undefined;
      for (let d = 1; d < t.shape.length; d++) if (t.shape[d] !== inner[d - 1]) return undefined;
      rows += t.shape[0] ?? 0;
    }
    const shape = [rows, ...inner];
    inputs.push({ name, dtype: head.dtype, shape, byteOffset: bytes });
    bytes = align(
      bytes + sizeOf(shape) * (head.dtype === 'float32' || head.dtype === 'int32' ? 4 : 1),
    );
  }
  for (const req of requests) if (Object.keys(req).length !== names.length) return undefined;
  let buffer = current;
  const grown = buffer === undefined || buffer.byteLength < bytes;
  if (grown) {
    let size = Math.max(MIN_BYTES, buffer?.byteLength ?? 0);
    while (size < bytes) size *= 2;
    buffer = new SharedArrayBuffer(size);
  }
  const target = buffer as SharedArrayBuffer;
  for (const input of inputs) {
    const out = view(target, input.dtype, input.byteOffset, sizeOf(input.shape));
    let at = 0;
    for (const req of requests) {
      const data = (req[input.name] as HostTensor).data as NumericData;
      out.set(data, at);
      at += data.length;
    }
  }
  const rows = requests.map((r) => (r[names[0] as string] as HostTensor).shape[0] ?? 0);
  return { layout: { index, inputs, rows }, buffer: target, grown };
}

/** The batch as tensors viewing the shared buffer (no copy). */
export function sharedInputs(buffer: SharedArrayBuffer, layout: SharedLayout): TensorMap {
  const out: TensorMap = {};
  for (const input of layout.inputs) {
    out[input.name] = {
      dtype: input.dtype,
      shape: input.shape,
      data: view(buffer, input.dtype, input.byteOffset, sizeOf(input.shape)),
    };
  }
  return out;
}

/** The batch's inputs cut back into one map per request (views), for leaving some out. */
export function perRequest(batch: TensorMap, rows: readonly number[]): TensorMap[] {
  const out: TensorMap[] = rows.map(() => ({}));
  for (const [name, t] of Object.entries(batch)) {
    split0(t, rows).forEach((piece, i) => ((out[i] as TensorMap)[name] = piece));
  }
  return out;
}
