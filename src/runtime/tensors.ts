// Host-side tensors: plain typed arrays plus a shape, the form tensors take
// between the HTTP thread and the inference workers (batches in shared
// memory, see workers/shared-batch.ts; other buffers transferred when they
// may be, see transferable() below).

import type { TfjsDtype } from './dtypes.js';

/** bool tensors are stored one byte per element (0 or 1). string tensors hold raw bytes. */
export type TensorData = Float32Array | Int32Array | Uint8Array | Uint8Array[];

export interface HostTensor {
  dtype: TfjsDtype;
  shape: number[];
  data: TensorData;
}

export type TensorMap = Record<string, HostTensor>;

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function allocate(dtype: TfjsDtype, size: number): TensorData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size);
    case 'int32':
      return new Int32Array(size);
    case 'bool':
      return new Uint8Array(size);
    case 'string':
      return new Array<Uint8Array>(size);
  }
}

/** Where a concatenation writes: a fresh array by default (see `reusedBuffers`). */
export type Allocate = (name: string, dtype: TfjsDtype, size: number) => TensorData;

const fresh: Allocate = (_name, dtype, size) => allocate(dtype, size);

/**
 * Allocates from buffers kept from one call to the next, one per input name
 * and dtype, grown as needed: a worker assembling batch after batch then
 * writes into memory it already has instead of a fresh allocation per batch.
 * A batch's inputs are valid until the next one is assembled.
 */
export function reusedBuffers(): Allocate {
  const kept = new Map<string, Float32Array | Int32Array | Uint8Array>();
  return (name, dtype, size) => {
    if (dtype === 'string') return allocate(dtype, size);
    const key = `${dtype}/${name}`;
    let buf = kept.get(key);
    if (buf === undefined || buf.length < size) {
      buf = allocate(dtype, size) as Float32Array | Int32Array | Uint8Array;
      kept.set(key, buf);
    }
    return buf.subarray(0, size);
  };
}

/** Concatenates tensors along dimension 0 (their other dimensions must agree). */
export function concat0(
  parts: readonly HostTensor[],
  alloc: Allocate = fresh,
  name = '',
): HostTensor {
  const first = parts[0];
  if (first === undefined) throw new Error('concat0 needs at least one tensor');
  if (parts.length === 1) return first;
  let rows = 0;
  for (const p of parts) rows += p.shape[0] ?? 0;
  const shape = [rows, ...first.shape.slice(1)];
  const total = sizeOf(shape);
  if (first.dtype === 'string') {
    const out: Uint8Array[] = [];
    for (const p of parts) for (const v of p.data as Uint8Array[]) out.push(v);
    return { dtype: 'string', shape, data: out };
  }
  const out = alloc(name, first.dtype, total) as Float32Array | Int32Array | Uint8Array;
  let offset = 0;
  for (const p of parts) {
    const d = p.data as Float32Array | Int32Array | Uint8Array;
    out.set(d, offset);
    offset += d.length;
  }
  return { dtype: first.dtype, shape, data: out };
}

/** Concatenates requests' inputs along dimension 0, input by input (the first map's names). */
export function concatMaps(maps: readonly TensorMap[], alloc: Allocate = fresh): TensorMap {
  const first = maps[0];
  if (first === undefined) throw new Error('concatMaps needs at least one map');
  if (maps.length === 1) return first;
  const out: TensorMap = {};
  for (const name of Object.keys(first)) {
    out[name] = concat0(
      maps.map((m) => {
        const t = m[name];
        if (t === undefined)
          throw new Error(`input "${name}" is missing from a request of the batch`);
        return t;
      }),
      alloc,
      name,
    );
  }
  return out;
}

/** Splits a tensor along dimension 0 into consecutive pieces of the given row counts. */
export function split0(tensor: HostTensor, rows: readonly number[]): HostTensor[] {
  if (rows.length === 1) return [tensor];
  const inner = sizeOf(tensor.shape.slice(1));
  const out: HostTensor[] = [];
  let start = 0;
  for (const r of rows) {
    const shape = [r, ...tensor.shape.slice(1)];
    const end = start + r * inner;
    // subarray keeps views on the same buffer: no copy on the HTTP thread.
    const data = Array.isArray(tensor.data)
      ? tensor.data.slice(start, end)
      : tensor.data.subarray(start, end);
    out.push({ dtype: tensor.dtype, shape, data });
    start = end;
  }
  return out;
}

/**
 * The one rule for moving memory to another thread: the buffer under `view`
 * may be transferred (moved, not copied) when nothing else lives in it, so
 * that nothing else goes with it: the view fills it, or `holdsOneBody` says
 * it holds one request body alone (request-bodies.ts).
 */
export function transferable(
  view: ArrayBufferView,
  holdsOneBody: (buf: ArrayBuffer) => boolean = () => false,
): ArrayBuffer | undefined {
  const buf = view.buffer;
  if (!(buf instanceof ArrayBuffer)) return undefined;
  return view.byteLength === buf.byteLength || holdsOneBody(buf) ? buf : undefined;
}

/** The buffers that may move to another thread with `tensors` (see transferable), each once. */
export function transferables(
  tensors: Iterable<HostTensor>,
  holdsOneBody?: (buf: ArrayBuffer) => boolean,
): ArrayBuffer[] {
  const seen = new Set<ArrayBuffer>();
  for (const t of tensors) {
    const buf = Array.isArray(t.data) ? undefined : transferable(t.data, holdsOneBody);
    if (buf !== undefined) seen.add(buf);
  }
  return [...seen];
}
