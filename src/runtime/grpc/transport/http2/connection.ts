// One HTTP/2 connection (RFC 9113) from the server's side, over plain TCP
// with prior knowledge (h2c), as gRPC clients and the kubelet's gRPC probe
// speak it. The runtime serves gRPC on it instead of node:http2 because
// per-call cost decides throughput, and node:http2 gives every stream a
// Duplex, an event emitter and several crossings into nghttp2: at 64 calls
// in flight those allocations cost more main-thread time than the call.
// Here a stream is one small object, a message arrives as a view of the
// socket's buffer, and an answer leaves as one buffer.
//
// The whole protocol is handled, not only what gRPC clients send: frames are
// checked as RFC 9113 asks (h2spec's suite runs against this server in
// test/runtime/grpc/h2spec.test.ts):
// - connection errors (a frame that breaks the protocol, a flow-control
//   window overrun, an undecodable header block) send GOAWAY with the code
//   and a reason, then close;
// - stream errors (a malformed request, a frame on a half-closed stream)
//   reset that stream only;
// - flow control: the client's windows bound what is sent (what does not fit
//   waits in the stream's queue); ours are opened wide up front and given
//   back as DATA is read;
// - header blocks are decoded with our HPACK decoder (../hpack), even for
//   streams that are refused, so that its table stays in step.
//
// Writes within one tick are corked into one writev.

import type { Socket } from 'node:net';
import { HeaderListTooLarge, HpackDecoder, HpackError } from '../hpack/index.js';
import {
  SETTINGS_ACK,
  frame,
  goAwayFrame,
  headerFrames,
  pingAckFrame,
  rstStreamFrame,
  settingsFrame,
  windowUpdateFrame,
  writeFrameHeader,
} from './frame-writer.js';
import type { HeaderFields } from './header-block.js';
import { TABLE_SIZE_UPDATE_TO_ZERO, encodeHeaderBlock, requestHeaders } from './header-block.js';
import {
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_WINDOW_BYTES,
  ERROR,
  FLAG,
  FRAME,
  FRAME_HEADER_BYTES,
  MAX_FRAME_BYTES_LIMIT,
  MAX_WINDOW_BYTES,
  SETTING,
} from './protocol.js';
import type { FrameSink } from './frame-splitter.js';
import { FrameSplitter } from './frame-splitter.js';
import { Http2Stream } from './stream.js';

export interface Http2ConnectionOptions {
  /** Streams open at once; more are refused (REFUSED_STREAM, which clients retry). */
  maxConcurrentStreams: number;
  /** What each stream may receive before the server gives window back. */
  streamWindowBytes: number;
  /** What the whole connection may receive before the server gives window back. */
  connectionWindowBytes: number;
  /** Decoded header list size (RFC 9113's count) past which a request gets 431. */
  maxHeaderListBytes: number;
  /** A new request stream with valid headers: set its handler. */
  onStream(stream: Http2Stream): void;
}

/** Frames on a stream after it closed: how the stream ended decides the answer. */
const RESET_BY_US = 1;
const CLOSED = 2;
/** How many closed streams are remembered to tell late frames from invalid ones. */
const REMEMBERED_STREAMS = 256;

const NOT_HTTP2 =
  'This port serves gRPC: HTTP/2 with prior knowledge (h2c). REST is on the HTTP port.\n';
const HTTP1_REQUEST = /^[A-Z]+ \S+ HTTP\/1\.[01]\r?\n/;

const HEADER_LIST_TOO_LARGE = encodeHeaderBlock([[':status', '431']]);

function uncork(connection: Http2Connection): void {
  connection.uncork();
}

