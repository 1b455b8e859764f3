// Every error the runtime answers with has a stable code, an HTTP status and a
// message written for the person who sent the request. The table below is the
// single source; docs/runtime.md lists the same codes.

export const ERROR_CODES = {
  BAD_REQUEST: 400,
  INVALID_JSON: 400,
  INVALID_INPUT: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  BODY_TOO_LARGE: 413,
  MODEL_NOT_FOUND: 404,
  VERSION_NOT_FOUND: 404,
  SIGNATURE_NOT_FOUND: 400,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  NOT_IMPLEMENTED: 501,
  MODEL_NOT_READY: 503,
  DRAINING: 503,
  QUEUE_FULL: 429,
  DEADLINE_EXCEEDED: 504,
  INFERENCE_FAILED: 500,
  INJECTED_FAILURE: 500,
  INTERNAL: 500,
  // Startup and fetch errors, coded the same way (sent over HTTP only as a base
  // path's listing error, in model status while no version is loaded).
  CONFIG_INVALID: 400,
  MODEL_LOAD_FAILED: 500,
  FORMAT_UNKNOWN: 400,
  FORMAT_REQUIRES_BACKEND: 400,
  BACKEND_UNAVAILABLE: 500,
  FETCH_FAILED: 502,
  FETCH_NOT_FOUND: 404,
  FETCH_UNAUTHORIZED: 403,
  FETCH_SIZE_MISMATCH: 502,
  FETCH_CHECKSUM_MISMATCH: 502,
  NO_MODEL_VERSIONS: 404,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class RuntimeError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Seconds a client should wait before retrying (sets Retry-After). */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RuntimeError';
    this.code = code;
    this.status = ERROR_CODES[code];
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }

  toJSON(): SerializedError {
    return { code: this.code, message: this.message, retryAfterSeconds: this.retryAfterSeconds };
  }
}

/** Structured-clone-safe form used to pass errors between threads. */
export interface SerializedError {
  code: ErrorCode;
  message: string;
  retryAfterSeconds?: number | undefined;
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

export function fromSerialized(err: SerializedError): RuntimeError {
  return new RuntimeError(
    err.code,
    err.message,
    err.retryAfterSeconds === undefined ? undefined : { retryAfterSeconds: err.retryAfterSeconds },
  );
}

/** Turns anything thrown into a RuntimeError, keeping RuntimeErrors as they are. */
export function toRuntimeError(err: unknown, fallback: ErrorCode = 'INTERNAL'): RuntimeError {
  if (err instanceof RuntimeError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new RuntimeError(fallback, message, { cause: err });
}

export function invalidInput(message: string): RuntimeError {
  return new RuntimeError('INVALID_INPUT', message);
}
