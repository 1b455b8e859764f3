// TF Serving's TensorProto <-> the runtime's host tensors. Clients send a
// tensor either as raw little-endian bytes in tensor_content (tf.make_tensor_proto
// does for numbers) or in the field typed for its dtype (float_val, int64_val,
// string_val, ...), where fewer values than elements repeat the last one and
// none means zeros, as TensorFlow's Tensor::FromProto reads them. Answers use
// the typed fields, as TF Serving writes them. Pure functions.

import type { OipDatatype } from '../dtypes.js';
import { oipElementSize, tfDtypeToOip, tfDtypeToTfjs } from '../dtypes.js';
import { invalidInput } from '../errors.js';
import type { TensorSpec } from '../models/signature.js';
import { decodeRaw, encodeRaw, floatToHalf, halfToFloat } from '../codec/binary-tensor.js';
import { MAX_RANK, ruleFor } from '../codec/json-values.js';
import type { ElementRule } from '../codec/json-values.js';
import { formatShape } from '../codec/validate.js';
import type { HostTensor } from '../tensors.js';
import { allocate, sizeOf } from '../tensors.js';

/** int64 fields arrive as decimal strings (proto-loader's longs: String) and may be sent as numbers. */
type Int64 = string | number;

/** tensorflow.TensorProto as proto-loader hands it over (only the fields the runtime reads or writes). */
export interface TensorProtoMessage {
  dtype?: string;
  tensor_shape?: TensorShapeMessage | null;
  tensor_content?: Uint8Array;
  half_val?: number[];
  float_val?: number[];
  double_val?: number[];
  int_val?: number[];
  string_val?: Uint8Array[];
  int64_val?: Int64[];
  bool_val?: boolean[];
  uint32_val?: number[];
  uint64_val?: Int64[];
  scomplex_val?: number[];
  dcomplex_val?: number[];
  resource_handle_val?: unknown[];
  variant_val?: unknown[];
}

export interface TensorShapeMessage {
  dim?: { size?: Int64; name?: string }[];
  unknown_rank?: boolean;
}

/** The TensorProto field that carries each supported dtype's values. */
export const TYPED_FIELD = {
  DT_FLOAT: 'float_val',
  DT_DOUBLE: 'double_val',
  DT_HALF: 'half_val',
  DT_INT32: 'int_val',
  DT_INT16: 'int_val',
  DT_INT8: 'int_val',
  DT_UINT8: 'int_val',
  DT_UINT16: 'int_val',
  DT_INT64: 'int64_val',
  DT_UINT32: 'uint32_val',
  DT_UINT64: 'uint64_val',
  DT_BOOL: 'bool_val',
  DT_STRING: 'string_val',
} as const satisfies Record<string, keyof TensorProtoMessage>;

export type SupportedTfDtype = keyof typeof TYPED_FIELD;

export function isSupportedTfDtype(dtype: string): dtype is SupportedTfDtype {
  return Object.hasOwn(TYPED_FIELD, dtype);
}

/** The dimensions of a TensorShapeProto; a missing shape is a scalar, as in TensorFlow. */
export function shapeFromProto(
  input: string,
  shape: TensorShapeMessage | null | undefined,
): number[] {
  if (shape === undefined || shape === null) return [];
  if (shape.unknown_rank === true)
    throw invalidInput(`input "${input}": tensor_shape has unknown_rank; send the full shape`);
  const dims = (shape.dim ?? []).map((d) => Number(d.size ?? 0));
  if (dims.length > MAX_RANK) {
    throw invalidInput(
      `input "${input}": tensor_shape has ${dims.length} dimensions; a tensor has at most ${MAX_RANK}`,
    );
  }
  const bad = dims.findIndex((d) => !Number.isSafeInteger(d) || d < 0);
  if (bad >= 0) {
    throw invalidInput(
      `input "${input}": tensor_shape dimension ${bad} is ${String(shape.dim?.[bad]?.size)}; sizes must be known and non-negative`,
    );
  }
  return dims;
}

export function shapeToProto(shape: readonly number[]): TensorShapeMessage {
  return { dim: shape.map((d) => ({ size: String(d) })) };
}

