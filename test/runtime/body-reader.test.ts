// Request bodies read into one buffer of their own (http/body-reader.ts,
// request-bodies.ts): aligned for binary tensors so that FP32/INT32 inputs are
// views on the body, copied only when unaligned; the size limit (413) and
// Content-Length checks the fastify parser made before.

import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alignmentPad, BODY_ALIGNMENT, readBody } from '../../src/runtime/http/body-reader.js';
import { decodeRaw } from '../../src/runtime/codec/binary-tensor.js';
import { ruleFor } from '../../src/runtime/codec/json-values.js';
import { RequestBodies } from '../../src/runtime/request-bodies.js';
import type { Fixtures, TestRuntime } from './helpers.js';
import { binaryBody, makeFixtures, startRuntime } from './helpers.js';

const bodies = new RequestBodies();

/** Feeds `chunks` through readBody and resolves with its outcome. */
function read(
  headers: Record<string, string>,
  chunks: Buffer[],
  limit = 1 << 20,
): Promise<{ err: Error | null; body?: Buffer }> {
  const stream = new PassThrough();
  const out = new Promise<{ err: Error | null; body?: Buffer }>((resolve) => {
    readBody(headers, stream, { bodies, limit }, (err, body) => {
      resolve(body === undefined ? { err } : { err, body });
    });
  });
  for (const c of chunks) stream.write(c);
  stream.end();
  return out;
}

const bytes = (n: number, from = 0): Buffer =>
  Buffer.from(Array.from({ length: n }, (_, i) => (from + i) & 0xff));

describe('readBody', () => {
  it('reads a body of known length, in chunks, into a buffer of its own with the data after the header aligned', async () => {
    for (const headerLength of [0, 1, 13, 16, 27]) {
      const payload = bytes(headerLength + 64, 7);
      const { err, body } = await read(
        {
          'content-length': String(payload.length),
          'inference-header-content-length': String(headerLength),
        },
        [payload.subarray(0, 5), payload.subarray(5, 40), payload.subarray(40)],
      );
      expect(err).toBeNull();
      expect(body?.equals(payload)).toBe(true);
      expect(((body?.byteOffset ?? 1) + headerLength) % BODY_ALIGNMENT).toBe(0);
      expect(bodies.isBody(body as Buffer)).toBe(true);
    }
  });

  it('reads a body of unknown length (chunked) the same way', async () => {
    const payload = bytes(100);
    const { err, body } = await read({ 'inference-header-content-length': '5' }, [
      payload.subarray(0, 50),
      payload.subarray(50),
    ]);
    expect(err).toBeNull();
    expect(body?.equals(payload)).toBe(true);
    expect(((body?.byteOffset ?? 1) + 5) % BODY_ALIGNMENT).toBe(0);
  });

  it('pads nothing without a usable inference header length', () => {
    expect(alignmentPad({})).toBe(0);
    expect(alignmentPad({ 'inference-header-content-length': 'abc' })).toBe(0);
    expect(alignmentPad({ 'inference-header-content-length': '-3' })).toBe(0);
    expect(alignmentPad({ 'inference-header-content-length': '3' })).toBe(5);
  });

  it('refuses a Content-Length over the limit before reading, and a chunked body once it passes it', async () => {
    const declared = await read({ 'content-length': '2000' }, [bytes(10)], 1000);
    expect((declared.err as Error & { code: string }).code).toBe('FST_ERR_CTP_BODY_TOO_LARGE');
    const chunked = await read({}, [bytes(600), bytes(600)], 1000);
    expect((chunked.err as Error & { code: string }).code).toBe('FST_ERR_CTP_BODY_TOO_LARGE');
  });

  it('refuses a body shorter or longer than its Content-Length', async () => {
    for (const sent of [10, 30]) {
      const { err } = await read({ 'content-length': '20' }, [bytes(sent)]);
      expect((err as Error & { code: string }).code).toBe('FST_ERR_CTP_INVALID_CONTENT_LENGTH');
    }
  });
});

