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
 * Where a large message that arrives in pieces is assembled: a buffer from
 * `allocate` (the runtime's pool of request bodies, reused rather than left to
 * the garbage collector), placed so that the bytes at `alignedOffset` (a
 * tensor's data) are 4-byte aligned and can be viewed instead of copied.
 */
export interface MessagePlacement {
  /** Messages shorter than this are joined as before (small, and short-lived). */
  minBytes: number;
  allocate(pad: number, length: number): Buffer;
  /** Read from the message's first bytes; undefined when they do not say. */
  alignedOffset?: (prefix: Buffer) => number | undefined;
}

/**
 * Splits a stream's DATA chunks into messages. A large message arrives as
 * many chunks (16 KiB DATA frames): they are kept as a list and joined once
 * when the message is complete, so its bytes are copied once, not once per
 * chunk; with a `placement`, a message of `minBytes` or more is copied chunk
 * by chunk into the buffer placement gives it.
 */
export class FrameReader {
  private readonly maxBytes: number;
  private readonly placement: MessagePlacement | undefined;
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** The length of the message being received, once its prefix is in. */
  private expected: number | undefined;
  /** A placed message being filled: its buffer, flag and bytes so far. */
  private target: Buffer | undefined;
  private targetCompressed = false;
  private filled = 0;

  constructor(maxBytes: number, placement?: MessagePlacement) {
    this.maxBytes = maxBytes;
    this.placement = placement;
  }

  /** True when part of a message is still expected. */
  get partial(): boolean {
    return this.buffered > 0 || this.target !== undefined;
  }

  /** The whole messages the chunk completes; throws RESOURCE_EXHAUSTED past the limit. */
  push(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    let buf = chunk;
    if (this.target !== undefined) {
      const n = Math.min(buf.length, this.target.length - this.filled);
      buf.copy(this.target, this.filled, 0, n);
      this.filled += n;
      if (this.filled < this.target.length) return frames;
      frames.push({ compressed: this.targetCompressed, data: this.target });
      this.target = undefined;
      buf = buf.subarray(n);
    } else if (this.buffered > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      if (this.expected === undefined && this.buffered >= PREFIX_BYTES) {
        this.expected = this.readLength(Buffer.concat(this.chunks, PREFIX_BYTES));
      }
      if (this.expected === undefined) return frames;
      if (this.buffered < PREFIX_BYTES + this.expected) {
        if (this.placed(this.expected)) this.place(Buffer.concat(this.chunks, this.buffered));
        return frames;
      }
      buf = Buffer.concat(this.chunks, this.buffered);
      this.chunks = [];
      this.buffered = 0;
      this.expected = undefined;
    }
    while (buf.length >= PREFIX_BYTES) {
      const length = this.readLength(buf);
      const end = PREFIX_BYTES + length;
      if (buf.length < end) {
        if (this.placed(length)) {
          this.place(buf);
          return frames;
        }
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

  private placed(length: number): boolean {
    return this.placement !== undefined && length >= this.placement.minBytes;
  }

  /** Starts a placed message from `start` (its prefix and first bytes). */
  private place(start: Buffer): void {
    const placement = this.placement!;
    const length = start.readUInt32BE(1);
    const compressed = start[0] !== 0;
    const first = start.subarray(PREFIX_BYTES);
    const offset = compressed ? undefined : placement.alignedOffset?.(first);
    const pad = offset === undefined ? 0 : (4 - (offset % 4)) % 4;
    this.target = placement.allocate(pad, length);
    this.targetCompressed = compressed;
    this.filled = first.copy(this.target);
    this.chunks = [];
    this.buffered = 0;
    this.expected = undefined;
  }

  private readLength(prefix: Buffer): number {
    const length = prefix.readUInt32BE(1);
    if (length > this.maxBytes) throw tooLarge(length, this.maxBytes);
    return length;
  }
}
