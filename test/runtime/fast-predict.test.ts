// The fast JSON path for numeric TF Serving bodies: it must give exactly the
// tensor JSON.parse + the general decoder give, and step aside (undefined) on
// anything else, so every malformed body still gets the general path's
// precise 400.

import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../src/runtime/errors.js';
import type { ModelSignature } from '../../src/runtime/models/signature.js';
import { spec } from '../../src/runtime/models/signature.js';
import { decodeBody } from '../../src/runtime/codec/decode.js';
import { parseJson } from '../../src/runtime/codec/parse-json.js';
import { fastDecodePredict } from '../../src/runtime/codec/fast-predict.js';
import { JsonScanner } from '../../src/runtime/codec/json-scanner.js';
import { decodePredict } from '../../src/runtime/codec/tfserving.js';

const sig = (shape: number[], tfDtype?: string): ModelSignature => ({
  name: 'serving_default',
  methodName: 'tensorflow/serving/predict',
  inputs: [spec('x', 'float32', shape, tfDtype)],
  outputs: [spec('y', 'float32', [-1, 1])],
});
const vector = sig([-1, 3]);
const scalarRows = sig([-1]);
const scanner = new JsonScanner();

function fast(body: string, s: ModelSignature = vector): ReturnType<typeof fastDecodePredict> {
  return fastDecodePredict(scanner, Buffer.from(body), s);
}

function general(body: string, s: ModelSignature = vector): ReturnType<typeof decodePredict> {
  return decodePredict(parseJson(Buffer.from(body), 'request body'), s);
}

/** The error decodeBody (fast path first, then the general one) gives for a body. */
function errorOf(body: string, s: ModelSignature = vector): RuntimeError {
  try {
    decodeBody({ protocol: 'tfserving', body: Buffer.from(body) }, s);
  } catch (err) {
    if (err instanceof RuntimeError) return err;
    throw err;
  }
  throw new Error(`no error for ${body}`);
}

function bits(data: unknown): number[] {
  return Array.from(new Uint32Array((data as Float32Array).slice().buffer));
}

