// The serving signature: named, typed, shaped inputs and outputs. Requests are
// validated against it before they reach a worker, and both protocols'
// metadata endpoints are rendered from it.

import type { TfjsDtype } from '../dtypes.js';
import { tfjsToTfDtype } from '../dtypes.js';

export interface TensorSpec {
  /** Key clients use (signature key, or layer/node name when the model has no signature). */
  name: string;
  /** Underlying graph tensor name, e.g. "x:0" (TF Serving metadata reports it). */
  tensorName: string;
  dtype: TfjsDtype;
  /** TensorFlow DataType, e.g. DT_FLOAT; may be narrower/wider than dtype (DT_INT64 -> int32). */
  tfDtype: string;
  /** -1 marks an unknown dimension. */
  shape: number[];
}

export interface ModelSignature {
  name: string;
  methodName: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

export function spec(
  name: string,
  dtype: TfjsDtype,
  shape: number[],
  tfDtype?: string,
): TensorSpec {
  return { name, tensorName: `${name}:0`, dtype, tfDtype: tfDtype ?? tfjsToTfDtype(dtype), shape };
}

/** True when every input and output has a free leading (batch) dimension. */
export function isBatchable(sig: ModelSignature): boolean {
  const ok = (t: TensorSpec): boolean => t.shape.length >= 1 && t.shape[0] === -1;
  return sig.inputs.every(ok) && sig.outputs.every(ok);
}

/** Normalizes a shape reported by tfjs (null/undefined/-1 for unknown) into numbers with -1. */
export function normalizeShape(
  shape: readonly (number | null | undefined)[] | undefined,
): number[] {
  if (shape === undefined) return [];
  return shape.map((d) => (d === null || d === undefined || d < 0 ? -1 : d));
}
