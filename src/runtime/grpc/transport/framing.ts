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

/**
 * Splits a stream's DATA chunks into messages. A large message arrives as
 * many chunks (16 KiB DATA frames): they are kept as a list and joined once
 * when the message is complete, so its bytes are copied once, not once per
 * chunk.
 */
export class FrameReader {
  private readonly maxBytes: number;
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** The length of the message being received, once its prefix is in. */
  private expected: number | undefined;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** True when part of a message is still expected. */
  get partial(): boolean {
    return this.buffered > 0;
  }

  /** The whole messages the chunk completes; throws RESOURCE_EXHAUSTED past the limit. */
  push(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    let buf = chunk;
    if (this.buffered > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      if (this.expected === undefined && this.buffered >= PREFIX_BYTES) {
        this.expected = this.readLength(Buffer.concat(this.chunks, PREFIX_BYTES));
      }
      if (this.expected === undefined || this.buffered < PREFIX_BYTES + this.expected)
        return frames;
      buf = Buffer.concat(this.chunks, this.buffered);
      this.chunks = [];
      this.buffered = 0;
      this.expected = undefined;
    }
    while (buf.length >= PREFIX_BYTES) {
      const length = this.readLength(buf);
      const end = PREFIX_BYTES + length;
      if (buf.length < end) {
        this.expected = length;
        break;
      }
      frames.push({ compressed: buf[0] !== 0, data: buf.subarray(PREFIX_BYTES, end) });
      buf = buf.subarray(end);
    }
    if (buf.length > 0) {
      // The start of a message: kept as is (a view), joined when the rest is in.
      this.chunks.push(buf);
      this.buffered = buf.length;
    }
    return frames;
  }

  private readLength(prefix: Buffer): number {
    const length = prefix.readUInt32BE(1);
    if (length > this.maxBytes) throw tooLarge(length, this.maxBytes);
    return length;
  }
}