export class Http2Connection {
  private readonly socket: Socket;
  private readonly opts: Http2ConnectionOptions;
  private readonly decoder: HpackDecoder;
  private readonly streams = new Map<number, Http2Stream>();
  private readonly closedStreams = new Map<number, number>();
  /** Streams with DATA or trailers waiting for window. */
  private readonly blocked = new Set<Http2Stream>();
  private lastStreamId = 0;
  private settingsSeen = false;
  private readonly splitter = new FrameSplitter(DEFAULT_MAX_FRAME_BYTES);
  private readonly sink: FrameSink = {
    onPreface: () => this.sendPreface(),
    onFrame: (type, flags, streamId, payload) => {
      this.onFrame(type, flags, streamId, payload);
      return !this.closing;
    },
  };
  /** A header block still expecting CONTINUATION frames. */
  private continuation:
    | {
        streamId: number;
        endStream: boolean;
        selfDependent: boolean;
        chunks: Buffer[];
        bytes: number;
      }
    | undefined;
  private sendWindow = DEFAULT_WINDOW_BYTES;
  private peerInitialWindow = DEFAULT_WINDOW_BYTES;
  private peerMaxFrameBytes = DEFAULT_MAX_FRAME_BYTES;
  private receiveWindow: number;
  private unacknowledged = 0;
  private tableSizeUpdatePending = true;
  /** The last stream id our GOAWAY named; later streams are not served. */
  private goAwayLastId: number | undefined;
  private peerGoneAway = false;
  private closing = false;
  private corked = false;
  private readonly closeListeners: (() => void)[] = [];

