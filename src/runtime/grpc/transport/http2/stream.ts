// One request's stream, from the server's side: what the client sent (headers
// then DATA, handed to `handler` as it arrives) and the answer going back
// (headers, DATA within the client's flow-control windows, trailers). The
// connection owns the windows and the socket; a stream only queues what its
// window does not let out yet.

import type { Http2Connection } from './connection.js';
import type { RequestHeaders } from './header-block.js';
import { ERROR } from './protocol.js';

export interface StreamHandler {
  /** A DATA frame's payload: a view of what the socket read (never reused, so it may be kept). */
  onData(data: Buffer): void;
  /** The client ended its side (END_STREAM). */
  onEnd(): void;
  /** The stream is gone: answered, reset by either side, or its connection closed. */
  onClose(): void;
}

/** What waits for window: DATA bytes, or the trailers that end the stream. */
type Outgoing = { data: Buffer; end: boolean } | { trailers: Buffer };

export class Http2Stream {
  readonly id: number;
  readonly headers: RequestHeaders;
  handler: StreamHandler | undefined;
  /** Flow control: what the client lets this stream send. */
  sendWindow: number;
  /** Flow control: what this stream may still receive, and what to give back. */
  receiveWindow: number;
  unacknowledged = 0;
  /** The client's `content-length`, checked against the DATA it sends. */
  readonly contentLength: number | undefined;
  receivedBytes = 0;
  headersSent = false;
  /** The answer is complete (no more writes); its last frame may still wait for window. */
  ending = false;
  /** Our END_STREAM has been written. */
  localEnded = false;
  remoteEnded = false;
  closed = false;
  readonly queue: Outgoing[] = [];
  private readonly connection: Http2Connection;

  constructor(
    connection: Http2Connection,
    id: number,
    headers: RequestHeaders,
    sendWindow: number,
    receiveWindow: number,
  ) {
    this.connection = connection;
    this.id = id;
    this.headers = headers;
    this.sendWindow = sendWindow;
    this.receiveWindow = receiveWindow;
    const length = headers['content-length'];
    this.contentLength = length === undefined ? undefined : Number(length);
  }

  /** Sends the answer's headers (pre-encoded block); `endStream` when there is no body. */
  respond(block: Buffer, endStream: boolean): void {
    if (this.closed || this.headersSent) return;
    this.headersSent = true;
    if (endStream) this.ending = true;
    this.connection.sendHeaders(this, block, endStream);
    if (endStream) this.endLocal();
  }

  /** Sends body bytes; false when they wait for the client's window. */
  write(data: Buffer): boolean {
    if (this.closed || this.ending) return false;
    return this.connection.sendData(this, data, false);
  }

  /** Ends the answer with trailers (pre-encoded block) after what was written. */
  end(trailers: Buffer): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    if (this.queue.length > 0) {
      this.queue.push({ trailers });
      return;
    }
    this.connection.sendHeaders(this, trailers, true);
    this.endLocal();
  }

  /** Headers, one body and trailers (if any) at once: one write when the windows allow. */
  respondWhole(headers: Buffer, body: Buffer, trailers?: Buffer): void {
    if (this.closed || this.headersSent) return;
    this.headersSent = true;
    this.ending = true;
    if (this.connection.sendWhole(this, headers, body, trailers)) this.endLocal();
  }

  /** RST_STREAM: the stream ends now, whatever was queued. */
  reset(code: number = ERROR.CANCEL): void {
    if (this.closed) return;
    this.connection.resetStream(this, code);
  }

  /** Our side is complete (called once the last frame has left). */
  endLocal(): void {
    this.ending = true;
    this.localEnded = true;
    this.connection.onLocalEnd(this);
  }
}
