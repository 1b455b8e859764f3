// Request body decoding shared by the HTTP thread (small bodies) and the
// inference workers (large ones): bytes -> validated host tensors.

import { RuntimeError } from '../errors.js';
import type { ModelSignature } from '../models/signature.js';
import { splitBody } from './binary-tensor.js';
import { fastDecodePredict } from './fast-predict.js';
import { JsonScanner } from './json-scanner.js';
import type { OipRequest } from './oip-codec.js';
import { decodeInfer } from './oip-codec.js';
import type { TfServingRequest } from './tfserving-codec.js';
import { decodePredict } from './tfserving-codec.js';

export type DecodeTask =
  | { protocol: 'tfserving'; body: Uint8Array }
  | { protocol: 'oip'; body: Uint8Array; headerLength: string | undefined };

export type Decoded =
  { protocol: 'tfserving'; request: TfServingRequest } | { protocol: 'oip'; request: OipRequest };

function asBuffer(u8: Uint8Array): Buffer {
  return Buffer.isBuffer(u8) ? u8 : Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

/** JSON.parse with messages that say what is wrong (NaN/Infinity are not JSON). */
export function parseJson(buf: Buffer, what: string): unknown {
  if (buf.length === 0)
    throw new RuntimeError('INVALID_JSON', `the ${what} is empty; expected a JSON object`);
  const text = buf.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const hint = /(^|[^A-Za-z"])(NaN|-?Infinity)([^A-Za-z"]|$)/.test(text)
      ? ' (NaN and Infinity are not valid JSON numbers; send finite numbers, or binary tensors for OIP)'
      : '';
    throw new RuntimeError(
      'INVALID_JSON',
      `the ${what} is not valid JSON: ${(err as Error).message}${hint}`,
    );
  }
}

/** One per thread (each worker imports its own copy of this module). */
const scanner = new JsonScanner();

export function decodeBody(task: DecodeTask, sig: ModelSignature): Decoded {
  const body = asBuffer(task.body);
  if (task.protocol === 'tfserving') {
    const request =
      fastDecodePredict(scanner, body, sig) ?? decodePredict(parseJson(body, 'request body'), sig);
    return { protocol: 'tfserving', request };
  }
  if (task.headerLength !== undefined) {
    const { header, rest } = splitBody(body, task.headerLength);
    return {
      protocol: 'oip',
      request: decodeInfer(parseJson(header, 'inference header'), sig, rest),
    };
  }
  return { protocol: 'oip', request: decodeInfer(parseJson(body, 'request body'), sig) };
}