  constructor(socket: Socket, opts: Http2ConnectionOptions) {
    this.socket = socket;
    this.opts = opts;
    this.decoder = new HpackDecoder({ maxHeaderListSize: opts.maxHeaderListBytes });
    this.receiveWindow = opts.connectionWindowBytes;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      try {
        this.receive(chunk);
      } catch (err) {
        // A defect here must cost one connection, not the process (the fuzz
        // test in http2.test.ts fails on any INTERNAL_ERROR it provokes).
        this.connectionError(ERROR.INTERNAL_ERROR, `internal error: ${(err as Error).message}`);
      }
    });
    socket.on('error', () => socket.destroy());
    socket.once('close', () => this.onSocketClose());
  }

  /** Our SETTINGS and the connection window, once the client has shown it speaks HTTP/2. */
  private sendPreface(): void {
    this.write(
      settingsFrame([
        [SETTING.MAX_CONCURRENT_STREAMS, this.opts.maxConcurrentStreams],
        [SETTING.INITIAL_WINDOW_SIZE, this.opts.streamWindowBytes],
        [SETTING.MAX_HEADER_LIST_SIZE, this.opts.maxHeaderListBytes],
      ]),
    );
    if (this.opts.connectionWindowBytes > DEFAULT_WINDOW_BYTES) {
      this.write(windowUpdateFrame(0, this.opts.connectionWindowBytes - DEFAULT_WINDOW_BYTES));
    }
  }

  get activeStreams(): number {
    return this.streams.size;
  }

  onClose(listener: () => void): void {
    this.closeListeners.push(listener);
  }

  /**
   * GOAWAY: the streams open now may finish within `graceMs`, later ones are
   * left unserved (the client sends them again on a new connection).
   * Infinity: no limit (the caller destroys the connection itself).
   */
  goAway(graceMs: number): void {
    if (this.closing || this.goAwayLastId !== undefined) return;
    this.goAwayLastId = this.lastStreamId;
    this.write(goAwayFrame(this.lastStreamId, ERROR.NO_ERROR));
    if (this.streams.size === 0) {
      this.finish();
      return;
    }
    if (Number.isFinite(graceMs)) setTimeout(() => this.destroy(), graceMs).unref();
  }

  /** Closes the socket now; open streams see onClose. */
  destroy(): void {
    this.closing = true;
    this.socket.destroy();
  }

  // --- Reading ------------------------------------------------------------

  private receive(chunk: Buffer): void {
    if (this.closing) return;
    const error = this.splitter.push(chunk, this.sink);
    if (error?.kind === 'not-http2') this.notHttp2(error.received);
    if (error?.kind === 'frame-too-large') {
      this.connectionError(
        ERROR.FRAME_SIZE_ERROR,
        `a frame of ${error.length} bytes, more than SETTINGS_MAX_FRAME_SIZE (${DEFAULT_MAX_FRAME_BYTES})`,
      );
    }
  }

  private onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.continuation !== undefined && type !== FRAME.CONTINUATION) {
      this.connectionError(
        ERROR.PROTOCOL_ERROR,
        `a frame of type ${type} inside stream ${this.continuation.streamId}'s header block (CONTINUATION expected)`,
      );
      return;
    }
    if (!this.settingsSeen && (type !== FRAME.SETTINGS || (flags & FLAG.ACK) !== 0)) {
      this.connectionError(ERROR.PROTOCOL_ERROR, 'the connection must start with SETTINGS');
      return;
    }
    switch (type) {
      case FRAME.DATA:
        this.onData(flags, streamId, payload);
        return;
      case FRAME.HEADERS:
        this.onHeaders(flags, streamId, payload);
        return;
      case FRAME.PRIORITY:
        this.onPriority(streamId, payload);
        return;
      case FRAME.RST_STREAM:
        this.onRstStream(streamId, payload);
        return;
      case FRAME.SETTINGS:
        this.onSettings(flags, streamId, payload);
        return;
      case FRAME.PUSH_PROMISE:
        this.connectionError(ERROR.PROTOCOL_ERROR, 'a client must not send PUSH_PROMISE');
        return;
      case FRAME.PING:
        this.onPing(flags, streamId, payload);
        return;
      case FRAME.GOAWAY:
        this.onGoAway(streamId, payload);
        return;
      case FRAME.WINDOW_UPDATE:
        this.onWindowUpdate(streamId, payload);
        return;
      case FRAME.CONTINUATION:
        this.onContinuation(flags, streamId, payload);
        return;
      default:
      // Unknown frame types are ignored (RFC 9113 §4.1).
    }
  }

  /** The payload without its padding (and `skip` bytes of fields), or undefined after a connection error. */
  private unpadded(flags: number, payload: Buffer, skip = 0): Buffer | undefined {
    const padded = (flags & FLAG.PADDED) !== 0 ? 1 : 0;
    if (payload.length < padded + skip) {
      this.connectionError(
        ERROR.FRAME_SIZE_ERROR,
        'a frame too short for its pad length or priority',
      );
      return undefined;
    }
    if (padded === 0) return payload.subarray(skip);
    const padding = payload[0]!;
    if (padding > payload.length - 1 - skip) {
      this.connectionError(ERROR.PROTOCOL_ERROR, 'padding as long as the frame or longer');
      return undefined;
    }
    return payload.subarray(1 + skip, payload.length - padding);
  }

  private onData(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) {
      this.connectionError(ERROR.PROTOCOL_ERROR, 'DATA on stream 0');
      return;
    }
    // Connection flow control counts every DATA frame, padding included, even
    // one for a stream that is gone.
    const length = payload.length;
    this.receiveWindow -= length;
    if (this.receiveWindow < 0) {
      this.connectionError(ERROR.FLOW_CONTROL_ERROR, "DATA past the connection's window");
      return;
    }
    this.unacknowledged += length;
    // Given back in steps of a sixteenth, so that a client sending large
    // requests on many streams never waits for a window to reopen.
    if (this.unacknowledged >= this.opts.connectionWindowBytes / 16) {
      this.write(windowUpdateFrame(0, this.unacknowledged));
      this.receiveWindow += this.unacknowledged;
      this.unacknowledged = 0;
    }
    const data = this.unpadded(flags, payload);
    if (data === undefined) return;
    const stream = this.streams.get(streamId);
    if (stream === undefined) {
      this.onFrameWithoutStream('DATA', streamId);
      return;
    }
    if (stream.remoteEnded) {
      this.resetStream(stream, ERROR.STREAM_CLOSED);
      return;
    }
    stream.receiveWindow -= length;
    if (stream.receiveWindow < 0) {
      this.resetStream(stream, ERROR.FLOW_CONTROL_ERROR);
      return;
    }
    stream.receivedBytes += data.length;
    if (stream.contentLength !== undefined && stream.receivedBytes > stream.contentLength) {
      this.resetStream(stream, ERROR.PROTOCOL_ERROR);
      return;
    }
    if (data.length > 0) stream.handler?.onData(data);
    if (stream.closed) return;
    if ((flags & FLAG.END_STREAM) !== 0) {
      this.endRemote(stream);
      return;
    }
    stream.unacknowledged += length;
    if (stream.unacknowledged >= this.opts.streamWindowBytes / 2) {
      this.write(windowUpdateFrame(streamId, stream.unacknowledged));
      stream.receiveWindow += stream.unacknowledged;
      stream.unacknowledged = 0;
    }
  }

  /** DATA or HEADERS for a stream this connection does not have open. */
  private onFrameWithoutStream(kind: string, streamId: number): void {
    if (streamId > this.lastStreamId) {
      this.connectionError(ERROR.PROTOCOL_ERROR, `${kind} on idle stream ${streamId}`);
      return;
    }
    const ended = this.closedStreams.get(streamId);
    // After our RST_STREAM, frames the client sent before seeing it are ignored.
    if (ended === RESET_BY_US) return;
    if (ended === CLOSED) {
      this.connectionError(ERROR.STREAM_CLOSED, `${kind} on closed stream ${streamId}`);
      return;
    }
    this.connectionError(
      ERROR.PROTOCOL_ERROR,
      `${kind} on stream ${streamId}, which was never opened (streams ${this.lastStreamId} and below are closed)`,
    );
  }

  private onHeaders(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) {
      this.connectionError(ERROR.PROTOCOL_ERROR, 'HEADERS on stream 0');
      return;
    }
    const priority = (flags & FLAG.PRIORITY) !== 0;
    const fragment = this.unpadded(flags, payload, priority ? 5 : 0);
    if (fragment === undefined) return;
    const padded = (flags & FLAG.PADDED) !== 0 ? 1 : 0;
    const selfDependent = priority && (payload.readUInt32BE(padded) & 0x7fffffff) === streamId;
    const endStream = (flags & FLAG.END_STREAM) !== 0;
    if ((flags & FLAG.END_HEADERS) !== 0) {
      this.onHeaderBlock(streamId, fragment, endStream, selfDependent);
      return;
    }
    this.continuation = {
      streamId,
      endStream,
      selfDependent,
      chunks: [fragment],
      bytes: fragment.length,
    };
  }

  private onContinuation(flags: number, streamId: number, payload: Buffer): void {
    const pending = this.continuation;
    if (pending === undefined || pending.streamId !== streamId) {
      this.connectionError(
        ERROR.PROTOCOL_ERROR,
        `CONTINUATION on stream ${streamId} without HEADERS before it`,
      );
      return;
    }
    pending.chunks.push(payload);
    pending.bytes += payload.length;
    // A compressed block is never much longer than the list it decodes to.
    if (pending.bytes > 4 * this.opts.maxHeaderListBytes) {
      this.connectionError(
        ERROR.ENHANCE_YOUR_CALM,
        'a header block far past SETTINGS_MAX_HEADER_LIST_SIZE',
      );
      return;
    }
    if ((flags & FLAG.END_HEADERS) === 0) return;
    this.continuation = undefined;
    this.onHeaderBlock(
      streamId,
      Buffer.concat(pending.chunks, pending.bytes),
      pending.endStream,
      pending.selfDependent,
    );
  }

  /** The block's fields; 'too-large' past maxHeaderListBytes; undefined after a connection error. */
  private decodeBlock(block: Buffer): HeaderFields | 'too-large' | undefined {
    try {
      return this.decoder.decode(block);
    } catch (err) {
      if (err instanceof HeaderListTooLarge) return 'too-large';
      if (err instanceof HpackError) {
        this.connectionError(ERROR.COMPRESSION_ERROR, err.message);
        return undefined;
      }
      throw err;
    }
  }

  private onHeaderBlock(
    streamId: number,
    block: Buffer,
    endStream: boolean,
    selfDependent: boolean,
  ): void {
    // Decoded first, whatever becomes of the stream, to keep the HPACK table in step.
    const fields = this.decodeBlock(block);
    if (fields === undefined) return;
    if (streamId % 2 === 0) {
      this.connectionError(
        ERROR.PROTOCOL_ERROR,
        `stream ${streamId}: a client's streams have odd ids`,
      );
      return;
    }
    if (selfDependent) {
      // A stream cannot depend on itself (RFC 9113 §5.3.1).
      this.lastStreamId = Math.max(this.lastStreamId, streamId);
      this.resetById(streamId, ERROR.PROTOCOL_ERROR);
      return;
    }
    const existing = this.streams.get(streamId);
    if (existing !== undefined) {
      this.onTrailers(existing, fields, endStream);
      return;
    }
    if (streamId <= this.lastStreamId) {
      this.onFrameWithoutStream('HEADERS', streamId);
      return;
    }
    this.lastStreamId = streamId;
    // After our GOAWAY, new streams are left unanswered: the client retries them.
    if (this.goAwayLastId !== undefined) return;
    if (this.streams.size >= this.opts.maxConcurrentStreams) {
      this.refuse(streamId, ERROR.REFUSED_STREAM);
      return;
    }
    const headers = fields === 'too-large' ? {} : requestHeaders(fields, false);
    if (typeof headers === 'string') {
      this.refuse(streamId, ERROR.PROTOCOL_ERROR);
      return;
    }
    const stream = new Http2Stream(
      this,
      streamId,
      headers,
      this.peerInitialWindow,
      this.opts.streamWindowBytes,
    );
    const contentLength = stream.contentLength;
    if (
      contentLength !== undefined &&
      !(Number.isSafeInteger(contentLength) && contentLength >= 0)
    ) {
      this.refuse(streamId, ERROR.PROTOCOL_ERROR);
      return;
    }
    this.streams.set(streamId, stream);
    // Set before the handler runs, so that an answer it gives at once closes
    // the stream instead of resetting a request that was already complete.
    stream.remoteEnded = endStream;
    if (fields === 'too-large') {
      stream.respond(HEADER_LIST_TOO_LARGE, true);
      return;
    }
    this.opts.onStream(stream);
    if (endStream && !stream.closed) this.remoteComplete(stream);
  }

  private onTrailers(
    stream: Http2Stream,
    fields: HeaderFields | 'too-large',
    endStream: boolean,
  ): void {
    if (stream.remoteEnded) {
      this.resetStream(stream, ERROR.STREAM_CLOSED);
      return;
    }
    if (!endStream || fields === 'too-large' || typeof requestHeaders(fields, true) === 'string') {
      this.resetStream(stream, ERROR.PROTOCOL_ERROR);
      return;
    }
    this.endRemote(stream);
  }

  private endRemote(stream: Http2Stream): void {
    stream.remoteEnded = true;
    this.remoteComplete(stream);
  }

  /** The client's END_STREAM: the request is whole if its content-length says so. */
  private remoteComplete(stream: Http2Stream): void {
    if (stream.contentLength !== undefined && stream.receivedBytes !== stream.contentLength) {
      this.resetStream(stream, ERROR.PROTOCOL_ERROR);
      return;
    }
    stream.handler?.onEnd();
    if (stream.localEnded && !stream.closed) this.closeStream(stream, CLOSED);
  }

  private onPriority(streamId: number, payload: Buffer): void {
    if (streamId === 0) {
      this.connectionError(ERROR.PROTOCOL_ERROR, 'PRIORITY on stream 0');
      return;
    }
    if (payload.length !== 5) {
      this.resetById(streamId, ERROR.FRAME_SIZE_ERROR);
      return;
    }
    if ((payload.readUInt32BE(0) & 0x7fffffff) === streamId) {
      this.resetById(streamId, ERROR.PROTOCOL_ERROR);
    }
    // Otherwise ignored: answers are sent as they are ready.
  }

  private onRstStream(streamId: number, payload: Buffer): void {
    if (streamId === 0) {
      this.connectionError(ERROR.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
      return;
    }
    if (payload.length !== 4) {
      this.connectionError(
        ERROR.FRAME_SIZE_ERROR,
        `RST_STREAM of ${payload.length} bytes (4 expected)`,
      );
      return;
    }
    if (streamId > this.lastStreamId) {
      this.connectionError(ERROR.PROTOCOL_ERROR, `RST_STREAM on idle stream ${streamId}`);
      return;
    }
    const stream = this.streams.get(streamId);
    if (stream !== undefined) this.closeStream(stream, CLOSED);
  }

  private onSettings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) {
      this.connectionError(ERROR.PROTOCOL_ERROR, `SETTINGS on stream ${streamId}`);
      return;
    }
    if ((flags & FLAG.ACK) !== 0) {
      if (payload.length !== 0) {
        this.connectionError(ERROR.FRAME_SIZE_ERROR, 'a SETTINGS acknowledgement with a payload');
      }
      return;
    }
    if (payload.length % 6 !== 0) {
      this.connectionError(
        ERROR.FRAME_SIZE_ERROR,
        `SETTINGS of ${payload.length} bytes (a multiple of 6 expected)`,
      );
      return;
    }
    let windowDelta = 0;
    for (let at = 0; at < payload.length; at += 6) {
      const id = payload.readUInt16BE(at);
      const value = payload.readUInt32BE(at + 2);
      switch (id) {
        case SETTING.HEADER_TABLE_SIZE:
          this.tableSizeUpdatePending = true;
          break;
        case SETTING.ENABLE_PUSH:
          if (value > 1) {
            this.connectionError(ERROR.PROTOCOL_ERROR, `SETTINGS_ENABLE_PUSH ${value} (0 or 1)`);
            return;
          }
          break;
        case SETTING.INITIAL_WINDOW_SIZE:
          if (value > MAX_WINDOW_BYTES) {
            this.connectionError(
              ERROR.FLOW_CONTROL_ERROR,
              `SETTINGS_INITIAL_WINDOW_SIZE ${value} is past 2^31-1`,
            );
            return;
          }
          windowDelta += value - this.peerInitialWindow;
          this.peerInitialWindow = value;
          break;
        case SETTING.MAX_FRAME_SIZE:
          if (value < DEFAULT_MAX_FRAME_BYTES || value > MAX_FRAME_BYTES_LIMIT) {
            this.connectionError(
              ERROR.PROTOCOL_ERROR,
              `SETTINGS_MAX_FRAME_SIZE ${value} is outside 16384..16777215`,
            );
            return;
          }
          this.peerMaxFrameBytes = value;
          break;
        default:
        // MAX_CONCURRENT_STREAMS (a server opens none), MAX_HEADER_LIST_SIZE
        // (our answers are a few fields) and unknown settings are ignored.
      }
    }
    this.settingsSeen = true;
    if (windowDelta !== 0) {
      for (const stream of this.streams.values()) {
        stream.sendWindow += windowDelta;
        if (stream.sendWindow > MAX_WINDOW_BYTES) {
          this.connectionError(
            ERROR.FLOW_CONTROL_ERROR,
            `stream ${stream.id}'s window past 2^31-1`,
          );
          return;
        }
      }
    }
    this.write(SETTINGS_ACK);
    if (windowDelta > 0) this.drainAll();
  }

  private onPing(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) {
      this.connectionError(ERROR.PROTOCOL_ERROR, `PING on stream ${streamId}`);
      return;
    }
    if (payload.length !== 8) {
      this.connectionError(ERROR.FRAME_SIZE_ERROR, `PING of ${payload.length} bytes (8 expected)`);
      return;
    }
    if ((flags & FLAG.ACK) === 0) this.write(pingAckFrame(payload));
  }

  private onGoAway(streamId: number, payload: Buffer): void {
    if (streamId !== 0) {
      this.connectionError(ERROR.PROTOCOL_ERROR, `GOAWAY on stream ${streamId}`);
      return;
    }
    if (payload.length < 8) {
      this.connectionError(
        ERROR.FRAME_SIZE_ERROR,
        `GOAWAY of ${payload.length} bytes (8 or more expected)`,
      );
      return;
    }
    this.peerGoneAway = true;
    if (this.streams.size === 0) this.finish();
  }

  private onWindowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) {
      this.connectionError(
        ERROR.FRAME_SIZE_ERROR,
        `WINDOW_UPDATE of ${payload.length} bytes (4 expected)`,
      );
      return;
    }
    const increment = payload.readUInt32BE(0) & 0x7fffffff;
    if (streamId === 0) {
      if (increment === 0) {
        this.connectionError(ERROR.PROTOCOL_ERROR, 'a connection WINDOW_UPDATE of 0');
        return;
      }
      this.sendWindow += increment;
      if (this.sendWindow > MAX_WINDOW_BYTES) {
        this.connectionError(ERROR.FLOW_CONTROL_ERROR, "the connection's window past 2^31-1");
        return;
      }
      this.drainAll();
      return;
    }
    const stream = this.streams.get(streamId);
    if (stream === undefined) {
      if (streamId > this.lastStreamId) {
        this.connectionError(ERROR.PROTOCOL_ERROR, `WINDOW_UPDATE on idle stream ${streamId}`);
      }
      return;
    }
    if (increment === 0) {
      this.resetStream(stream, ERROR.PROTOCOL_ERROR);
      return;
    }
    stream.sendWindow += increment;
    if (stream.sendWindow > MAX_WINDOW_BYTES) {
      this.resetStream(stream, ERROR.FLOW_CONTROL_ERROR);
      return;
    }
    this.drain(stream);
  }

  // --- Writing ------------------------------------------------------------

  private write(buf: Buffer): void {
    if (this.closing) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(uncork, this);
    }
    this.socket.write(buf);
  }

  uncork(): void {
    this.corked = false;
    this.socket.uncork();
  }

  private headerBlock(block: Buffer): Buffer {
    if (!this.tableSizeUpdatePending) return block;
    this.tableSizeUpdatePending = false;
    return Buffer.concat([TABLE_SIZE_UPDATE_TO_ZERO, block]);
  }

  sendHeaders(stream: Http2Stream, block: Buffer, endStream: boolean): void {
    this.write(headerFrames(stream.id, this.headerBlock(block), endStream, this.peerMaxFrameBytes));
  }

  /** DATA within the windows; what does not fit is queued. False when some of it waits. */
  sendData(stream: Http2Stream, data: Buffer, end: boolean): boolean {
    if (stream.queue.length > 0) {
      stream.queue.push({ data, end });
      return false;
    }
    const sent = this.sendDataNow(stream, data, end);
    if (sent === data.length) return true;
    stream.queue.push({ data: data.subarray(sent), end });
    this.blocked.add(stream);
    return false;
  }

  /**
   * Headers, DATA and trailers (or DATA with END_STREAM when there are none)
   * in one buffer when the windows take the body; true when all has left.
   */
  sendWhole(
    stream: Http2Stream,
    headers: Buffer,
    body: Buffer,
    trailers: Buffer | undefined,
  ): boolean {
    const fits =
      !this.tableSizeUpdatePending &&
      body.length <= this.sendWindow &&
      body.length <= stream.sendWindow &&
      body.length <= this.peerMaxFrameBytes &&
      headers.length <= this.peerMaxFrameBytes &&
      (trailers?.length ?? 0) <= this.peerMaxFrameBytes;
    if (!fits) {
      this.sendHeaders(stream, headers, false);
      if (trailers === undefined) return this.sendData(stream, body, true);
      if (!this.sendData(stream, body, false)) {
        stream.queue.push({ trailers });
        return false;
      }
      this.sendHeaders(stream, trailers, true);
      return true;
    }
    const trailerBytes = trailers === undefined ? 0 : FRAME_HEADER_BYTES + trailers.length;
    const out = Buffer.allocUnsafe(
      2 * FRAME_HEADER_BYTES + headers.length + body.length + trailerBytes,
    );
    let at = 0;
    writeFrameHeader(out, at, headers.length, FRAME.HEADERS, FLAG.END_HEADERS, stream.id);
    at += FRAME_HEADER_BYTES + headers.copy(out, at + FRAME_HEADER_BYTES);
    const dataFlags = trailers === undefined ? FLAG.END_STREAM : 0;
    writeFrameHeader(out, at, body.length, FRAME.DATA, dataFlags, stream.id);
    at += FRAME_HEADER_BYTES + body.copy(out, at + FRAME_HEADER_BYTES);
    if (trailers !== undefined) {
      const flags = FLAG.END_HEADERS | FLAG.END_STREAM;
      writeFrameHeader(out, at, trailers.length, FRAME.HEADERS, flags, stream.id);
      trailers.copy(out, at + FRAME_HEADER_BYTES);
    }
    this.sendWindow -= body.length;
    stream.sendWindow -= body.length;
    this.write(out);
    return true;
  }

  /** Writes DATA frames as far as the windows allow; returns the bytes sent. */
  private sendDataNow(stream: Http2Stream, data: Buffer, end: boolean): number {
    let sent = 0;
    while (sent < data.length) {
      const room = Math.min(this.sendWindow, stream.sendWindow, this.peerMaxFrameBytes);
      if (room <= 0) return sent;
      const n = Math.min(room, data.length - sent);
      const last = sent + n === data.length;
      this.write(
        frame(
          FRAME.DATA,
          last && end ? FLAG.END_STREAM : 0,
          stream.id,
          data.subarray(sent, sent + n),
        ),
      );
      this.sendWindow -= n;
      stream.sendWindow -= n;
      sent += n;
    }
    if (data.length === 0 && end) this.write(frame(FRAME.DATA, FLAG.END_STREAM, stream.id));
    if (end) stream.endLocal();
    return sent;
  }

  /** Sends what a stream has queued, as far as the windows allow. */
  private drain(stream: Http2Stream): void {
    while (stream.queue.length > 0 && !stream.closed) {
      const next = stream.queue[0]!;
      if ('trailers' in next) {
        stream.queue.shift();
        this.sendHeaders(stream, next.trailers, true);
        stream.endLocal();
        continue;
      }
      const sent = this.sendDataNow(stream, next.data, next.end);
      if (sent < next.data.length) {
        next.data = next.data.subarray(sent);
        return;
      }
      stream.queue.shift();
    }
    this.blocked.delete(stream);
  }

  private drainAll(): void {
    for (const stream of this.blocked) {
      if (this.sendWindow <= 0) return;
      this.drain(stream);
    }
  }

  // --- Stream and connection ends -------------------------------------------

  /** Called once a stream's END_STREAM has been written. */
  onLocalEnd(stream: Http2Stream): void {
    if (stream.closed) return;
    if (stream.remoteEnded) {
      this.closeStream(stream, CLOSED);
      return;
    }
    // A complete answer before the whole request: the client may stop sending
    // (RFC 9113 §8.1).
    this.write(rstStreamFrame(stream.id, ERROR.NO_ERROR));
    this.closeStream(stream, RESET_BY_US);
  }

  resetStream(stream: Http2Stream, code: number): void {
    this.write(rstStreamFrame(stream.id, code));
    this.closeStream(stream, RESET_BY_US);
  }

  /** A stream refused before it was opened. */
  private refuse(streamId: number, code: number): void {
    this.write(rstStreamFrame(streamId, code));
    this.remember(streamId, RESET_BY_US);
  }

  /** A stream error on a stream that may or may not be open. */
  private resetById(streamId: number, code: number): void {
    const stream = this.streams.get(streamId);
    if (stream !== undefined) this.resetStream(stream, code);
    else this.refuse(streamId, code);
  }

  private remember(streamId: number, how: number): void {
    this.closedStreams.set(streamId, how);
    if (this.closedStreams.size > REMEMBERED_STREAMS) {
      this.closedStreams.delete(this.closedStreams.keys().next().value!);
    }
  }

  private closeStream(stream: Http2Stream, how: number): void {
    if (stream.closed) return;
    stream.closed = true;
    this.streams.delete(stream.id);
    this.blocked.delete(stream);
    this.remember(stream.id, how);
    stream.handler?.onClose();
    if ((this.goAwayLastId !== undefined || this.peerGoneAway) && this.streams.size === 0) {
      this.finish();
    }
  }

  private connectionError(code: number, reason: string): void {
    if (this.closing) return;
    this.write(goAwayFrame(this.lastStreamId, code, reason));
    this.finish();
  }

  /** Ends the connection once what was written has left; cut after a second if the client lingers. */
  private finish(): void {
    if (this.closing) return;
    this.closing = true;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private notHttp2(received: Buffer): void {
    if (HTTP1_REQUEST.test(received.toString('latin1', 0, Math.min(received.length, 256)))) {
      this.socket.end(
        `HTTP/1.1 505 HTTP Version Not Supported\r\ncontent-type: text/plain\r\ncontent-length: ${NOT_HTTP2.length}\r\nconnection: close\r\n\r\n${NOT_HTTP2}`,
      );
    } else {
      this.write(goAwayFrame(0, ERROR.PROTOCOL_ERROR, 'not the HTTP/2 connection preface'));
      this.socket.end();
    }
    this.closing = true;
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private onSocketClose(): void {
    this.closing = true;
    for (const stream of [...this.streams.values()]) {
      stream.closed = true;
      this.streams.delete(stream.id);
      stream.handler?.onClose();
    }
    this.blocked.clear();
    for (const listener of this.closeListeners) listener();
  }
}
