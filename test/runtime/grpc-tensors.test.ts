// The gRPC tensor conversions over generated tensors of every dtype, through
// the real protobuf encoding (the services' own serializers): TF Serving's
// TensorProto in tensor_content and in the typed fields, and the Open
// Inference Protocol's contents and raw_input_contents, each read back byte
// for byte; TensorFlow's reading of a short typed field; and the messages
// for what cannot be read.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OipDatatype, TfjsDtype } from '../../src/runtime/dtypes.js';
import { tfDtypeToOip, tfDtypeToTfjs } from '../../src/runtime/dtypes.js';
import type { InferInputTensorMessage } from '../../src/runtime/grpc/infer-tensors.js';
import { CONTENTS_FIELD, inputFromMessage } from '../../src/runtime/grpc/infer-tensors.js';
import { packageDefinition } from '../../src/runtime/grpc/protos.js';
import type { SupportedTfDtype, TensorProtoMessage } from '../../src/runtime/grpc/tensor-proto.js';
import {
  TYPED_FIELD,
  tensorFromProto,
  tensorToProto,
} from '../../src/runtime/grpc/tensor-proto.js';
import { spec } from '../../src/runtime/models/signature.js';
import { encodeRaw, halfToFloat } from '../../src/runtime/codec/binary-tensor.js';
import type { HostTensor } from '../../src/runtime/tensors.js';
import { sizeOf } from '../../src/runtime/tensors.js';

interface MethodDefinition {
  requestSerialize(value: unknown): Buffer;
  requestDeserialize(bytes: Buffer): unknown;
}

function method(service: string, name: string): MethodDefinition {
  const def = packageDefinition()[service] as unknown as Record<string, MethodDefinition>;
  const m = def[name];
  if (m === undefined) throw new Error(`no ${service}/${name}`);
  return m;
}

const predict = method('tensorflow.serving.PredictionService', 'Predict');
const modelInfer = method('inference.GRPCInferenceService', 'ModelInfer');

/** A TensorProto as the server receives it: serialized in a PredictRequest and parsed back. */
function overTheWire(proto: TensorProtoMessage): TensorProtoMessage {
  const bytes = predict.requestSerialize({ model_spec: { name: 'm' }, inputs: { x: proto } });
  const parsed = predict.requestDeserialize(bytes) as { inputs: { x: TensorProtoMessage } };
  return parsed.inputs.x;
}

/** Integer ranges that tfjs's int32 holds, per TF dtype. */
const INT_RANGES: Partial<Record<SupportedTfDtype, [number, number]>> = {
  DT_INT8: [-128, 127],
  DT_UINT8: [0, 255],
  DT_INT16: [-32768, 32767],
  DT_UINT16: [0, 65535],
  DT_INT32: [-2147483648, 2147483647],
  DT_INT64: [-2147483648, 2147483647],
  DT_UINT32: [0, 2147483647],
  DT_UINT64: [0, 2147483647],
};

const DTYPES = Object.keys(TYPED_FIELD) as SupportedTfDtype[];

const shapeArb = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 });

function tensorArb(dtype: SupportedTfDtype): fc.Arbitrary<HostTensor> {
  const tfjs = tfDtypeToTfjs(dtype) as TfjsDtype;
  return shapeArb.chain((shape) => {
    const n = sizeOf(shape);
    const of = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T[]> =>
      fc.array(arb, { minLength: n, maxLength: n });
    switch (dtype) {
      case 'DT_STRING':
        return of(fc.uint8Array({ maxLength: 8 })).map((data): HostTensor => ({
          dtype: 'string',
          shape,
          data,
        }));
      case 'DT_BOOL':
        return of(fc.boolean()).map((v): HostTensor => ({
          dtype: 'bool',
          shape,
          data: Uint8Array.from(v, Number),
        }));
      case 'DT_FLOAT':
      case 'DT_DOUBLE':
        return of(fc.float()).map((v): HostTensor => ({
          dtype: 'float32',
          shape,
          data: Float32Array.from(v),
        }));
      case 'DT_HALF':
        // Every half-precision value (NaN with its one quiet pattern, as floatToHalf writes it).
        return of(fc.integer({ min: 0, max: 0xffff })).map((bits): HostTensor => ({
          dtype: 'float32',
          shape,
          data: Float32Array.from(bits, halfToFloat),
        }));
      default: {
        const [min, max] = INT_RANGES[dtype] as [number, number];
        return of(fc.integer({ min, max })).map((v): HostTensor => ({
          dtype: tfjs,
          shape,
          data: Int32Array.from(v),
        }));
      }
    }
  });
}

