// Request body decoding shared by the HTTP thread (small bodies) and the
// workers (large ones): bytes -> a protocol's validated request. Each
// protocol's body decodes to that protocol's request type, so callers take
// what the codec checked without checking it again.

import type { ModelSignature } from '../models/signature.js';
import { splitBody } from './binary-tensor.js';
import { fastDecodePredict } from './fast-predict.js';
import { JsonScanner } from './json-scanner.js';
import type { OipRequest } from './oip.js';
import { decodeInfer } from './oip.js';
import { parseJson, parseTfServingJson } from './parse-json.js';
import type { TfServingRequest } from './tfserving.js';
import { decodePredict } from './tfserving.js';

/** What each protocol's body decodes to. */
export interface DecodedRequests {
  tfserving: TfServingRequest;
  oip: OipRequest;
}

export type Protocol = keyof DecodedRequests;

/** One body to decode (structured-clone safe: it may go to a worker). */
export interface DecodeTask<P extends Protocol = Protocol> {
  protocol: P;
  body: Uint8Array;
  /**
   * The Open Inference Protocol's Inference-Header-Content-Length: the body
   * is the binary extension's, its JSON header this long.
   */
  headerLength?: string | undefined;
}

/** Any protocol's decoded request. */
export type DecodedRequest = DecodedRequests[Protocol];

function asBuffer(u8: Uint8Array): Buffer {
  return Buffer.isBuffer(u8) ? u8 : Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

/** One per thread (each worker imports its own copy of this module). */
const scanner = new JsonScanner();

const decoders: {
  [P in Protocol]: (
    task: DecodeTask<P>,
    sig: ModelSignature,
    inPlace: boolean,
  ) => DecodedRequests[P];
} = {
  tfserving: (task, sig) => {
    const body = asBuffer(task.body);
    return fastDecodePredict(scanner, body, sig) ?? decodePredict(parseTfServingJson(body), sig);
  },
  oip: (task, sig, inPlace) => {
    const body = asBuffer(task.body);
    if (task.headerLength === undefined) return decodeInfer(parseJson(body, 'request body'), sig);
    const { header, rest } = splitBody(body, task.headerLength);
    return decodeInfer(parseJson(header, 'inference header'), sig, rest, inPlace);
  },
};

/**
 * Decodes one body against the model's signature. `inPlace`: the body's
 * buffer holds this body alone (request-bodies.ts), so binary tensors may
 * view it rather than copy it.
 */
export function decodeBody<P extends Protocol>(
  task: DecodeTask<P>,
  sig: ModelSignature,
  inPlace = false,
): DecodedRequests[P] {
  const decode = decoders[task.protocol];
  return decode(task, sig, inPlace);
}