/** Decodes one request tensor, which must have the dtype the model declares for it. */
export function tensorFromProto(
  input: string,
  proto: TensorProtoMessage,
  spec: Pick<TensorSpec, 'tfDtype' | 'dtype'>,
): HostTensor {
  const dtype = proto.dtype ?? 'DT_INVALID';
  if (dtype !== spec.tfDtype) {
    throw invalidInput(`input "${input}" has dtype ${dtype} but the model expects ${spec.tfDtype}`);
  }
  if (!isSupportedTfDtype(dtype) || tfDtypeToTfjs(dtype) === undefined)
    throw invalidInput(`input "${input}": dtype ${dtype} is not supported`);
  const shape = shapeFromProto(input, proto.tensor_shape);
  const count = sizeOf(shape);
  const oip = tfDtypeToOip(dtype) as OipDatatype;
  const rule = ruleFor(input, spec.dtype, dtype, oip, 'oip');
  const content = proto.tensor_content;
  if (content !== undefined && content.length > 0) {
    if (dtype === 'DT_STRING') {
      throw invalidInput(
        `input "${input}": DT_STRING tensors carry their elements in string_val, not tensor_content`,
      );
    }
    const need = count * (oipElementSize(oip) as number);
    if (content.length !== need) {
      throw invalidInput(
        `input "${input}": tensor_content has ${content.length} bytes but shape ${formatShape(shape)} of ${dtype} needs ${need}`,
      );
    }
    const raw = Buffer.from(content.buffer, content.byteOffset, content.byteLength);
    return decodeRaw(rule, oip, raw, shape, count);
  }
  return fromTypedField(rule, dtype, proto, shape, count);
}

function fromTypedField(
  rule: ElementRule,
  dtype: SupportedTfDtype,
  proto: TensorProtoMessage,
  shape: number[],
  count: number,
): HostTensor {
  const field = TYPED_FIELD[dtype];
  const values: readonly unknown[] = proto[field] ?? [];
  if (values.length > count) {
    throw invalidInput(
      `input "${rule.input}": ${field} has ${values.length} values but shape ${formatShape(shape)} holds ${count}`,
    );
  }
  // TensorFlow's reading: no values means zeros; fewer than the elements repeat the last one.
  const at = (i: number): unknown => values[Math.min(i, values.length - 1)];
  if (dtype === 'DT_STRING') {
    const out: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const v = values.length === 0 ? new Uint8Array(0) : (at(i) as Uint8Array);
      out.push(new Uint8Array(v));
    }
    return { dtype: 'string', shape, data: out };
  }
  const data = allocate(rule.dtype, count) as Float32Array | Int32Array | Uint8Array;
  if (values.length === 0) return { dtype: rule.dtype, shape, data };
  const range = rule.range;
  for (let i = 0; i < count; i++) {
    const raw = at(i);
    let v: number;
    if (dtype === 'DT_BOOL') v = raw === true ? 1 : 0;
    else if (dtype === 'DT_HALF') v = halfToFloat(Number(raw) & 0xffff);
    else v = Number(raw);
    // Floats keep NaN and infinities (as in tensor_content); integers must fit what tfjs computes in.
    if (rule.dtype === 'int32' && range !== undefined && (v < range[0] || v > range[1])) {
      throw invalidInput(
        `input "${rule.input}" ${field}[${Math.min(i, values.length - 1)}] = ${String(raw)} is out of range for ${dtype} as computed by tfjs (int32)`,
      );
    }
    data[i] = v;
  }
  return { dtype: rule.dtype, shape, data };
}

/**
 * Encodes an answer tensor as `tfDtype` (the model's declared output dtype):
 * in its typed field by default, as TF Serving does, or as tensor_content.
 */
export function tensorToProto(
  t: HostTensor,
  tfDtype: string,
  encoding: 'typed' | 'content' = 'typed',
): TensorProtoMessage {
  const dtype: SupportedTfDtype = isSupportedTfDtype(tfDtype)
    ? tfDtype
    : t.dtype === 'float32'
      ? 'DT_FLOAT'
      : t.dtype === 'int32'
        ? 'DT_INT32'
        : t.dtype === 'bool'
          ? 'DT_BOOL'
          : 'DT_STRING';
  const out: TensorProtoMessage = { dtype, tensor_shape: shapeToProto(t.shape) };
  if (t.dtype === 'string') {
    out.string_val = (t.data as Uint8Array[]).map((b) =>
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    );
    return out;
  }
  const data = t.data as Float32Array | Int32Array | Uint8Array;
  if (encoding === 'content') {
    out.tensor_content = encodeRaw(t, tfDtypeToOip(dtype) as OipDatatype);
    return out;
  }
  switch (dtype) {
    case 'DT_BOOL':
      out.bool_val = Array.from(data, (v) => v !== 0);
      break;
    case 'DT_HALF':
      out.half_val = Array.from(data, floatToHalf);
      break;
    case 'DT_INT64':
      out.int64_val = Array.from(data, (v) => String(Math.trunc(v)));
      break;
    case 'DT_UINT64':
      out.uint64_val = Array.from(data, (v) => String(Math.trunc(v)));
      break;
    case 'DT_UINT32':
      out.uint32_val = Array.from(data);
      break;
    case 'DT_FLOAT':
      out.float_val = Array.from(data);
      break;
    case 'DT_DOUBLE':
      out.double_val = Array.from(data);
      break;
    default:
      out.int_val = Array.from(data);
  }
  return out;
}
