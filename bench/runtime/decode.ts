// (2) Decode cost per request: JSON (TF Serving row format, one instance) and
// the OIP binary tensor extension, through the same code the server runs;
// plus the two costs the naive handler pays (JSON.parse, Array.prototype.flat).

import type { ModelSignature } from '../../src/runtime/models/signature.js';
import { decodeBody } from '../../src/runtime/codec/decode.js';
import { parseJson } from '../../src/runtime/codec/parse-json.js';
import { decodePredict } from '../../src/runtime/codec/tfserving.js';

export interface DecodeResult {
  jsonParseUs: number;
  arrayFlatUs: number;
  /** What the runtime spends: the fast numeric path for this body. */
  jsonDecodeUs: number;
  /** JSON.parse plus the general decoder (the path for bodies the fast one does not take). */
  jsonGeneralUs: number;
  binaryDecodeUs: number;
  jsonBytes: number;
  binaryBytes: number;
}

export function instance(shape: number[], seed = 1): number[] | number[][][] {
  const dims = shape.slice(1).map((d) => (d < 0 ? 1 : d));
  const size = dims.reduce((a, b) => a * b, 1);
  // Full-precision values (about 19 characters each in JSON), like real client
  // payloads: one MLP instance is about 16 KB.
  let state = seed >>> 0;
  const flat = Array.from({ length: size }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  });
  if (dims.length <= 1) return flat;
  // Nest as the model expects (e.g. [224][224][3]).
  const nest = (offset: number, depth: number): unknown => {
    const d = dims[depth] as number;
    if (depth === dims.length - 1) return flat.slice(offset, offset + d);
    const inner = dims.slice(depth + 1).reduce((a, b) => a * b, 1);
    return Array.from({ length: d }, (_, k) => nest(offset + k * inner, depth + 1));
  };
  return nest(0, 0) as number[][][];
}

export function jsonBody(sig: ModelSignature): Buffer {
  const input = sig.inputs[0];
  if (input === undefined) throw new Error('no input');
  return Buffer.from(JSON.stringify({ instances: [instance(input.shape)] }));
}

export function binaryBody(sig: ModelSignature): { body: Buffer; headerLength: number } {
  const input = sig.inputs[0];
  if (input === undefined) throw new Error('no input');
  const dims = [1, ...input.shape.slice(1).map((d) => (d < 0 ? 1 : d))];
  const size = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = (((i + 1) * 7919) % 1000) / 1000;
  const header = Buffer.from(
    JSON.stringify({
      inputs: [
        {
          name: input.name,
          shape: dims,
          datatype: 'FP32',
          parameters: { binary_data_size: data.byteLength },
        },
      ],
      outputs: [{ name: sig.outputs[0]?.name, parameters: { binary_data: true } }],
    }),
  );
  return { body: Buffer.concat([header, Buffer.from(data.buffer)]), headerLength: header.length };
}

function timeUs(fn: () => void, seconds: number): number {
  for (let i = 0; i < 20; i++) fn();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    fn();
    n++;
  }
  return ((performance.now() - start) * 1000) / n;
}

export function decodeCosts(sig: ModelSignature, seconds: number): DecodeResult {
  const json = jsonBody(sig);
  const text = json.toString('utf8');
  const parsed = JSON.parse(text) as { instances: unknown[] };
  const { body, headerLength } = binaryBody(sig);
  return {
    jsonParseUs: timeUs(() => {
      JSON.parse(text);
    }, seconds),
    arrayFlatUs: timeUs(() => (parsed.instances as unknown[][]).flat(Infinity), seconds),
    jsonDecodeUs: timeUs(() => decodeBody({ protocol: 'tfserving', body: json }, sig), seconds),
    jsonGeneralUs: timeUs(() => decodePredict(parseJson(json, 'request body'), sig), seconds),
    binaryDecodeUs: timeUs(
      () => decodeBody({ protocol: 'oip', body, headerLength: String(headerLength) }, sig),
      seconds,
    ),
    jsonBytes: json.length,
    binaryBytes: body.length,
  };
}
