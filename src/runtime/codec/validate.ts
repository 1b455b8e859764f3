// Checks decoded inputs against the model signature (names, dtype, shape)
// before anything reaches a worker, and works out the batch size.

import { invalidInput } from '../errors.js';
import type { ModelSignature, TensorSpec } from '../models/signature.js';
import type { TensorMap } from '../tensors.js';

/** Dimensions a message quotes before it elides the rest. */
const QUOTED_DIMS = 8;

export function formatShape(shape: readonly number[]): string {
  const dims = shape.slice(0, QUOTED_DIMS).map((d) => (d < 0 ? '-1' : String(d)));
  if (shape.length > QUOTED_DIMS) dims.push(`... ${shape.length - QUOTED_DIMS} more`);
  return `[${dims.join(',')}]`;
}

export function inputSpec(sig: ModelSignature, name: string): TensorSpec {
  const spec = sig.inputs.find((s) => s.name === name);
  if (spec === undefined) {
    throw invalidInput(
      `unknown input "${name}"; the model's inputs are ${sig.inputs.map((s) => `"${s.name}"`).join(', ')}`,
    );
  }
  return spec;
}

/**
 * Validates inputs and returns the shared leading dimension (the rows a
 * batch merges), or undefined when the model is not batched that way
 * (scalars, fixed leading dimensions that differ).
 */
export function validateInputs(sig: ModelSignature, inputs: TensorMap): number | undefined {
  for (const name of Object.keys(inputs)) inputSpec(sig, name);
  for (const spec of sig.inputs) {
    const t = inputs[spec.name];
    if (t === undefined) {
      throw invalidInput(
        `missing input "${spec.name}" (${spec.tfDtype} ${formatShape(spec.shape)}); the model needs ${sig.inputs.map((s) => `"${s.name}"`).join(', ')}`,
      );
    }
    if (t.dtype !== spec.dtype) {
      throw invalidInput(
        `input "${spec.name}" has dtype ${t.dtype} but the model expects ${spec.tfDtype}`,
      );
    }
    const ok =
      t.shape.length === spec.shape.length && spec.shape.every((d, i) => d < 0 || d === t.shape[i]);
    if (!ok) {
      throw invalidInput(
        `input "${spec.name}" has shape ${formatShape(t.shape)} but the model expects ${formatShape(spec.shape)} (-1 = any size)`,
      );
    }
  }
  // A model whose every input has a free leading dimension is a batched model:
  // dimension 0 is the row count, and a request's inputs must agree on it
  // (Triton refuses the same; a model would otherwise read past one input's
  // rows, or drop another's). Otherwise the leading dimensions mean other
  // things, and the request runs alone.
  const batched = sig.inputs.every((spec) => spec.shape.length > 0 && spec.shape[0] === -1);
  let rows: number | undefined;
  for (const spec of sig.inputs) {
    const d0 = inputs[spec.name]?.shape[0];
    if (d0 === undefined) return undefined;
    if (d0 === 0) throw invalidInput(`input "${spec.name}" is an empty batch (dimension 0 is 0)`);
    if (rows === undefined) rows = d0;
    else if (rows !== d0) {
      if (!batched) return undefined;
      throw invalidInput(
        `the inputs disagree on the batch size (dimension 0): ${sig.inputs
          .map((s) => `"${s.name}" has ${String(inputs[s.name]?.shape[0])}`)
          .join(', ')}; every input of a request needs the same number of rows`,
      );
    }
  }
  return rows;
}