describe('fast predict path', () => {
  it('gives bit-identical float32 values to JSON.parse for every number form', () => {
    const numbers = [
      '0',
      '-0',
      '1',
      '-1',
      '0.1',
      '1.5e3',
      '1E-3',
      '2e+2',
      '123456789012345678',
      '0.2350369887426495',
      '0.23503698874264956',
      '-0.0000000000000000000000000000012',
      '1e-45',
      '1.4e-45',
      '7e-46',
      '1.1754942e-38',
      '3.3e38',
      '16777217',
      '0.30000001192092896',
      '0.30000001192092895',
      '0.300000011920928955078125',
      '1.00000005960464477539062',
      '1.000000059604644775390625',
      '1.0000000596046447753906250001',
      '12345678901234567890123',
      '0.000123456789012345678901234',
      '9007199254740993',
      '5e-324',
      '1e22',
      '1e23',
    ];
    const body = JSON.stringify({ instances: [0] }).replace('0', numbers.join(','));
    const f = fast(body, scalarRows);
    const g = general(body, scalarRows);
    expect(f).toBeDefined();
    expect(f?.inputs['x']?.shape).toEqual([numbers.length]);
    expect(bits(f?.inputs['x']?.data)).toEqual(bits(g.inputs['x']?.data));
    // Right at the float32 limit the range check needs the exact double: the general path decides.
    expect(fast('{"instances": [3.4028234663852886e38]}', scalarRows)).toBeUndefined();
    expect(
      decodeBody(
        { protocol: 'tfserving', body: Buffer.from('{"instances": [3.4028234663852886e38]}') },
        scalarRows,
      ).inputs['x']?.shape,
    ).toEqual([1]);
  });

  it('matches JSON.parse on many random full-precision values', () => {
    let state = 7;
    const rand = (): number => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return state / 4294967296;
    };
    const rows = Array.from({ length: 400 }, () => [
      rand(),
      (rand() - 0.5) * 1e6,
      (rand() - 0.5) * Math.pow(10, Math.floor(rand() * 60) - 30),
    ]);
    const body = JSON.stringify({ instances: rows });
    const f = fast(body);
    const g = general(body);
    expect(f?.rows).toBe(400);
    expect(bits(f?.inputs['x']?.data)).toEqual(bits(g.inputs['x']?.data));
  });

  it('matches JSON.parse on random number texts (digit counts, exponents, near-ties)', () => {
    let state = 11;
    const rand = (n: number): number => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return Math.floor((state / 4294967296) * n);
    };
    const digits = (n: number): string =>
      Array.from({ length: n }, () => String(rand(10))).join('');
    const texts: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const int = String(1 + rand(9)) + digits(rand(12));
      const frac = rand(3) === 0 ? '' : `.${digits(1 + rand(20))}`;
      const exp = rand(3) === 0 ? `e${rand(2) ? '-' : ''}${rand(25)}` : '';
      texts.push(`${rand(2) ? '-' : ''}${rand(4) === 0 ? '0' : int}${frac}${exp}`);
    }
    // Decimal forms of exact float32 midpoints, and one digit either side.
    for (let i = 0; i < 2000; i++) {
      const f = Math.fround(rand(1 << 24) / (1 << rand(30)));
      const mid = f + (Math.fround(f * (1 + 2 ** -23)) - f) / 2;
      texts.push(String(mid), mid.toPrecision(17), mid.toPrecision(16));
    }
    const body = `{"instances": [${texts.join(',')}]}`;
    const f = fast(body, scalarRows);
    expect(f).toBeDefined();
    const expected = new Float32Array(texts.map((t) => JSON.parse(t) as number));
    expect(bits(f?.inputs['x']?.data)).toEqual(bits(expected));
  });

  it('reads row and columnar bodies, whitespace, signature_name, and grows past its buffer', () => {
    const rows = Array.from({ length: 2000 }, (_, i) => [i, i + 0.5, -i]);
    const spaced = `\n{ "signature_name" : "serving_default" ,\t"instances" :\r\n ${JSON.stringify(rows, null, 2)} }\n`;
    const r = fast(spaced);
    expect(r?.format).toBe('row');
    expect(r?.inputs['x']?.shape).toEqual([2000, 3]);
    expect(Array.from((r?.inputs['x']?.data as Float32Array).subarray(3, 6))).toEqual([1, 1.5, -1]);
    const c = fast('{"inputs": [[1, 2, 3]], "signature_name": ""}');
    expect(c?.format).toBe('columnar');
    expect(c?.rows).toBe(1);
    // The TF Serving example: scalar instances.
    const h = fast('{"instances": [1.0, 2.0, 5.0]}', scalarRows);
    expect(h?.inputs['x']?.shape).toEqual([3]);
    expect(Array.from(h?.inputs['x']?.data as Float32Array)).toEqual([1, 2, 5]);
  });

  it('returns a buffer of its own (transferable to a worker)', () => {
    const r = fast('{"instances": [[1, 2, 3]]}');
    const data = r?.inputs['x']?.data as Float32Array;
    expect(data.buffer.byteLength).toBe(data.byteLength);
  });

  it('steps aside on every body it does not fully understand', () => {
    const declined = [
      '{"instances": [[1, 2, 3], [4, 5]]}', // ragged rows
      '{"instances": [[1, 2, 3], [4, 5, [6]]]}', // ragged nesting
      '{"instances": [[1, 2, 3], 4]}',
      '{"instances": [1, [2, 3, 4]]}',
      '{"instances": [[1, "x", 3]]}', // wrong dtype
      '{"instances": [[1, true, 3]]}',
      '{"instances": [[1, null, 3]]}',
      '{"instances": [[1, {"b64": "AA=="}, 3]]}',
      '{"instances": [[NaN, 2, 3]]}',
      '{"instances": [[Infinity, 2, 3]]}',
      '{"instances": [[-Infinity, 2, 3]]}',
      '{"instances": [[1e39, 2, 3]]}', // out of float32 range
      '{"instances": [[-3.5e38, 2, 3]]}',
      '{"instances": []}', // empty batch
      '{"instances": [[]]}',
      '{"instances": [[1, 2, 3],]}', // trailing comma
      '{"instances": [[01, 2, 3]]}', // leading zero
      '{"instances": [[1., 2, 3]]}',
      '{"instances": [[.5, 2, 3]]}',
      '{"instances": [[+1, 2, 3]]}',
      '{"instances": [[1e, 2, 3]]}',
      '{"instances": [[-, 2, 3]]}',
      '{"instances": [[1, 2, 3]]',
      '{"instances": [[1, 2, 3]]} x', // trailing garbage
      '{"instances": [[1, 2, 3]], "inputs": [[1, 2, 3]]}', // both
      '{"instances": [[1, 2, 3]], "instances": [[1, 2, 3]]}', // duplicate
      '{"instance": [[1, 2, 3]]}', // unknown key
      '{"instances": [[1, 2, 3]], "extra": 1}',
      '{"instan\\u0063es": [[1, 2, 3]]}', // escapes
      '{"instances": {"x": [[1, 2, 3]]}}', // named inputs
      '{"instances": 5}',
      '{"signature_name": "other", "instances": [[1, 2, 3]]}',
      '{"signature_name": 5, "instances": [[1, 2, 3]]}',
      '{"instances": [[1, 2]]}', // shape the model refuses
      '{"instances": [1, 2, 3]}',
      '[[1, 2, 3]]',
      '',
      '\uFEFF{"instances": [[1, 2, 3]]}',
    ];
    for (const body of declined) expect(fast(body), body).toBeUndefined();
  });

  it('leaves models it cannot serve to the general path', () => {
    const body = '{"instances": [[1, 2, 3]]}';
    expect(fast(body, sig([-1, 3], 'DT_HALF'))).toBeUndefined();
    const ints: ModelSignature = { ...vector, inputs: [spec('x', 'int32', [-1, 3])] };
    expect(fast(body, ints)).toBeUndefined();
    const two: ModelSignature = {
      ...vector,
      inputs: [spec('a', 'float32', [-1, 3]), spec('b', 'float32', [-1, 3])],
    };
    expect(fast(body, two)).toBeUndefined();
  });

  it('still gives the precise errors for malformed bodies through decodeBody', () => {
    const cases: [string, RegExp][] = [
      [
        '{"instances": [[1, 2, 3], [4, 5]]}',
        /input "x" element \[1\] has 2 elements but 3 were expected \(ragged array\)/,
      ],
      [
        '{"instances": [[1, "x", 3]]}',
        /input "x" element \[0\]\[1\] is the string "x"; expected a number \(DT_FLOAT\)/,
      ],
      // TF Serving's tokens are taken (test/runtime/non-finite.test.ts); malformed around them is not.
      ['{"instances": [[NaN, 2, 3]', /not valid JSON.*NaN and Infinity are not JSON numbers/],
      ['{"instances": []}', /"instances" is empty/],
      ['{"instances": [[1e39, 2, 3]]}', /= 1e\+39 is out of range for DT_FLOAT/],
      ['{"instances": [[1, 2]]}', /input "x" has shape \[1,2\] but the model expects \[-1,3\]/],
      ['{"instances": [[1, 2, 3]], "inputs": [[1, 2, 3]]}', /both "instances"/],
      ['{"instances": [[1, 2, 3]]', /not valid JSON/],
      ['', /empty/],
    ];
    for (const [body, message] of cases) {
      const err = errorOf(body);
      expect(err.status, body).toBe(400);
      expect(err.message, body).toMatch(message);
    }
    const other = errorOf('{"signature_name": "other", "instances": [[1, 2, 3]]}');
    expect(other.code).toBe('SIGNATURE_NOT_FOUND');
  });
});
