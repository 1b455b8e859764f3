// The gRPC status each runtime error code is answered with, as TF Serving and
// Triton answer the same conditions (docs/runtime.md lists the table; its docs
// test checks every row). The message is the one REST sends in {"error": ...}.

import type { ErrorCode, RuntimeError } from '../errors.js';
import { GrpcError } from './transport/grpc-error.js';
import type { GrpcStatusName } from './transport/grpc-error.js';

export const GRPC_STATUS: Readonly<Record<ErrorCode, GrpcStatusName>> = {
  BAD_REQUEST: 'INVALID_ARGUMENT',
  INVALID_JSON: 'INVALID_ARGUMENT',
  INVALID_INPUT: 'INVALID_ARGUMENT',
  UNSUPPORTED_MEDIA_TYPE: 'INVALID_ARGUMENT',
  // Above the message size limit, the transport answers RESOURCE_EXHAUSTED itself.
  BODY_TOO_LARGE: 'RESOURCE_EXHAUSTED',
  MODEL_NOT_FOUND: 'NOT_FOUND',
  VERSION_NOT_FOUND: 'NOT_FOUND',
  // TF Serving: an unknown signature_name is INVALID_ARGUMENT, as on REST (400).
  SIGNATURE_NOT_FOUND: 'INVALID_ARGUMENT',
  NOT_FOUND: 'NOT_FOUND',
  METHOD_NOT_ALLOWED: 'UNIMPLEMENTED',
  NOT_IMPLEMENTED: 'UNIMPLEMENTED',
  MODEL_NOT_READY: 'UNAVAILABLE',
  DRAINING: 'UNAVAILABLE',
  // A burst too large for the queue: back off and retry (REST's 429), not "this server is down".
  QUEUE_FULL: 'RESOURCE_EXHAUSTED',
  DEADLINE_EXCEEDED: 'DEADLINE_EXCEEDED',
  INFERENCE_FAILED: 'INTERNAL',
  INJECTED_FAILURE: 'INTERNAL',
  INTERNAL: 'INTERNAL',
  CONFIG_INVALID: 'INVALID_ARGUMENT',
  MODEL_LOAD_FAILED: 'INTERNAL',
  FORMAT_UNKNOWN: 'FAILED_PRECONDITION',
  FORMAT_REQUIRES_BACKEND: 'FAILED_PRECONDITION',
  BACKEND_UNAVAILABLE: 'INTERNAL',
  FETCH_FAILED: 'UNAVAILABLE',
  FETCH_NOT_FOUND: 'NOT_FOUND',
  FETCH_UNAUTHORIZED: 'PERMISSION_DENIED',
  FETCH_SIZE_MISMATCH: 'UNAVAILABLE',
  FETCH_CHECKSUM_MISMATCH: 'UNAVAILABLE',
  NO_MODEL_VERSIONS: 'NOT_FOUND',
};

/** Trailing metadata keys, as REST's headers: the runtime's code, and when to retry. */
export const ERROR_CODE_KEY = 'tensorfleet-error-code';
export const RETRY_AFTER_KEY = 'retry-after';

/** The status a call ends with for a runtime error. */
export function toGrpcError(err: RuntimeError): GrpcError {
  const metadata: Record<string, string> = { [ERROR_CODE_KEY]: err.code };
  if (err.retryAfterSeconds !== undefined)
    metadata[RETRY_AFTER_KEY] = String(err.retryAfterSeconds);
  return new GrpcError(GRPC_STATUS[err.code], err.message, metadata);
}
