// Errors as the runtime answers them: {"error": ...} with the code's status,
// a Tensorfleet-Error-Code header and Retry-After when useful. fastify's own
// errors are mapped to the runtime's codes (errors.ts), and malformed HTTP
// is answered in the same format before any route runs.

import type { FastifyError, FastifyInstance } from 'fastify';
import { RuntimeError } from '../errors.js';
import type { MethodsFor } from './allowed-methods.js';
import { errorBody, sendJson } from './reply.js';

/**
 * HTTP-level errors (malformed requests, header overflow, request timeout),
 * answered in the runtime's own format before any route runs.
 */
export function clientErrorResponse(err: NodeJS.ErrnoException): string {
  const [status, reason, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'the request headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'the request was not received in time']
        : [400, 'Bad Request', `malformed HTTP request (${err.code ?? err.message})`];
  const body = errorBody(message);
  return (
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nTensorfleet-Error-Code: BAD_REQUEST\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}

/** The runtime's error for anything thrown in a route: fastify's own errors get the runtime's codes. */
function toRuntime(err: FastifyError | Error, maxBodyBytes: number): RuntimeError {
  if (err instanceof RuntimeError) return err;
  const fe = err as FastifyError;
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new RuntimeError(
        'BODY_TOO_LARGE',
        `the request body is larger than the ${maxBodyBytes}-byte limit (--max-body-bytes)`,
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new RuntimeError('UNSUPPORTED_MEDIA_TYPE', fe.message);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new RuntimeError('INVALID_JSON', 'the request body is empty; expected a JSON object');
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new RuntimeError('BAD_REQUEST', fe.message);
  }
  return new RuntimeError('INTERNAL', `internal error: ${err.message}`, { cause: err });
}

/** Answers whatever a route of `app` throws. */
export function answerErrors(
  app: FastifyInstance,
  maxBodyBytes: number,
  methodsFor: MethodsFor,
): void {
  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    const e = toRuntime(err, maxBodyBytes);
    if (e.status >= 500 && e.code !== 'INJECTED_FAILURE') req.log.error({ err }, e.message);
    reply.header('tensorfleet-error-code', e.code);
    if (e.retryAfterSeconds !== undefined) reply.header('retry-after', String(e.retryAfterSeconds));
    if (e.code === 'DRAINING') reply.header('connection', 'close');
    if (e.code === 'METHOD_NOT_ALLOWED') reply.header('allow', methodsFor(req.url).join(', '));
    return sendJson(reply, errorBody(e.message), e.status);
  });
}
