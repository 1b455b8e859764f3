// Open Inference Protocol v2: server/model metadata, health, readiness, and
// /infer with JSON (flat and nested data, every datatype tfjs can compute,
// id echo, requested outputs) and with the binary tensor data extension.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OipDatatype } from '../../src/runtime/dtypes.js';
import {
  decodeRaw,
  encodeRaw,
  floatToHalf,
  halfToFloat,
} from '../../src/runtime/codec/binary-tensor.js';
import { ruleFor } from '../../src/runtime/codec/json-values.js';
import type { Fixtures, TestRuntime } from './helpers.js';
import { binaryBody, makeFixtures, startRuntime } from './helpers.js';
import { testBackend, testDevice } from './native.js';

let fx: Fixtures;
let hpt: TestRuntime;
let dtypes: TestRuntime;
let two: TestRuntime;

beforeAll(async () => {
  fx = await makeFixtures();
  [hpt, dtypes, two] = await Promise.all([
    startRuntime(fx.halfPlusTwo, { modelName: 'half_plus_two', modelVersion: '3' }),
    startRuntime(fx.dtypes, { modelName: 'dtypes' }),
    startRuntime(fx.twoInTwoOut, { modelName: 'two' }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([hpt?.close(), dtypes?.close(), two?.close()]);
  await fx?.cleanup();
});

/** Splits a binary-extension response into header JSON and raw bytes. */
function parseBinary(
  body: Buffer,
  headerLength: string | string[] | number | undefined,
): {
  header: {
    outputs: {
      name: string;
      datatype: string;
      shape: number[];
      parameters?: { binary_data_size: number };
    }[];
  };
  rest: Buffer;
} {
  const n = Number(headerLength);
  return {
    header: JSON.parse(body.subarray(0, n).toString('utf8')) as never,
    rest: body.subarray(n),
  };
}

describe('OIP v2 server endpoints', () => {
  it('GET /v2 describes the server and its extensions', async () => {
    const res = await hpt.app.inject({ method: 'GET', url: '/v2' });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ name: string; version: string; extensions: string[] }>();
    expect(body.name).toBe('tensorfleet-runtime');
    expect(body.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(body.extensions).toContain('binary_tensor_data');
  });

  it('health live and ready answer 200 with the bodies KServe writes', async () => {
    for (const [url, body] of [
      ['/v2/health/live', { live: true }],
      ['/v2/health/ready', { ready: true }],
      ['/v2/models/half_plus_two/ready', { name: 'half_plus_two', ready: true }],
      ['/v2/models/half_plus_two/versions/3/ready', { name: 'half_plus_two', ready: true }],
    ] as const) {
      const res = await hpt.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.json(), url).toEqual(body);
    }
  });

  it('model metadata lists inputs and outputs with OIP datatypes', async () => {
    const res = await dtypes.app.inject({ method: 'GET', url: '/v2/models/dtypes/versions/1' });
    expect(res.statusCode).toBe(200);
    const meta = res.json<{
      name: string;
      versions: string[];
      platform: string;
      inputs: object[];
      outputs: object[];
      parameters: { backend: string; device: string };
    }>();
    expect(meta.name).toBe('dtypes');
    expect(meta.versions).toEqual(['1']);
    expect(meta.platform).toBe('tensorflowjs_graph');
    expect(meta.parameters.backend).toBe(testBackend());
    expect(meta.parameters.device).toBe(testDevice());
    expect(meta.inputs).toEqual([
      { name: 'f32', datatype: 'FP32', shape: [-1, 2] },
      { name: 'i32', datatype: 'INT32', shape: [-1, 2] },
      { name: 'u8', datatype: 'UINT8', shape: [-1, 2] },
      { name: 'i64', datatype: 'INT64', shape: [-1, 2] },
      { name: 'i8', datatype: 'INT8', shape: [-1, 2] },
      { name: 'f16', datatype: 'FP16', shape: [-1, 2] },
      { name: 'f64', datatype: 'FP64', shape: [-1, 2] },
      { name: 'flag', datatype: 'BOOL', shape: [-1, 2] },
      { name: 'text', datatype: 'BYTES', shape: [-1] },
    ]);
    expect(meta.outputs).toHaveLength(9);
  });
});

describe('OIP v2 infer (JSON)', () => {
  it('infers with flat data and echoes the request id', async () => {
    const res = await hpt.app.inject({
      method: 'POST',
      url: '/v2/models/half_plus_two/infer',
      payload: {
        id: 'req-42',
        inputs: [{ name: 'x', shape: [3], datatype: 'FP32', data: [1, 2, 5] }],
      },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      model_name: 'half_plus_two',
      model_version: '3',
      id: 'req-42',
      outputs: [{ name: 'y', datatype: 'FP32', shape: [3], data: [2.5, 3, 4.5] }],
    });
  });

  it('accepts nested data matching the shape, and returns only requested outputs', async () => {
    const res = await two.app.inject({
      method: 'POST',
      url: '/v2/models/two/versions/1/infer',
      payload: {
        inputs: [
          {
            name: 'a',
            shape: [2, 3],
            datatype: 'FP32',
            data: [
              [1, 2, 3],
              [4, 5, 6],
            ],
          },
          { name: 'b', shape: [2, 2], datatype: 'FP32', data: [1, 1, 0, 0] },
        ],
        outputs: [{ name: 'sum' }],
      },
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{ id?: string; outputs: unknown[] }>();
    expect(body.id).toBeUndefined();
    expect(body.outputs).toEqual([{ name: 'sum', datatype: 'FP32', shape: [2, 1], data: [8, 15] }]);
  });

  it('round-trips every datatype TF.js models take: FP32, FP16, FP64, INT32, INT64, INT8, UINT8, BOOL, BYTES', async () => {
    const res = await dtypes.app.inject({
      method: 'POST',
      url: '/v2/models/dtypes/infer',
      payload: {
        inputs: [
          { name: 'f32', shape: [1, 2], datatype: 'FP32', data: [0.25, -1e10] },
          { name: 'i32', shape: [1, 2], datatype: 'INT32', data: [-2147483648, 5] },
          { name: 'u8', shape: [1, 2], datatype: 'UINT8', data: [255, 0] },
          { name: 'i64', shape: [1, 2], datatype: 'INT64', data: [-3, 2147483647] },
          { name: 'i8', shape: [1, 2], datatype: 'INT8', data: [-128, 127] },
          { name: 'f16', shape: [1, 2], datatype: 'FP16', data: [0.5, 65504] },
          { name: 'f64', shape: [1, 2], datatype: 'FP64', data: [0.1, -3.5] },
          { name: 'flag', shape: [1, 2], datatype: 'BOOL', data: [true, false] },
          { name: 'text', shape: [1], datatype: 'BYTES', data: ['ünïcode'] },
        ],
      },
    });
    expect(res.statusCode, res.body).toBe(200);
    const outs = res.json<{ outputs: { name: string; datatype: string; data: unknown[] }[] }>()
      .outputs;
    const byName = Object.fromEntries(outs.map((o) => [o.name, [o.datatype, o.data]]));
    expect(byName).toEqual({
      f32_out: ['FP32', [0.25, -1e10]],
      i32_out: ['INT32', [-2147483648, 5]],
      u8_out: ['UINT8', [255, 0]],
      i64_out: ['INT64', [-3, 2147483647]],
      i8_out: ['INT8', [-128, 127]],
      f16_out: ['FP16', [0.5, 65504]],
      f64_out: ['FP64', [0.1, -3.5]],
      flag_out: ['BOOL', [true, false]],
      text_bytes: ['BYTES', ['ünïcode']],
    });
  });
});

describe('OIP v2 binary tensor data extension', () => {
  it('decodes binary inputs and returns binary outputs when asked', async () => {
    const x = Buffer.from(new Float32Array([1, 2, 5]).buffer);
    const { payload, headers } = binaryBody(
      {
        id: 'bin',
        inputs: [
          { name: 'x', shape: [3], datatype: 'FP32', parameters: { binary_data_size: x.length } },
        ],
        outputs: [{ name: 'y', parameters: { binary_data: true } }],
      },
      x,
    );
    const res = await hpt.app.inject({
      method: 'POST',
      url: '/v2/models/half_plus_two/infer',
      payload,
      headers,
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    const { header, rest } = parseBinary(
      res.rawPayload,
      res.headers['inference-header-content-length'],
    );
    expect(header).toEqual({
      model_name: 'half_plus_two',
      model_version: '3',
      id: 'bin',
      outputs: [{ name: 'y', datatype: 'FP32', shape: [3], parameters: { binary_data_size: 12 } }],
    });
    expect(
      Array.from(new Float32Array(rest.buffer.slice(rest.byteOffset, rest.byteOffset + 12))),
    ).toEqual([2.5, 3, 4.5]);
  });

  it('binary inputs with JSON outputs by default; binary_data_output switches all outputs', async () => {
    const f32 = Buffer.from(new Float32Array([1.5, -2]).buffer);
    const i32 = Buffer.from(new Int32Array([7, -8]).buffer);
    const u8 = Buffer.from([200, 3]);
    const i64 = Buffer.alloc(16);
    i64.writeBigInt64LE(-5n, 0);
    i64.writeBigInt64LE(6n, 8);
    const i8 = Buffer.from(new Int8Array([-100, 99]).buffer);
    const f16 = Buffer.alloc(4);
    f16.writeUInt16LE(floatToHalf(0.5), 0);
    f16.writeUInt16LE(floatToHalf(-1024), 2);
    const f64 = Buffer.from(new Float64Array([0.5, -3.25]).buffer);
    const flag = Buffer.from([1, 0]);
    const text = Buffer.concat([Buffer.from([3, 0, 0, 0]), Buffer.from([0, 1, 255])]);
    const utf8Text = Buffer.concat([Buffer.from([3, 0, 0, 0]), Buffer.from('abc')]);
    const inputs = [
      {
        name: 'f32',
        shape: [1, 2],
        datatype: 'FP32',
        parameters: { binary_data_size: f32.length },
      },
      {
        name: 'i32',
        shape: [1, 2],
        datatype: 'INT32',
        parameters: { binary_data_size: i32.length },
      },
      { name: 'u8', shape: [1, 2], datatype: 'UINT8', parameters: { binary_data_size: u8.length } },
      {
        name: 'i64',
        shape: [1, 2],
        datatype: 'INT64',
        parameters: { binary_data_size: i64.length },
      },
      { name: 'i8', shape: [1, 2], datatype: 'INT8', parameters: { binary_data_size: i8.length } },
      {
        name: 'f16',
        shape: [1, 2],
        datatype: 'FP16',
        parameters: { binary_data_size: f16.length },
      },
      {
        name: 'f64',
        shape: [1, 2],
        datatype: 'FP64',
        parameters: { binary_data_size: f64.length },
      },
      {
        name: 'flag',
        shape: [1, 2],
        datatype: 'BOOL',
        parameters: { binary_data_size: flag.length },
      },
      {
        name: 'text',
        shape: [1],
        datatype: 'BYTES',
        parameters: { binary_data_size: text.length },
      },
    ];
    // Bytes that are not UTF-8 cannot go in a JSON string: refused, with the way to get them.
    const notUtf8 = await dtypes.app.inject({
      method: 'POST',
      url: '/v2/models/dtypes/infer',
      ...binaryBody({ inputs }, f32, i32, u8, i64, i8, f16, f64, flag, text),
    });
    expect(notUtf8.statusCode).toBe(400);
    expect(notUtf8.json<{ error: string }>().error).toMatch(
      /output "text_bytes" element 0 holds bytes that are not UTF-8.*"binary_data": true/,
    );
    const jsonOut = binaryBody({ inputs }, f32, i32, u8, i64, i8, f16, f64, flag, utf8Text);
    const res = await dtypes.app.inject({
      method: 'POST',
      url: '/v2/models/dtypes/infer',
      ...jsonOut,
    });
    expect(res.statusCode, res.body).toBe(200);
    const outs = Object.fromEntries(
      res
        .json<{ outputs: { name: string; data: unknown[] }[] }>()
        .outputs.map((o) => [o.name, o.data]),
    );
    expect(outs).toMatchObject({
      f32_out: [1.5, -2],
      i32_out: [7, -8],
      u8_out: [200, 3],
      i64_out: [-5, 6],
      i8_out: [-100, 99],
      f16_out: [0.5, -1024],
      f64_out: [0.5, -3.25],
      flag_out: [true, false],
      text_bytes: ['abc'],
    });

    const binOut = binaryBody(
      { inputs, parameters: { binary_data_output: true } },
      f32,
      i32,
      u8,
      i64,
      i8,
      f16,
      f64,
      flag,
      text,
    );
    const res2 = await dtypes.app.inject({
      method: 'POST',
      url: '/v2/models/dtypes/infer',
      ...binOut,
    });
    expect(res2.statusCode).toBe(200);
    const { header, rest } = parseBinary(
      res2.rawPayload,
      res2.headers['inference-header-content-length'],
    );
    const sizes = header.outputs.map((o) => o.parameters?.binary_data_size);
    expect(sizes).toEqual([8, 8, 2, 16, 2, 4, 16, 2, 7]);
    // Outputs come back in the datatype the signature declares, byte for byte.
    expect(Buffer.compare(rest, Buffer.concat([f32, i32, u8, i64, i8, f16, f64, flag, text]))).toBe(
      0,
    );
  });

  it('decodes and re-encodes the integer datatypes TF.js graph models cannot declare', () => {
    // INT16, UINT16, UINT32 and UINT64 never reach a TF.js model (the converter has no such
    // placeholders), but the codec handles them byte-exactly and range-checks against int32.
    const cases: [OipDatatype, Buffer, number[]][] = [
      ['INT16', Buffer.from(new Int16Array([-32768, 32767]).buffer), [-32768, 32767]],
      ['UINT16', Buffer.from(new Uint16Array([0, 65535]).buffer), [0, 65535]],
      ['UINT32', Buffer.from(new Uint32Array([0, 2147483647]).buffer), [0, 2147483647]],
      ['UINT64', Buffer.from(new BigUint64Array([0n, 42n]).buffer), [0, 42]],
    ];
    for (const [datatype, raw, values] of cases) {
      const rule = ruleFor('x', 'int32', datatype, datatype, 'oip');
      const t = decodeRaw(rule, datatype, raw, [2], 2);
      expect(Array.from(t.data as Int32Array), datatype).toEqual(values);
      expect(Buffer.compare(encodeRaw(t, datatype), raw), datatype).toBe(0);
    }
    const big = Buffer.from(new Uint32Array([4294967295, 0]).buffer);
    expect(() =>
      decodeRaw(ruleFor('x', 'int32', 'UINT32', 'UINT32', 'oip'), 'UINT32', big, [2], 2),
    ).toThrow(/element 0 = 4294967295 is out of range for UINT32 as computed by tfjs \(int32\)/);
  });

  it('converts FP16 both ways', () => {
    for (const v of [0, 1, -2.5, 65504, 0.000061035156])
      expect(halfToFloat(floatToHalf(v))).toBeCloseTo(v, 6);
  });
});