/** The tensor's elements as bytes, for byte-exact comparison (NaN and -0 included). */
function bytesOf(t: HostTensor): Buffer[] {
  if (Array.isArray(t.data)) return t.data.map((b) => Buffer.from(b));
  const d = t.data;
  return [Buffer.from(d.buffer, d.byteOffset, d.byteLength)];
}

function expectSame(got: HostTensor, want: HostTensor): void {
  expect(got.dtype).toBe(want.dtype);
  expect(got.shape).toEqual(want.shape);
  expect(bytesOf(got)).toEqual(bytesOf(want));
}

describe('TensorProto <-> host tensors', () => {
  it.each(DTYPES)(
    '%s round-trips byte for byte in its typed field and in tensor_content',
    (dtype) => {
      const tfjs = tfDtypeToTfjs(dtype) as TfjsDtype;
      const encodings =
        dtype === 'DT_STRING' ? (['typed'] as const) : (['typed', 'content'] as const);
      fc.assert(
        fc.property(tensorArb(dtype), fc.constantFrom(...encodings), (t, encoding) => {
          const proto = overTheWire(tensorToProto(t, dtype, encoding));
          expect(proto.dtype).toBe(dtype);
          if (encoding === 'content' && sizeOf(t.shape) > 0) {
            expect(Buffer.from(proto.tensor_content ?? [])).toEqual(
              encodeRaw(t, tfDtypeToOip(dtype) as OipDatatype),
            );
          }
          expectSame(tensorFromProto('x', proto, { tfDtype: dtype, dtype: tfjs }), t);
        }),
        { numRuns: 60 },
      );
    },
  );

  it('reads a short typed field as TensorFlow does: the last value repeats, none means zeros', () => {
    const shape = { dim: [{ size: '2' }, { size: '3' }] };
    const short = tensorFromProto(
      'x',
      overTheWire({ dtype: 'DT_INT64', tensor_shape: shape, int64_val: ['5', '-7'] }),
      { tfDtype: 'DT_INT64', dtype: 'int32' },
    );
    expect(Array.from(short.data as Int32Array)).toEqual([5, -7, -7, -7, -7, -7]);
    const none = tensorFromProto('x', overTheWire({ dtype: 'DT_FLOAT', tensor_shape: shape }), {
      tfDtype: 'DT_FLOAT',
      dtype: 'float32',
    });
    expect(Array.from(none.data as Float32Array)).toEqual([0, 0, 0, 0, 0, 0]);
    const scalar = tensorFromProto(
      'x',
      overTheWire({ dtype: 'DT_STRING', string_val: [Buffer.from('hi')] }),
      {
        tfDtype: 'DT_STRING',
        dtype: 'string',
      },
    );
    expect(scalar.shape).toEqual([]);
    expect(scalar.data).toEqual([new Uint8Array(Buffer.from('hi'))]);
  });

  it.each([
    [
      { dtype: 'DT_DOUBLE', double_val: [1] },
      'input "x" has dtype DT_DOUBLE but the model expects DT_FLOAT',
    ],
    [
      { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '2' }] }, float_val: [1, 2, 3] },
      'input "x": float_val has 3 values but shape [2] holds 2',
    ],
    [
      { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '-1' }] } },
      'input "x": tensor_shape dimension 0 is -1; sizes must be known and non-negative',
    ],
    [
      { dtype: 'DT_FLOAT', tensor_shape: { unknown_rank: true } },
      'input "x": tensor_shape has unknown_rank; send the full shape',
    ],
    [
      {
        dtype: 'DT_FLOAT',
        tensor_shape: { dim: [{ size: '3' }] },
        tensor_content: Buffer.alloc(8),
      },
      'input "x": tensor_content has 8 bytes but shape [3] of DT_FLOAT needs 12',
    ],
  ] as [TensorProtoMessage, string][])('refuses %j: %s', (proto, message) => {
    expect(() =>
      tensorFromProto('x', overTheWire(proto), { tfDtype: 'DT_FLOAT', dtype: 'float32' }),
    ).toThrow(message);
  });

  it('refuses an int64 that int32 cannot hold, naming the value', () => {
    expect(() =>
      tensorFromProto('x', overTheWire({ dtype: 'DT_INT64', int64_val: ['4294967296'] }), {
        tfDtype: 'DT_INT64',
        dtype: 'int32',
      }),
    ).toThrow(
      'input "x" int64_val[0] = 4294967296 is out of range for DT_INT64 as computed by tfjs (int32)',
    );
  });
});

