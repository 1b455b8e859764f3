// One gRPC call on an HTTP/2 stream, from the handler's side: the request
// message(s), the deadline, writing responses and ending with a status. The
// first response sends the headers; the status goes in trailers, or alone
// (a "trailers-only" response) when nothing was sent before it.

import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { GRPC_CODES, GrpcError, encodeGrpcMessage } from './grpc-error.js';
import { frameMessage } from './framing.js';

export const RESPONSE_HEADERS = Object.freeze({
  ':status': 200,
  'content-type': 'application/grpc',
  'grpc-accept-encoding': 'identity,deflate,gzip',
});

const OK_TRAILERS = Object.freeze({ 'grpc-status': '0' });

function statusTrailers(err: GrpcError): Record<string, string> {
  return {
    ...err.metadata,
    'grpc-status': String(GRPC_CODES[err.status]),
    'grpc-message': encodeGrpcMessage(err.message),
  };
}

/** Trailers-only: the whole answer is one HEADERS frame with the status. */
export function respondWithStatus(stream: ServerHttp2Stream, err: GrpcError): void {
  if (stream.headersSent || stream.destroyed) return;
  stream.respond({ ...RESPONSE_HEADERS, ...statusTrailers(err) }, { endStream: true });
}

function sendOkTrailers(this: ServerHttp2Stream): void {
  this.sendTrailers(OK_TRAILERS);
}

/** What every call shares: its stream, deadline and end. */
export class ServerCall<Res> extends EventEmitter {
  readonly metadata: IncomingHttpHeaders;
  /** Milliseconds since the epoch; Infinity without a deadline. */
  readonly deadline: number;
  protected readonly stream: ServerHttp2Stream;
  private readonly serialize: (value: Res) => Buffer;
  private ended = false;
  private cancelledFlag = false;
  private finalStatus: GrpcError | undefined;

  constructor(
    stream: ServerHttp2Stream,
    metadata: IncomingHttpHeaders,
    deadline: number,
    serialize: (value: Res) => Buffer,
  ) {
    super();
    this.stream = stream;
    this.metadata = metadata;
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

  /** Sends one response message (streaming calls may send several). */
  write(value: Res): boolean {
    if (this.ended || this.stream.destroyed) return false;
    const bytes = this.encode(value);
    if (bytes === undefined) return false;
    if (!this.stream.headersSent) {
      this.stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
      this.stream.once('wantTrailers', () => this.sendTrailers());
    }
    return this.stream.write(frameMessage(bytes));
  }

  /** Ends the call with OK after what was written. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.stream.destroyed) return;
    if (!this.stream.headersSent) {
      this.stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
      this.stream.once('wantTrailers', sendOkTrailers);
    }
    this.stream.end();
  }

  /** The one response of a unary call and OK, in one go. */
  reply(value: Res): void {
    if (this.ended) return;
    const bytes = this.encode(value);
    if (bytes === undefined) return;
    this.ended = true;
    if (this.stream.destroyed) return;
    this.stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
    this.stream.once('wantTrailers', sendOkTrailers);
    this.stream.end(frameMessage(bytes));
  }

  /** Ends the call with an error status. */
  fail(err: GrpcError): void {
    if (this.ended) return;
    this.ended = true;
    if (this.stream.destroyed) return;
    if (!this.stream.headersSent) {
      respondWithStatus(this.stream, err);
      return;
    }
    this.finalStatus = err;
    this.stream.end();
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

  private sendTrailers(): void {
    this.stream.sendTrailers(
      this.finalStatus === undefined ? OK_TRAILERS : statusTrailers(this.finalStatus),
    );
  }
}

/** A call with one request message: unary and server-streaming methods. */
export class SingleRequestCall<Req, Res> extends ServerCall<Res> {
  request!: Req;
}
