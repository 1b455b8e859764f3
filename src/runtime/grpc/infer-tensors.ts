// Open Inference Protocol gRPC tensors (inference.ModelInferRequest's
// InferInputTensor) <-> the runtime's host tensors. A tensor comes either in
// `contents`, in the field typed for its datatype, or as raw little-endian
// bytes in `raw_input_contents` (what tritonclient sends; the same layout as
// the REST binary extension, BYTES elements with 4-byte length prefixes).
// Answers carry `raw_output_contents`, as Triton writes them. Pure functions.

import type { OipDatatype } from '../dtypes.js';
import { isOipDatatype, oipElementSize } from '../dtypes.js';
import { invalidInput } from '../errors.js';
import type { TensorSpec } from '../models/signature.js';
import { decodeRaw } from '../codec/binary-tensor.js';
import { MAX_RANK, ruleFor } from '../codec/json-values.js';
import type { ElementRule } from '../codec/json-values.js';
import { oipDatatype } from '../codec/oip.js';
import { formatShape } from '../codec/validate.js';
import type { HostTensor } from '../tensors.js';
import { allocate, sizeOf } from '../tensors.js';

type Int64 = string | number;

export interface InferTensorContentsMessage {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: Int64[];
  uint_contents?: number[];
  uint64_contents?: Int64[];
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Uint8Array[];
}

export interface InferParameterMessage {
  bool_param?: boolean;
  int64_param?: Int64;
  string_param?: string;
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param';
}

export interface InferInputTensorMessage {
  name?: string;
  datatype?: string;
  shape?: Int64[];
  parameters?: Record<string, InferParameterMessage>;
  contents?: InferTensorContentsMessage | null;
}

/** The `contents` field that carries each datatype (FP16 has none: raw bytes only). */
export const CONTENTS_FIELD = {
  BOOL: 'bool_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
  FP16: undefined,
} as const satisfies Record<OipDatatype, keyof InferTensorContentsMessage | undefined>;

export function shapeOf(input: string, shape: readonly Int64[] | undefined): number[] {
  const dims = (shape ?? []).map(Number);
  if (dims.length > MAX_RANK) {
    throw invalidInput(
      `input "${input}": "shape" has ${dims.length} dimensions; a tensor has at most ${MAX_RANK}`,
    );
  }
  if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0))
    throw invalidInput(`input "${input}": "shape" must be a list of non-negative integers`);
  return dims;
}

/**
 * Decodes one input against its spec. `raw` is its entry of
 * raw_input_contents when the request uses those (then for every input);
 * `inPlace`, that it lies in a request body's own buffer (decodeRaw).
 */
export function inputFromMessage(
  msg: InferInputTensorMessage,
  spec: TensorSpec,
  raw: Uint8Array | undefined,
  inPlace = false,
): HostTensor {
  const name = spec.name;
  const datatype = msg.datatype;
  if (!isOipDatatype(datatype)) {
    throw invalidInput(
      `input "${name}": datatype ${JSON.stringify(datatype ?? '')} is not an Open Inference Protocol datatype`,
    );
  }
  const expected = oipDatatype(spec);
  if (datatype !== expected)
    throw invalidInput(
      `input "${name}" has datatype ${datatype} but the model expects ${expected}`,
    );
  const shape = shapeOf(name, msg.shape);
  const count = sizeOf(shape);
  const rule = ruleFor(name, spec.dtype, datatype, datatype, 'oip');
  if (raw !== undefined) {
    const size = oipElementSize(datatype);
    if (size !== undefined && raw.length !== count * size) {
      throw invalidInput(
        `input "${name}": its raw_input_contents has ${raw.length} bytes but shape ${formatShape(shape)} of ${datatype} needs ${count * size}`,
      );
    }
    return decodeRaw(
      rule,
      datatype,
      Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength),
      shape,
      count,
      inPlace,
    );
  }
  const field = CONTENTS_FIELD[datatype];
  if (field === undefined) {
    throw invalidInput(
      `input "${name}": ${datatype} has no typed contents field; send it in raw_input_contents`,
    );
  }
  const values: readonly unknown[] = msg.contents?.[field] ?? [];
  if (values.length !== count) {
    throw invalidInput(
      `input "${name}": shape ${formatShape(shape)} needs ${count} elements but contents.${field} has ${values.length}`,
    );
  }
  return fromContents(rule, datatype, values, shape);
}

function fromContents(
  rule: ElementRule,
  datatype: OipDatatype,
  values: readonly unknown[],
  shape: number[],
): HostTensor {
  if (datatype === 'BYTES') {
    return { dtype: 'string', shape, data: values.map((v) => new Uint8Array(v as Uint8Array)) };
  }
  const data = allocate(rule.dtype, values.length) as Float32Array | Int32Array | Uint8Array;
  const range = rule.range;
  for (let i = 0; i < values.length; i++) {
    const raw = values[i];
    const v = datatype === 'BOOL' ? (raw === true ? 1 : 0) : Number(raw);
    if (rule.dtype === 'int32' && range !== undefined && (v < range[0] || v > range[1])) {
      throw invalidInput(
        `input "${rule.input}" element ${i} = ${String(raw)} is out of range for ${datatype} as computed by tfjs (int32)`,
      );
    }
    data[i] = v;
  }
  return { dtype: rule.dtype, shape, data };
}

/** Reads a request or output parameter that must be an integer, when present. */
export function intParameter(
  params: Record<string, InferParameterMessage> | undefined,
  key: string,
  where: string,
): number | undefined {
  const p = params?.[key];
  if (p === undefined) return undefined;
  if (p.parameter_choice !== 'int64_param' || p.int64_param === undefined)
    throw invalidInput(`${where}: parameter "${key}" must be an int64_param`);
  const v = Number(p.int64_param);
  if (!Number.isSafeInteger(v) || v < 1)
    throw invalidInput(`${where}: parameter "${key}" must be a positive integer`);
  return v;
}
