// Values JSON cannot carry as they are. NaN, Infinity and -Infinity: TF
// Serving's REST API takes them as bare tokens in requests and writes them
// in responses; the Open Inference Protocol's JSON cannot carry them (binary
// tensors can). BYTES that are not UTF-8: base64 objects in TF Serving's
// answers, refused in OIP JSON (binary output carries them).

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { rewriteNonFinite } from '../../src/runtime/codec/parse-json.js';
import { NON_FINITE_TOKENS, formatFlat } from '../../src/runtime/codec/json-values.js';
import type { Fixtures, TestRuntime } from './helpers.js';
import { makeFixtures, startRuntime } from './helpers.js';

let fx: Fixtures;
let hpt: TestRuntime;
let dtypes: TestRuntime;

beforeAll(async () => {
  fx = await makeFixtures();
  [hpt, dtypes] = await Promise.all([
    startRuntime(fx.halfPlusTwo, { modelName: 'hpt' }),
    startRuntime(fx.dtypes, { modelName: 'dtypes' }),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all([hpt?.close(), dtypes?.close()]);
  await fx?.cleanup();
});

const post = (rt: TestRuntime, url: string, payload: string) =>
  rt.app.inject({ method: 'POST', url, payload, headers: { 'content-type': 'application/json' } });

describe('NaN and Infinity', () => {
  it('TF Serving: bare tokens in rows and columns are the values they name, and are written back', async () => {
    for (const body of [
      '{"instances": [NaN, Infinity, -Infinity, 1.0]}',
      '{"inputs": {"x": [NaN,Infinity , -Infinity,1.0]}}',
      '{"signature_name":"serving_default","instances":[NaN,Infinity,-Infinity,1]}',
    ]) {
      const res = await post(hpt, '/v1/models/hpt:predict', body);
      expect(res.statusCode, body).toBe(200);
      // 0.5 * x + 2, written with TF Serving's tokens.
      expect(res.body.replace(/\s/g, '')).toMatch(
        /^\{"(predictions|outputs)":\[NaN,Infinity,-Infinity,2\.5\]\}$/,
      );
    }
  });

  it('TF Serving: where an integer or a string goes, a token is refused by name', async () => {
    const int = await post(dtypes, '/v1/models/dtypes:predict', '{"inputs": {"i32": [[NaN, 2]]}}');
    expect(int.statusCode).toBe(400);
    expect(int.json<{ error: string }>().error).toMatch(
      /input "i32" element \[0\]\[0\] is NaN; expected an integer \(DT_INT32\)/,
    );
    const str = await post(dtypes, '/v1/models/dtypes:predict', '{"inputs": {"text": [Infinity]}}');
    expect(str.statusCode).toBe(400);
    expect(str.json<{ error: string }>().error).toMatch(/is Infinity; expected a string/);
  });

  it('the words inside strings stay words, and malformed JSON stays malformed', async () => {
    const res = await post(dtypes, '/v1/models/dtypes:predict', '{"inputs": {"x": NaNa}}');
    expect(res.statusCode).toBe(400);
    expect(res.json<{ error: string }>().error).toMatch(/not valid JSON/);
    expect(rewriteNonFinite('{"a": "NaN", "b": "x\\"Infinity"}')).toBeUndefined();
    expect(rewriteNonFinite('[NaN, -Infinity, Infinity]')).toBe(
      '["\\u0000NaN", "\\u0000-Infinity", "\\u0000Infinity"]',
    );
  });

  it('no valid JSON is ever rewritten, and every token survives the round trip', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => rewriteNonFinite(JSON.stringify(v)) === undefined),
    );
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.double({ noNaN: true, noDefaultInfinity: true }),
            fc.constantFrom(NaN, Infinity, -Infinity),
          ),
        ),
        (values) => {
          const text = `[${values.map((v) => (Number.isFinite(v) ? JSON.stringify(v) : String(v))).join(',')}]`;
          const back = (JSON.parse(rewriteNonFinite(text) ?? text) as unknown[]).map((v) =>
            typeof v === 'string' ? NON_FINITE_TOKENS[v] : v,
          );
          expect(back).toEqual(values.map((v) => (Object.is(v, -0) ? 0 : v)));
        },
      ),
    );
  });

  it('OIP JSON: refused with a message that says how to send them', async () => {
    const res = await post(
      hpt,
      '/v2/models/hpt/infer',
      '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[NaN]}]}',
    );
    expect(res.statusCode).toBe(400);
    expect(res.json<{ error: string }>().error).toMatch(
      /the Open Inference Protocol in binary tensors only/,
    );
  });
});

describe('BYTES that are not UTF-8, in JSON answers', () => {
  const t = {
    dtype: 'string' as const,
    shape: [2],
    data: [Uint8Array.from([0x6f, 0x6b]), Uint8Array.from([0xff, 0x00])],
  };

  it('TF Serving: written as a base64 object, its form for bytes', () => {
    expect(formatFlat(t, { b64Strings: false })).toBe('["ok",{"b64":"/wA="}]');
  });

  it('OIP: refused with the output named and the way to get it (binary data)', () => {
    expect(() => formatFlat(t, { b64Strings: false, refuseNonUtf8: 'text_bytes' })).toThrow(
      /output "text_bytes" element 1 holds bytes that are not UTF-8, which a JSON string cannot carry; request it as binary data/,
    );
  });
});
