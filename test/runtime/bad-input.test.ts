// Bad input: each kind gets a 4xx with a message that says what is wrong, and
// the server keeps answering correctly afterwards.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fixtures, TestRuntime } from './helpers.js';
import { makeFixtures, metricValue, startRuntime } from './helpers.js';

let fx: Fixtures;
let two: TestRuntime;
let dtypes: TestRuntime;

beforeAll(async () => {
  fx = await makeFixtures();
  [two, dtypes] = await Promise.all([
    startRuntime(fx.twoInTwoOut, { modelName: 'two', maxBodyBytes: 4096 }),
    startRuntime(fx.dtypes, { modelName: 'dtypes' }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([two?.close(), dtypes?.close()]);
  await fx?.cleanup();
});

const TF = '/v1/models/two:predict';
const OIP = '/v2/models/two/infer';
const good = { instances: [{ a: [1, 2, 3], b: [4, 5] }] };

interface Case {
  kind: string;
  rt?: () => TestRuntime;
  method?: 'GET' | 'POST';
  url: string;
  body: string | object;
  headers?: Record<string, string>;
  status: number;
  code: string;
  message: RegExp;
}

const oipInput = (over: object): object => ({
  inputs: [
    { name: 'a', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3], ...over },
    { name: 'b', shape: [1, 2], datatype: 'FP32', data: [1, 2] },
  ],
});

const cases: Case[] = [
  {
    kind: 'wrong shape',
    url: TF,
    body: { instances: [{ a: [1, 2], b: [4, 5] }] },
    status: 400,
    code: 'INVALID_INPUT',
    message: /input "a" has shape \[1,2\] but the model expects \[-1,3\]/,
  },
  {
    kind: 'wrong shape (OIP)',
    url: OIP,
    body: oipInput({ shape: [3], data: [1, 2, 3] }),
    status: 400,
    code: 'INVALID_INPUT',
    message: /input "a" has shape \[3\] but the model expects \[-1,3\]/,
  },
  {
    kind: 'wrong dtype (string for a float)',
    url: TF,
    body: { instances: [{ a: [1, 'x', 3], b: [4, 5] }] },
    status: 400,
    code: 'INVALID_INPUT',
    message: /input "a" element \[0\]\[1\] is the string "x"; expected a number \(DT_FLOAT\)/,
  },
  {
    kind: 'wrong datatype (OIP)',
    url: OIP,
    body: oipInput({ datatype: 'INT32' }),
    status: 400,
    code: 'INVALID_INPUT',
    message: /input "a" has datatype INT32 but the model expects FP32/,
  },
  {
    kind: 'unknown datatype (OIP)',
    url: OIP,
    body: oipInput({ datatype: 'FLOAT' }),
    status: 400,
    code: 'INVALID_INPUT',
    message: /datatype "FLOAT" is not an Open Inference Protocol datatype/,
  },
  {
    kind: 'missing input',
    url: TF,
    body: { inputs: { a: [[1, 2, 3]] } },
    status: 400,
    code: 'INVALID_INPUT',
    message: /missing input "b" \(DT_FLOAT \[-1,2\]\)/,
  },
  {
    kind: 'unknown input',
    url: TF,
    body: { instances: [{ a: [1, 2, 3], b: [4, 5], c: [1] }] },
    status: 400,
    code: 'INVALID_INPUT',
    message: /unknown input "c"; the model's inputs are "a", "b"/,
  },
  {
    kind: 'both instances and inputs',
    url: TF,
    body: { instances: [], inputs: {} },
    status: 400,
    code: 'INVALID_INPUT',
    message: /both "instances" \(row format\) and "inputs" \(columnar format\)/,
  },
  {
    kind: 'neither instances nor inputs',
    url: TF,
    body: { instance: [] },
    status: 400,
    code: 'INVALID_INPUT',
    message: /neither "instances" \(row format\) nor "inputs"/,
  },
  {
    kind: 'ragged rows',
    url: TF,
    body: {
      instances: [
        { a: [1, 2, 3], b: [4, 5] },
        { a: [1, 2], b: [4, 5] },
      ],
    },
    status: 400,
    code: 'INVALID_INPUT',
    message: /input "a" element \[1\] has 2 elements but 3 were expected \(ragged array\)/,
  },
  {
    kind: 'ragged nesting (OIP nested data)',
    url: OIP,
    body: oipInput({
      shape: [2, 3],
      data: [
        [1, 2, 3],
        [4, 5],
      ],
    }),
    status: 400,
    code: 'INVALID_INPUT',
    message: /ragged array/,
  },
  {
    kind: 'non-JSON',
    url: TF,
    body: '{"instances": [1, 2',
    status: 400,
    code: 'INVALID_JSON',
    message: /the request body is not valid JSON/,
  },
  {
    kind: 'empty body',
    url: TF,
    body: '',
    status: 400,
    code: 'INVALID_JSON',
    message: /the request body is empty/,
  },
  {
    kind: 'oversized body (413)',
    url: TF,
    body: { instances: Array.from({ length: 400 }, () => ({ a: [1.5, 2.5, 3.5], b: [4, 5] })) },
    status: 413,
    code: 'BODY_TOO_LARGE',
    message: /larger than the 4096-byte limit \(--max-body-bytes\)/,
  },
  {
    kind: 'unknown model (404)',
    url: '/v1/models/nope:predict',
    body: good,
    status: 404,
    code: 'MODEL_NOT_FOUND',
    message: /model "nope" is not served here; this runtime serves "two"/,
  },
  {
    kind: 'unknown version (404)',
    url: '/v1/models/two/versions/9:predict',
    body: good,
    status: 404,
    code: 'VERSION_NOT_FOUND',
    message: /model "two" has no version "9"; this runtime serves version "1"/,
  },
  {
    kind: 'unknown version (OIP, 404)',
    url: '/v2/models/two/versions/9/infer',
    body: oipInput({}),
    status: 404,
    code: 'VERSION_NOT_FOUND',
    message: /has no version "9"/,
  },
  {
    kind: 'b64 where not allowed',
    url: TF,
    body: { instances: [{ a: [{ b64: 'AAAA' }, 2, 3], b: [4, 5] }] },
    status: 400,
    code: 'INVALID_INPUT',
    message: /\{"b64": \.\.\.\} is only allowed for DT_STRING inputs, and this input is DT_FLOAT/,
  },
  {
    kind: 'NaN token in an integer place (TF Serving takes the token, the type refuses it)',
    rt: () => dtypes,
    url: '/v1/models/dtypes:predict',
    body: '{"inputs": {"i32": [[1, NaN]]}}',
    status: 400,
    code: 'INVALID_INPUT',
    message: /element \[0\]\[1\] is NaN; expected an integer/,
  },
  {
    kind: 'Infinity literal (OIP)',
    url: OIP,
    body: '{"inputs": [{"name": "a", "shape": [1, 3], "datatype": "FP32", "data": [Infinity, 1, 2]}]}',
    status: 400,
    code: 'INVALID_JSON',
    message: /the Open Inference Protocol in binary tensors only/,
  },
  {
    kind: 'float out of FP32 range',
    url: TF,
    body: { instances: [{ a: [1e39, 1, 2], b: [1, 2] }] },
    status: 400,
    code: 'INVALID_INPUT',
    message: /= 1e\+39 is out of range for DT_FLOAT/,
  },
  {
    kind: 'empty batch',
    url: TF,
    body: { instances: [] },
    status: 400,
    code: 'INVALID_INPUT',
    message: /"instances" is empty: the batch has no instances/,
  },
  {
    kind: 'empty batch (OIP shape 0)',
    url: OIP,
    body: {
      inputs: [
        { name: 'a', shape: [0, 3], datatype: 'FP32', data: [] },
        { name: 'b', shape: [0, 2], datatype: 'FP32', data: [] },
      ],
    },
    status: 400,
    code: 'INVALID_INPUT',
    message: /input "a" is an empty batch/,
  },
  {
    kind: 'wrong Content-Type',
    url: TF,
    body: '<instances/>',
    headers: { 'content-type': 'application/xml' },
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message: /Content-Type application\/xml is not supported/,
  },
  {
    kind: 'datatype/data mismatch (bool for FP32)',
    url: OIP,
    body: oipInput({ data: [true, 1, 2] }),
    status: 400,
    code: 'INVALID_INPUT',
    message: /input "a" element \[0\] is boolean true; expected a number \(FP32\)/,
  },
  {
    kind: 'shape/data length mismatch',
    url: OIP,
    body: oipInput({ data: [1, 2] }),
    status: 400,
    code: 'INVALID_INPUT',
    message: /"shape" \[1,3\] needs 3 elements but "data" has 2/,
  },
  {
    kind: 'integer out of range (UINT8)',
    rt: () => dtypes,
    url: '/v2/models/dtypes/infer',
    body: { inputs: [{ name: 'u8', shape: [1, 2], datatype: 'UINT8', data: [256, 0] }] },
    status: 400,
    code: 'INVALID_INPUT',
    message: /= 256 is out of range for UINT8 \(0\.\.255\)/,
  },
  {
    kind: 'INT64 past 2^53 (quoted as what arrived, not as rounded digits)',
    rt: () => dtypes,
    url: '/v1/models/dtypes:predict',
    body: '{"inputs": {"i64": [[9223372036854775807, 1]]}}',
    status: 400,
    code: 'INVALID_INPUT',
    message:
      /element \[0\]\[0\] = about 9\.223e\+18 is out of range for DT_INT64 \(-2147483648\.\.2147483647\)/,
  },
  {
    kind: 'a "shape" of 1,000 dimensions (OIP): refused, not echoed back',
    url: OIP,
    body: oipInput({ shape: Array.from({ length: 1000 }, () => 1), data: [1, 2, 3] }),
    status: 400,
    code: 'INVALID_INPUT',
    message: /^input "a": "shape" has 1000 dimensions; a tensor has at most 32$/,
  },
  {
    kind: 'fraction for an integer',
    rt: () => dtypes,
    url: '/v1/models/dtypes:predict',
    body: { inputs: { i32: [[1.5, 2]] } },
    status: 400,
    code: 'INVALID_INPUT',
    message: /is number 1\.5; expected an integer \(DT_INT32\)/,
  },
  {
    kind: 'unknown requested output',
    url: OIP,
    body: { ...oipInput({}), outputs: [{ name: 'nope' }] },
    status: 400,
    code: 'INVALID_INPUT',
    message: /unknown output "nope"; the model's outputs are "sum", "concat"/,
  },
  {
    kind: 'binary size does not match shape',
    url: OIP,
    body: '',
    headers: {},
    status: 400,
    code: 'INVALID_INPUT',
    message: /binary_data_size is 8 bytes but shape \[1,3\] of FP32 needs 12/,
  },
  {
    kind: 'binary header length past the body',
    url: OIP,
    body: '{}',
    headers: { 'inference-header-content-length': '99' },
    status: 400,
    code: 'INVALID_INPUT',
    message: /Inference-Header-Content-Length is 99 but the body has only 2 bytes/,
  },
  {
    kind: 'invalid timeout parameter',
    url: OIP,
    body: { ...oipInput({}), parameters: { timeout: -5 } },
    status: 400,
    code: 'INVALID_INPUT',
    message: /parameter "timeout" must be a positive integer \(microseconds\)/,
  },
  {
    kind: 'unknown signature',
    url: TF,
    body: { ...good, signature_name: 'predict_images' },
    status: 400,
    code: 'SIGNATURE_NOT_FOUND',
    message: /serving signature "predict_images" not found; this model serves "serving_default"/,
  },
  {
    kind: 'malformed path',
    method: 'GET',
    url: '/v1/models/two/versions',
    body: '',
    status: 404,
    code: 'NOT_FOUND',
    message: /malformed request path/,
  },
];

// The binary case needs a real binary body.
const binaryCase = cases.find((c) => c.kind === 'binary size does not match shape') as Case;
{
  const header = Buffer.from(
    JSON.stringify({
      inputs: [
        { name: 'a', shape: [1, 3], datatype: 'FP32', parameters: { binary_data_size: 8 } },
        { name: 'b', shape: [1, 2], datatype: 'FP32', data: [1, 2] },
      ],
    }),
  );
  binaryCase.body = Buffer.concat([header, Buffer.alloc(8)]).toString('latin1');
  binaryCase.headers = {
    'content-type': 'application/octet-stream',
    'inference-header-content-length': String(header.length),
  };
}

describe('bad input', () => {
  it('covers at least 15 distinct kinds', () => {
    expect(new Set(cases.map((c) => c.kind)).size).toBeGreaterThanOrEqual(15);
  });

  it.each(cases)('$kind -> $status $code', async (c) => {
    const rt = c.rt?.() ?? two;
    const payload =
      typeof c.body === 'string' ? Buffer.from(c.body, 'latin1') : JSON.stringify(c.body);
    const res = await rt.app.inject({
      method: c.method ?? 'POST',
      url: c.url,
      payload: c.method === 'GET' ? undefined : payload,
      headers: { 'content-type': 'application/json', ...c.headers },
    });
    expect(res.statusCode, res.body).toBe(c.status);
    expect(res.headers['tensorfleet-error-code']).toBe(c.code);
    const body = res.json<{ error: string }>();
    expect(Object.keys(body)).toEqual(['error']);
    expect(body.error).toMatch(c.message);
  });

  it('keeps serving correctly after all of them, and counted them by status code', async () => {
    const res = await two.app.inject({ method: 'POST', url: TF, payload: good });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ predictions: [{ sum: [15], concat: [1, 2, 3, 4, 5] }] });
    const ready = await two.app.inject({ method: 'GET', url: '/v2/health/ready' });
    expect(ready.statusCode).toBe(200);
    expect(
      await metricValue(two.metrics, 'tensorfleet_runtime_requests_total', {
        protocol: 'tfserving',
        code: '400',
      }),
    ).toBeGreaterThanOrEqual(8);
    expect(
      await metricValue(two.metrics, 'tensorfleet_runtime_requests_total', {
        protocol: 'tfserving',
        code: '413',
      }),
    ).toBe(1);
    expect(await metricValue(two.metrics, 'tensorfleet_runtime_inflight_requests')).toBe(0);
  });

  it('caps what an error quotes of the request', async () => {
    const name = 'n'.repeat(3000);
    const res = await two.app.inject({
      method: 'POST',
      url: TF,
      payload: JSON.stringify({ inputs: { [name]: [1] } }),
      headers: { 'content-type': 'application/json' },
    });
    expect(res.statusCode).toBe(400);
    const { error } = res.json<{ error: string }>();
    expect(error.length).toBeLessThan(1100);
    expect(error).toMatch(/^unknown input "n+\.\.\. \(\d+ more characters\)$/);
  });

  it('does not count requests for another model or version as its own', async () => {
    const count = async () =>
      (await metricValue(two.metrics, 'tensorfleet_runtime_requests_total', {
        protocol: 'tfserving',
        code: '404',
      })) ?? 0;
    const before = await count();
    for (const url of ['/v1/models/other:predict', '/v1/models/two/versions/99:predict']) {
      const res = await two.app.inject({ method: 'POST', url, payload: good });
      expect(res.statusCode, url).toBe(404);
    }
    expect(await count()).toBe(before);
  });
});