/** An InferInputTensor as the server receives it: serialized in a ModelInferRequest and parsed back. */
function inferOverTheWire(
  input: InferInputTensorMessage,
  raw: Buffer | undefined,
): { input: InferInputTensorMessage; raw: Uint8Array | undefined } {
  const bytes = modelInfer.requestSerialize({
    model_name: 'm',
    inputs: [input],
    raw_input_contents: raw === undefined ? [] : [raw],
  });
  const parsed = modelInfer.requestDeserialize(bytes) as {
    inputs: InferInputTensorMessage[];
    raw_input_contents: Uint8Array[];
  };
  return { input: parsed.inputs[0] as InferInputTensorMessage, raw: parsed.raw_input_contents[0] };
}

/** The values of a host tensor as the contents field of `datatype` holds them. */
function contentsOf(t: HostTensor, datatype: OipDatatype): unknown[] {
  if (Array.isArray(t.data)) return t.data.map((b) => Buffer.from(b));
  const values = Array.from(t.data as ArrayLike<number>);
  if (datatype === 'BOOL') return values.map((v) => v !== 0);
  if (datatype === 'INT64' || datatype === 'UINT64') return values.map(String);
  return values;
}

describe('InferInputTensor <-> host tensors', () => {
  const cases = DTYPES.map((d) => [tfDtypeToOip(d) as OipDatatype, d] as const).filter(
    ([datatype]) => datatype !== undefined,
  );
  it.each(cases)(
    '%s reads the same from raw_input_contents and from contents',
    (datatype, dtype) => {
      const tfjs = tfDtypeToTfjs(dtype) as TfjsDtype;
      const s = spec('x', tfjs, [-1], dtype);
      fc.assert(
        fc.property(tensorArb(dtype), (t) => {
          const head = { name: 'x', datatype, shape: t.shape.map(String) };
          const raw = inferOverTheWire(head, encodeRaw(t, datatype));
          expectSame(inputFromMessage(raw.input, s, raw.raw), t);
          const field = CONTENTS_FIELD[datatype];
          if (field === undefined) return;
          const typed = inferOverTheWire(
            { ...head, contents: { [field]: contentsOf(t, datatype) } },
            undefined,
          );
          expectSame(inputFromMessage(typed.input, s, undefined), t);
        }),
        { numRuns: 40 },
      );
    },
  );

  it.each([
    [
      { name: 'x', datatype: 'FP16', shape: ['1'] },
      'FP16',
      'input "x": FP16 has no typed contents field; send it in raw_input_contents',
    ],
    [
      { name: 'x', datatype: 'FP32', shape: ['2'], contents: { fp32_contents: [1] } },
      'FP32',
      'input "x": shape [2] needs 2 elements but contents.fp32_contents has 1',
    ],
    [
      { name: 'x', datatype: 'FP64', shape: ['1'], contents: { fp64_contents: [1] } },
      'FP32',
      'input "x" has datatype FP64 but the model expects FP32',
    ],
    [
      { name: 'x', datatype: 'FLOAT', shape: ['1'] },
      'FP32',
      'input "x": datatype "FLOAT" is not an Open Inference Protocol datatype',
    ],
  ] as [InferInputTensorMessage, OipDatatype, string][])('refuses %j', (msg, datatype, message) => {
    const dtype = datatype === 'FP16' ? 'DT_HALF' : 'DT_FLOAT';
    const s = spec('x', 'float32', [-1], dtype);
    expect(() => inputFromMessage(inferOverTheWire(msg, undefined).input, s, undefined)).toThrow(
      message,
    );
  });

  it('refuses raw contents whose size does not match the shape', () => {
    const s = spec('x', 'int32', [-1], 'DT_INT32');
    const { input, raw } = inferOverTheWire(
      { name: 'x', datatype: 'INT32', shape: ['3'] },
      Buffer.alloc(8),
    );
    expect(() => inputFromMessage(input, s, raw)).toThrow(
      'input "x": its raw_input_contents has 8 bytes but shape [3] of INT32 needs 12',
    );
  });
});
