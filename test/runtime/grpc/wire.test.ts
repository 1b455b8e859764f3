// ModelInfer's request and response on the wire (src/runtime/grpc/wire/),
// against protobufjs through the services' own definitions: any request
// protobufjs writes decodes to what protobufjs reads back, any answer
// encodes to bytes protobufjs reads as the same answer (and to protobufjs's
// own bytes), and cut or corrupted messages fail with a WireError, never
// with anything else.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { packageDefinition } from '../../../src/runtime/grpc/protos.js';
import type { ModelInferResponse } from '../../../src/runtime/grpc/wire/model-infer.js';
import {
  decodeModelInferRequest,
  encodeModelInferResponse,
  rawContentsOffset,
} from '../../../src/runtime/grpc/wire/model-infer.js';
import { WireError, WireReader } from '../../../src/runtime/grpc/wire/reader.js';

interface MethodDefinition {
  requestSerialize(value: unknown): Buffer;
  requestDeserialize(bytes: Buffer): unknown;
  responseSerialize(value: unknown): Buffer;
  responseDeserialize(bytes: Buffer): unknown;
}

const modelInfer = (
  packageDefinition()['inference.GRPCInferenceService'] as unknown as Record<
    string,
    MethodDefinition
  >
)['ModelInfer']!;

const INT64_KEYS = new Set(['shape', 'int64_param', 'int64_contents', 'uint64_contents']);

/** Our int64s are numbers when exact; protobufjs's (longs: String) always strings. */
function normalize(value: unknown, key = ''): unknown {
  if (value instanceof Uint8Array) return Uint8Array.from(value);
  if (Array.isArray(value))
    return value.map((v) => (INT64_KEYS.has(key) ? String(v) : normalize(v)));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        INT64_KEYS.has(k) && !Array.isArray(v) ? String(v) : normalize(v, k),
      ]),
    );
  return value;
}

const int64 = fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n).map(String);
const uint64 = fc.bigInt(0n, 2n ** 64n - 1n).map(String);
const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const uint32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const bytes = fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b));

const parameter = fc.oneof(
  fc.record({ bool_param: fc.boolean() }),
  fc.record({ int64_param: int64 }),
  fc.record({ string_param: fc.string({ unit: 'grapheme', maxLength: 10 }) }),
);
const parameters = fc.dictionary(fc.string({ maxLength: 8 }), parameter, { maxKeys: 3 });

const contents = fc.record(
  {
    bool_contents: fc.array(fc.boolean(), { maxLength: 5 }),
    int_contents: fc.array(int32, { maxLength: 5 }),
    int64_contents: fc.array(int64, { maxLength: 5 }),
    uint_contents: fc.array(uint32, { maxLength: 5 }),
    uint64_contents: fc.array(uint64, { maxLength: 5 }),
    fp32_contents: fc.array(fc.float({ noDefaultInfinity: false }), { maxLength: 5 }),
    fp64_contents: fc.array(fc.double(), { maxLength: 5 }),
    bytes_contents: fc.array(bytes, { maxLength: 3 }),
  },
  { requiredKeys: [] },
);

const request = fc.record(
  {
    model_name: fc.string({ unit: 'grapheme', maxLength: 12 }),
    model_version: fc.string({ maxLength: 4 }),
    id: fc.string({ maxLength: 8 }),
    parameters,
    inputs: fc.array(
      fc.record(
        {
          name: fc.string({ unit: 'grapheme', maxLength: 8 }),
          datatype: fc.constantFrom('FP32', 'INT64', 'BYTES', 'BOOL', 'FP16'),
          shape: fc.array(int64, { maxLength: 5 }),
          parameters,
          contents,
        },
        { requiredKeys: [] },
      ),
      { maxLength: 3 },
    ),
    outputs: fc.array(
      fc.record({ name: fc.string({ maxLength: 8 }), parameters }, { requiredKeys: [] }),
      { maxLength: 3 },
    ),
    raw_input_contents: fc.array(bytes, { maxLength: 3 }),
  },
  { requiredKeys: [] },
);