describe('binary tensors on a body read into a buffer of its own', () => {
  const rule = ruleFor('x', 'float32', 'FP32', 'FP32', 'oip');
  const values = [1.5, -2, 3.25, 4];

  /** A body with the four floats at byte `offset`, as the body reader allocates one. */
  const body = (offset: number): Buffer => {
    const buf = bodies.allocate(0, offset + 16);
    for (let i = 0; i < 4; i++) buf.writeFloatLE(values[i] as number, offset + i * 4);
    return buf.subarray(offset);
  };

  it('views aligned FP32 data in place (no copy), and transfers the whole body', () => {
    const raw = body(8);
    const t = decodeRaw(rule, 'FP32', raw, [1, 4], 4, bodies.isBody(raw));
    const data = t.data as Float32Array;
    expect(Array.from(data)).toEqual(values);
    expect(data.buffer).toBe(raw.buffer);
    expect(data.byteOffset).toBe(raw.byteOffset);
    expect(bodies.transferables([t])).toEqual([raw.buffer]);
  });

  it('copies unaligned FP32 data into a buffer of its own', () => {
    const raw = body(6);
    const t = decodeRaw(rule, 'FP32', raw, [1, 4], 4, bodies.isBody(raw));
    const data = t.data as Float32Array;
    expect(Array.from(data)).toEqual(values);
    expect(data.buffer).not.toBe(raw.buffer);
    expect(data.byteLength).toBe(data.buffer.byteLength);
  });

  it('copies aligned data of a buffer that is not a body of its own (a pooled Buffer is never viewed)', () => {
    const pooled = Buffer.alloc(24);
    const raw = pooled.subarray(8);
    for (let i = 0; i < 4; i++) raw.writeFloatLE(values[i] as number, i * 4);
    expect(bodies.isBody(raw)).toBe(false);
    const t = decodeRaw(rule, 'FP32', raw, [1, 4], 4, bodies.isBody(raw));
    expect((t.data as Float32Array).buffer).not.toBe(raw.buffer);
  });
});

describe('the runtime reading bodies', () => {
  let fx: Fixtures;
  let hpt: TestRuntime;

  beforeAll(async () => {
    fx = await makeFixtures();
    hpt = await startRuntime(fx.halfPlusTwo, { modelName: 'half_plus_two', maxBodyBytes: 4096 });
  }, 120_000);

  afterAll(async () => {
    await hpt?.close();
    await fx?.cleanup();
  });

  /** A binary-extension request for x = values, its JSON header padded to `headerLength` bytes. */
  const request = (
    values: number[],
    headerLength: number,
  ): { payload: Buffer; headers: Record<string, string> } => {
    const x = Buffer.from(new Float32Array(values).buffer);
    const json = JSON.stringify({
      inputs: [
        {
          name: 'x',
          shape: [values.length],
          datatype: 'FP32',
          parameters: { binary_data_size: x.length },
        },
      ],
    });
    return binaryBody(json + ' '.repeat(headerLength - json.length), x);
  };

  it('answers binary requests whatever the header length (aligned or not)', async () => {
    for (const headerLength of [120, 121, 122, 123]) {
      const { payload, headers } = request([1, 2, 5], headerLength);
      const res = await hpt.app.inject({
        method: 'POST',
        url: '/v2/models/half_plus_two/infer',
        payload,
        headers,
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json<{ outputs: { data: number[] }[] }>().outputs[0]?.data).toEqual([2.5, 3, 4.5]);
    }
  });

  it('answers 413 for an oversized body, declared or streamed, and keeps serving', async () => {
    const big = request(new Array<number>(2000).fill(1), 120);
    const declared = await hpt.app.inject({
      method: 'POST',
      url: '/v2/models/half_plus_two/infer',
      payload: big.payload,
      headers: big.headers,
    });
    expect(declared.statusCode).toBe(413);
    expect(declared.json<{ error: string }>().error).toMatch(
      /larger than the 4096-byte limit \(--max-body-bytes\)/,
    );
    const streamed = await hpt.app.inject({
      method: 'POST',
      url: '/v2/models/half_plus_two/infer',
      payload: Readable.from([big.payload.subarray(0, 3000), big.payload.subarray(3000)]),
      headers: big.headers,
    });
    expect(streamed.statusCode).toBe(413);
    expect(streamed.json<{ error: string }>().error).toMatch(/larger than the 4096-byte limit/);
    const { payload, headers } = request([1], 120);
    const ok = await hpt.app.inject({
      method: 'POST',
      url: '/v2/models/half_plus_two/infer',
      payload,
      headers,
    });
    expect(ok.statusCode).toBe(200);
  });
});
