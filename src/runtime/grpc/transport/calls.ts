// One gRPC call on an HTTP/2 stream, from the handler's side: the request
// message(s), the deadline, writing responses and ending with a status. The
// first response sends the headers; the status goes in trailers, or alone
// (a "trailers-only" response) when nothing was sent before it.

import { EventEmitter } from 'node:events';
import type { RequestHeaders } from './http2/header-block.js';
import { encodeHeaderBlock } from './http2/header-block.js';
import type { Http2Stream } from './http2/stream.js';
import { GRPC_CODES, GrpcError, encodeGrpcMessage } from './grpc-error.js';
import { frameMessage } from './framing.js';

const RESPONSE_FIELDS = [
  [':status', '200'],
  ['content-type', 'application/grpc'],
  ['grpc-accept-encoding', 'identity,deflate,gzip'],
] as const;

/** Every answer's headers, and an OK call's trailers: encoded once. */
const RESPONSE_HEADERS = encodeHeaderBlock(RESPONSE_FIELDS);
const OK_TRAILERS = encodeHeaderBlock([['grpc-status', '0']]);

/** The status fields, after `base` (whose names the error's metadata may override). */
function statusBlock(err: GrpcError, base: Record<string, string> = {}): Buffer {
  const fields = {
    ...base,
    ...err.metadata,
    'grpc-status': String(GRPC_CODES[err.status]),
    'grpc-message': encodeGrpcMessage(err.message),
  };
  return encodeHeaderBlock(Object.entries(fields));
}

/** Trailers-only: the whole answer is one HEADERS frame with the status. */
export function respondWithStatus(stream: Http2Stream, err: GrpcError): void {
  if (stream.headersSent || stream.closed) return;
  stream.respond(statusBlock(err, Object.fromEntries(RESPONSE_FIELDS)), true);
}

/** What every call shares: its stream, deadline and end. */
export class ServerCall<Res> extends EventEmitter {
  readonly metadata: RequestHeaders;
  /** Milliseconds since the epoch; Infinity without a deadline. */
  readonly deadline: number;
  protected readonly stream: Http2Stream;
  private readonly serialize: (value: Res) => Buffer;
  private ended = false;
  private cancelledFlag = false;

  constructor(stream: Http2Stream, deadline: number, serialize: (value: Res) => Buffer) {
    super();
    this.stream = stream;
    this.metadata = stream.headers;
    this.deadline = deadline;
    this.serialize = serialize;
  }

  /** True once the client went away or the deadline passed: nothing more is sent. */
  get cancelled(): boolean {
    return this.cancelledFlag;
  }

  get finished(): boolean {
    return this.ended;
  }

  /** Sends one response message (streaming calls may send several); false when it waits for window. */
  write(value: Res): boolean {
    if (this.ended || this.stream.closed) return false;
    const bytes = this.encode(value);
    if (bytes === undefined) return false;
    this.stream.respond(RESPONSE_HEADERS, false);
    return this.stream.write(frameMessage(bytes));
  }

  /** Ends the call with OK after what was written. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.stream.respond(RESPONSE_HEADERS, false);
    this.stream.end(OK_TRAILERS);
  }

  /** The one response of a unary call and OK, in one go. */
  reply(value: Res): void {
    if (this.ended) return;
    const bytes = this.encode(value);
    if (bytes === undefined) return;
    this.ended = true;
    this.stream.respondWhole(RESPONSE_HEADERS, frameMessage(bytes), OK_TRAILERS);
  }

  /** Ends the call with an error status. */
  fail(err: GrpcError): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.stream.headersSent) {
      respondWithStatus(this.stream, err);
      return;
    }
    this.stream.end(statusBlock(err));
  }

  /** The client reset the stream, the connection closed, or the deadline passed. */
  cancel(): void {
    if (this.cancelledFlag) return;
    this.cancelledFlag = true;
    this.ended = true;
    this.emit('cancelled');
  }

  /** The response's bytes, or undefined after failing the call INTERNAL when it cannot be encoded. */
  private encode(value: Res): Buffer | undefined {
    try {
      return this.serialize(value);
    } catch (err) {
      this.fail(
        new GrpcError('INTERNAL', `could not encode the response: ${(err as Error).message}`),
      );
      return undefined;
    }
  }
}

/** A call with one request message: unary and server-streaming methods. */
export class SingleRequestCall<Req, Res> extends ServerCall<Res> {
  request!: Req;
}
