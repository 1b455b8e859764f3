// gRPC's length-prefixed messages on an HTTP/2 stream: a 1-byte compressed
// flag, a 4-byte big-endian length, then the message. A message usually
// arrives in one DATA chunk and is handed on as a view of it (no copy); the
// length is checked against the limit from the prefix alone, before any of
// the message is buffered.

import { GrpcError } from './grpc-error.js';

export interface Frame {
  compressed: boolean;
  data: Buffer;
}

const PREFIX_BYTES = 5;

/** One message, framed for the wire. */
export function frameMessage(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(PREFIX_BYTES + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  message.copy(out, PREFIX_BYTES);
  return out;
}

export function tooLarge(bytes: number, maxBytes: number): GrpcError {
  return new GrpcError(
    'RESOURCE_EXHAUSTED',
    `the request message is ${bytes} bytes, more than this server's limit of ${maxBytes} (--max-body-bytes)`,
  );
}

/** Splits a stream's DATA chunks into messages. */
export class FrameReader {
  private readonly maxBytes: number;
  private pending: Buffer | undefined;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** True when part of a message is still expected. */
  get partial(): boolean {
    return this.pending !== undefined;
  }

  /** The whole messages the chunk completes; throws RESOURCE_EXHAUSTED past the limit. */
  push(chunk: Buffer): Frame[] {
    let buf = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = undefined;
    const frames: Frame[] = [];
    while (buf.length >= PREFIX_BYTES) {
      const length = buf.readUInt32BE(1);
      if (length > this.maxBytes) throw tooLarge(length, this.maxBytes);
      const end = PREFIX_BYTES + length;
      if (buf.length < end) break;
      frames.push({ compressed: buf[0] !== 0, data: buf.subarray(PREFIX_BYTES, end) });
      buf = buf.subarray(end);
    }
    // Waiting for the rest of a message: keep a copy only of what is incomplete.
    if (buf.length > 0) this.pending = Buffer.from(buf);
    return frames;
  }
}
