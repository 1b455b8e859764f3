// Content-Encoding on requests (gzip and deflate inflated, the body limit on
// the inflated size, other encodings refused) and Accept-Encoding: gzip on
// answers, as tritonclient uses them with request/response compression.

import { gunzipSync, gzipSync, deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { acceptsGzip } from '../../src/runtime/http/compression.js';
import type { Fixtures, TestRuntime } from './helpers.js';
import { makeFixtures, startRuntime } from './helpers.js';

let fx: Fixtures;
let rt: TestRuntime;

beforeAll(async () => {
  fx = await makeFixtures();
  rt = await startRuntime(fx.halfPlusTwo, { modelName: 'hpt', maxBodyBytes: 64 * 1024 });
}, 60_000);

afterAll(async () => {
  await rt?.close();
  await fx?.cleanup();
});

const post = (url: string, payload: Buffer, headers: Record<string, string>) =>
  rt.app.inject({ method: 'POST', url, payload, headers });

const predictBody = Buffer.from(JSON.stringify({ instances: [1, 2, 5] }));
const inferBody = Buffer.from(
  JSON.stringify({ inputs: [{ name: 'x', shape: [3], datatype: 'FP32', data: [1, 2, 5] }] }),
);

describe('request Content-Encoding', () => {
  for (const [encoding, compress] of [
    ['gzip', gzipSync],
    ['deflate', deflateSync],
    ['GZip', gzipSync],
  ] as const) {
    it(`${encoding}: both protocols answer as for the plain body`, async () => {
      const tf = await post('/v1/models/hpt:predict', compress(predictBody), {
        'content-type': 'application/json',
        'content-encoding': encoding,
      });
      expect(tf.statusCode, tf.body).toBe(200);
      expect(tf.json()).toEqual({ predictions: [2.5, 3, 4.5] });
      const oip = await post('/v2/models/hpt/infer', compress(inferBody), {
        'content-type': 'application/json',
        'content-encoding': encoding,
      });
      expect(oip.statusCode, oip.body).toBe(200);
      expect(oip.json<{ outputs: Array<{ data: number[] }> }>().outputs[0]?.data).toEqual([
        2.5, 3, 4.5,
      ]);
    });
  }

  it('gzip with binary tensors: the header length counts the inflated body', async () => {
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'x', shape: [3], datatype: 'FP32', parameters: { binary_data_size: 12 } }],
      }),
    );
    const data = Buffer.from(new Float32Array([1, 2, 5]).buffer);
    const res = await post('/v2/models/hpt/infer', gzipSync(Buffer.concat([header, data])), {
      'content-type': 'application/octet-stream',
      'content-encoding': 'gzip',
      'inference-header-content-length': String(header.length),
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<{ outputs: Array<{ data: number[] }> }>().outputs[0]?.data).toEqual([
      2.5, 3, 4.5,
    ]);
  });

  it('a compression bomb stops at the body limit with 413, and the runtime goes on', async () => {
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const res = await post('/v1/models/hpt:predict', bomb, {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    });
    expect(res.statusCode).toBe(413);
    expect(res.json<{ error: string }>().error).toMatch(
      /inflates to more than the 65536-byte limit/,
    );
    const after = await post('/v1/models/hpt:predict', predictBody, {
      'content-type': 'application/json',
    });
    expect(after.statusCode).toBe(200);
  });

  it('other encodings get 415, a corrupt body 400', async () => {
    for (const encoding of ['br', 'zstd', 'gzip, br', 'compress']) {
      const res = await post('/v1/models/hpt:predict', predictBody, {
        'content-type': 'application/json',
        'content-encoding': encoding,
      });
      expect(res.statusCode, encoding).toBe(415);
      expect(res.json<{ error: string }>().error).toContain('send gzip, deflate or identity');
    }
    const corrupt = await post('/v1/models/hpt:predict', Buffer.from('not gzip at all'), {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    });
    expect(corrupt.statusCode).toBe(400);
    expect(corrupt.json<{ error: string }>().error).toMatch(/the gzip request body is corrupt/);
  });
});

describe('Accept-Encoding on answers', () => {
  const many = Buffer.from(JSON.stringify({ instances: Array.from({ length: 500 }, (_, i) => i) }));

  it('gzip when asked and the answer is worth it; plain otherwise', async () => {
    const zipped = await post('/v1/models/hpt:predict', many, {
      'content-type': 'application/json',
      'accept-encoding': 'deflate, gzip;q=0.8',
    });
    expect(zipped.statusCode).toBe(200);
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers['vary']).toBe('accept-encoding');
    const predictions = (
      JSON.parse(gunzipSync(zipped.rawPayload).toString()) as { predictions: number[] }
    ).predictions;
    expect(predictions).toHaveLength(500);
    expect(predictions[10]).toBe(7);

    for (const accept of [undefined, 'identity', 'gzip;q=0', 'br']) {
      const plain = await post('/v1/models/hpt:predict', many, {
        'content-type': 'application/json',
        ...(accept === undefined ? {} : { 'accept-encoding': accept }),
      });
      expect(plain.headers['content-encoding'], String(accept)).toBeUndefined();
      expect(plain.json<{ predictions: number[] }>().predictions).toHaveLength(500);
    }
    // A small answer is not worth compressing.
    const small = await post('/v1/models/hpt:predict', predictBody, {
      'content-type': 'application/json',
      'accept-encoding': 'gzip',
    });
    expect(small.headers['content-encoding']).toBeUndefined();
  });

  it('reads Accept-Encoding as HTTP defines it', () => {
    expect(acceptsGzip('gzip')).toBe(true);
    expect(acceptsGzip('GZIP;q=0.5, br')).toBe(true);
    expect(acceptsGzip('*')).toBe(true);
    expect(acceptsGzip('x-gzip')).toBe(true);
    expect(acceptsGzip('gzip;q=0')).toBe(false);
    expect(acceptsGzip('br, deflate')).toBe(false);
    expect(acceptsGzip('')).toBe(false);
    expect(acceptsGzip(undefined)).toBe(false);
  });
});
