// Triton's classification extension, as tritonclient's class_count asks for
// it: top-k "value:index" strings per row, in JSON and binary outputs.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { classify } from '../../src/runtime/codec/classification.js';
import type { Fixtures, TestRuntime } from './helpers.js';
import { makeFixtures, startRuntime } from './helpers.js';

let fx: Fixtures;
let two: TestRuntime;

beforeAll(async () => {
  fx = await makeFixtures();
  two = await startRuntime(fx.twoInTwoOut, { modelName: 'two' });
}, 60_000);

afterAll(async () => {
  await two?.close();
  await fx?.cleanup();
});

const texts = (t: { data: unknown }): string[] =>
  (t.data as Uint8Array[]).map((b) => Buffer.from(b).toString());

describe('classify', () => {
  it('takes the k highest of each row, highest first, ties by index', () => {
    const t = classify(
      {
        dtype: 'float32',
        shape: [2, 4],
        data: Float32Array.from([0.1, 0.7, 0.2, 0.7, 3, 1, 2, 0]),
      },
      3,
    );
    expect(t.shape).toEqual([2, 3]);
    expect(texts(t)).toEqual([
      '0.700000:1',
      '0.700000:3',
      '0.200000:2',
      '3.000000:0',
      '2.000000:2',
      '1.000000:1',
    ]);
  });

  it('a one-dimensional output gives [k]; k past the classes gives them all; integers print as such', () => {
    const t = classify({ dtype: 'int32', shape: [3], data: Int32Array.from([5, -1, 9]) }, 10);
    expect(t.shape).toEqual([3]);
    expect(texts(t)).toEqual(['9:2', '5:0', '-1:1']);
  });
});

describe('classification through the Open Inference Protocol', () => {
  const body = (parameters: Record<string, unknown>) => ({
    inputs: [
      { name: 'a', shape: [1, 3], datatype: 'FP32', data: [1, 5, 3] },
      { name: 'b', shape: [1, 2], datatype: 'FP32', data: [4, 2] },
    ],
    outputs: [{ name: 'concat', parameters }],
  });

  it('answers the top classes as BYTES in JSON', async () => {
    const res = await two.app.inject({
      method: 'POST',
      url: '/v2/models/two/infer',
      payload: body({ classification: 3 }),
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<{ outputs: unknown[] }>().outputs).toEqual([
      {
        name: 'concat',
        datatype: 'BYTES',
        shape: [1, 3],
        data: ['5.000000:1', '4.000000:3', '3.000000:2'],
      },
    ]);
  });

  it('and as binary BYTES when asked', async () => {
    const res = await two.app.inject({
      method: 'POST',
      url: '/v2/models/two/infer',
      payload: body({ classification: 2, binary_data: true }),
    });
    expect(res.statusCode).toBe(200);
    const headerLength = Number(res.headers['inference-header-content-length']);
    const header = JSON.parse(res.rawPayload.subarray(0, headerLength).toString()) as {
      outputs: Array<{ datatype: string; shape: number[] }>;
    };
    expect(header.outputs[0]).toMatchObject({ datatype: 'BYTES', shape: [1, 2] });
    // BYTES elements: a 4-byte little-endian length, then the bytes.
    const raw = res.rawPayload.subarray(headerLength);
    const first = raw.subarray(4, 4 + raw.readUInt32LE(0)).toString();
    expect(first).toBe('5.000000:1');
  });

  it('refuses a classification that is not a positive integer', async () => {
    for (const k of [0, -1, 1.5, 'three']) {
      const res = await two.app.inject({
        method: 'POST',
        url: '/v2/models/two/infer',
        payload: body({ classification: k }),
      });
      expect(res.statusCode, String(k)).toBe(400);
      expect(res.json<{ error: string }>().error).toBe(
        'output "concat": "classification" must be a positive integer (the number of classes)',
      );
    }
  });
});
