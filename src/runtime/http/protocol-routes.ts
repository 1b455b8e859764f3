// What the two protocols' route plugins share: the options they receive,
// the `protocol` route config that request metrics read, and the request body
// and its content type. Model/version matching and admission are every
// protocol's, HTTP and gRPC: ../admission.ts.

import type { FastifyRequest } from 'fastify';
import type { Protocol } from '../codec/decode.js';
import { RuntimeError } from '../errors.js';
import type { QualityTracker } from '../quality/tracker.js';
import type { ServedModels } from '../served-models.js';

export interface ProtocolOptions {
  /** The served models: which model and version each request goes to. */
  models: ServedModels;
  /** Present when quality tracking is on: predictions are recorded for feedback. */
  quality: QualityTracker | undefined;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on inference routes: requests are counted and timed under this protocol. */
    protocol?: Protocol;
  }
}

/**
 * Requests on an inference route that are not inference, and so not counted
 * in its metrics: TF Serving's :feedback shares :predict's route.
 */
const notInference = new WeakSet<FastifyRequest>();

export function markNotInference(req: FastifyRequest): void {
  notInference.add(req);
}

export function isInference(req: FastifyRequest): boolean {
  return !notInference.has(req);
}

/** Content types a JSON body may come with; curl -d sends form-urlencoded, so TF Serving's own examples do too. */
const JSON_TYPES = ['application/json', 'application/x-www-form-urlencoded', 'text/plain'];

export function mediaType(req: FastifyRequest): string | undefined {
  const raw = req.headers['content-type'];
  if (raw === undefined || raw === '') return undefined;
  return raw.split(';')[0]?.trim().toLowerCase();
}

export function requireJson(req: FastifyRequest, hint: string): void {
  const type = mediaType(req);
  if (type !== undefined && !JSON_TYPES.includes(type) && !type.endsWith('+json')) {
    throw new RuntimeError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Content-Type ${type} is not supported; ${hint}`,
    );
  }
}

export function bodyBytes(req: FastifyRequest): Buffer {
  const body = req.body;
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(body)) return body;
  throw new RuntimeError('INTERNAL', 'request body was not read as bytes');
}