describe('ModelInferRequest read on the wire', () => {
  it('decodes whatever protobufjs writes to what protobufjs reads', () => {
    fc.assert(
      fc.property(request, (message) => {
        const wire = modelInfer.requestSerialize(message);
        expect(normalize(decodeModelInferRequest(wire))).toEqual(
          normalize(modelInfer.requestDeserialize(wire)),
        );
      }),
      { numRuns: 400 },
    );
  });

  it('takes repeated scalars unpacked as well as packed', () => {
    // inputs { shape: 3 shape: 300 } with one tag per element, then packed: [5, 2^40].
    const input = Buffer.from([
      0x18, 0x03, 0x18, 0xac, 0x02, 0x1a, 0x07, 0x05, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20,
    ]);
    const wire = Buffer.concat([Buffer.from([0x2a, input.length]), input]);
    expect(decodeModelInferRequest(wire).inputs[0]?.shape).toEqual([3, 300, 5, 2 ** 40]);
    expect(normalize(modelInfer.requestDeserialize(wire))).toEqual(
      normalize(decodeModelInferRequest(wire)),
    );
  });

  it('finds where the first raw contents start from any prefix of the message that holds them', () => {
    fc.assert(
      fc.property(request, fc.nat(), (message, cut) => {
        const wire = modelInfer.requestSerialize(message);
        const first = decodeModelInferRequest(wire).raw_input_contents[0];
        const offset = rawContentsOffset(wire);
        if (first === undefined) {
          expect(offset).toBeUndefined();
          return;
        }
        expect(offset).toBe(first.byteOffset - wire.byteOffset);
        // A prefix that ends before them says nothing; one that reaches them says the same.
        const prefix = wire.subarray(0, cut % (wire.length + 1));
        const fromPrefix = rawContentsOffset(prefix);
        if (fromPrefix !== undefined) expect(fromPrefix).toBe(offset);
        if (prefix.length >= offset!) expect(fromPrefix).toBe(offset);
      }),
      { numRuns: 300 },
    );
  });

  it('hands raw contents on as views of the request, not copies', () => {
    const raw = Buffer.from(new Float32Array([1, 2, 3]).buffer);
    const wire = modelInfer.requestSerialize({ raw_input_contents: [raw] });
    const got = decodeModelInferRequest(wire).raw_input_contents[0]!;
    expect(got.buffer).toBe(wire.buffer);
    expect(Uint8Array.from(got)).toEqual(Uint8Array.from(raw));
  });

  it('fails a cut or corrupted message with a WireError and nothing else', () => {
    fc.assert(
      fc.property(
        request,
        fc.nat(),
        fc.uint8Array({ minLength: 1, maxLength: 4 }),
        (message, at, junk) => {
          const wire = modelInfer.requestSerialize(message);
          const cut = at % (wire.length + 1);
          for (const bad of [wire.subarray(0, cut), Buffer.concat([wire.subarray(0, cut), junk])]) {
            try {
              decodeModelInferRequest(bad);
            } catch (err) {
              expect(err).toBeInstanceOf(WireError);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reads int64s exactly: numbers while exact, decimal strings beyond', () => {
    fc.assert(
      fc.property(fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n), (n) => {
        const wire = modelInfer.requestSerialize({ inputs: [{ shape: [String(n)] }] });
        const dim = decodeModelInferRequest(wire).inputs[0]!.shape![0]!;
        expect(BigInt(dim)).toBe(n);
        expect(typeof dim).toBe(Number.isSafeInteger(Number(n)) ? 'number' : 'string');
      }),
    );
    const r = new WireReader(
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
    );
    expect(r.int64()).toBe(-1);
  });
});

const response = fc.record({
  model_name: fc.string({ unit: 'grapheme', maxLength: 12 }),
  model_version: fc.string({ maxLength: 4 }),
  id: fc.string({ maxLength: 8 }),
  outputs: fc.array(
    fc.record({
      name: fc.string({ unit: 'grapheme', maxLength: 8 }),
      datatype: fc.constantFrom('FP32', 'INT64', 'BYTES'),
      shape: fc.array(fc.maxSafeNat(), { maxLength: 5 }),
    }),
    { maxLength: 3 },
  ),
  raw_output_contents: fc.array(bytes, { maxLength: 3 }),
});

describe('ModelInferResponse written on the wire', () => {
  it('encodes to bytes protobufjs reads as the same answer', () => {
    fc.assert(
      fc.property(response, (answer: ModelInferResponse) => {
        const decoded = modelInfer.responseDeserialize(encodeModelInferResponse(answer));
        const expected = {
          ...(answer.model_name === '' ? {} : { model_name: answer.model_name }),
          ...(answer.model_version === '' ? {} : { model_version: answer.model_version }),
          ...(answer.id === '' ? {} : { id: answer.id }),
          outputs: answer.outputs.map((o) => ({
            ...(o.name === '' ? {} : { name: o.name }),
            ...(o.datatype === '' ? {} : { datatype: o.datatype }),
            shape: o.shape.map(String),
          })),
          raw_output_contents: answer.raw_output_contents.map((b) => Uint8Array.from(b)),
        };
        expect(normalize(decoded)).toEqual(normalize(expected));
      }),
      { numRuns: 400 },
    );
  });

  it("writes protobufjs's own bytes when no string is empty", () => {
    fc.assert(
      fc.property(response, (answer) => {
        fc.pre(answer.model_name !== '' && answer.model_version !== '' && answer.id !== '');
        fc.pre(answer.outputs.every((o) => o.name !== ''));
        expect(encodeModelInferResponse(answer)).toEqual(
          modelInfer.responseSerialize({
            ...answer,
            outputs: answer.outputs.map((o) => ({ ...o, shape: o.shape.map(String) })),
          }),
        );
      }),
    );
  });
});
