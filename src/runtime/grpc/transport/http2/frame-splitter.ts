// Splits what a client sends into HTTP/2 frames: first the connection
// preface, then 9-byte headers and their payloads. A frame usually arrives
// within one read and is handed on as a view of it; one split across reads
// is kept as pieces and joined once when it is whole (its own bytes only:
// the rest of the read stays a view). A length past the
// limit is refused from the frame's header, before its payload is buffered.

import { CLIENT_PREFACE, FRAME_HEADER_BYTES } from './protocol.js';

export interface FrameSink {
  /** The client's preface arrived: it speaks HTTP/2. */
  onPreface(): void;
  /** One frame; false stops the splitting (the connection is closing). */
  onFrame(type: number, flags: number, streamId: number, payload: Buffer): boolean;
}

/** Why the bytes cannot be read as HTTP/2 frames; undefined when all is well. */
export type SplitError =
  { kind: 'not-http2'; received: Buffer } | { kind: 'frame-too-large'; length: number };

function frameLength(buf: Buffer, at: number): number {
  return (buf[at]! << 16) | (buf[at + 1]! << 8) | buf[at + 2]!;
}

export class FrameSplitter {
  private readonly maxFrameBytes: number;
  private prefaceSeen = false;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes the kept pieces must reach before anything can be read from them. */
  private needed = 0;
  /** Set when the sink asked to stop: nothing more is split. */
  private stopped = false;

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes;
  }

  push(chunk: Buffer, sink: FrameSink): SplitError | undefined {
    let rest = chunk;
    // A frame split across reads: only its own bytes are joined, and the
    // rest of this read is split as a view.
    while (this.pendingBytes > 0) {
      const missing = this.needed - this.pendingBytes;
      if (rest.length < missing) {
        this.pending.push(rest);
        this.pendingBytes += rest.length;
        return undefined;
      }
      this.pending.push(rest.subarray(0, missing));
      const joined = Buffer.concat(this.pending, this.needed);
      this.pending = [];
      this.pendingBytes = 0;
      rest = rest.subarray(missing);
      // Whole now, or a frame header whose length says how much more to join.
      const error = this.split(joined, sink);
      if (error !== undefined) return error;
      if (this.stopped) return undefined;
    }
    return this.split(rest, sink);
  }

  private split(buf: Buffer, sink: FrameSink): SplitError | undefined {
    if (this.stopped) return undefined;
    let offset = 0;
    if (!this.prefaceSeen) {
      const seen = Math.min(buf.length, CLIENT_PREFACE.length);
      if (!buf.subarray(0, seen).equals(CLIENT_PREFACE.subarray(0, seen))) {
        return { kind: 'not-http2', received: buf };
      }
      if (seen < CLIENT_PREFACE.length) {
        this.keep(buf, CLIENT_PREFACE.length);
        return undefined;
      }
      this.prefaceSeen = true;
      offset = CLIENT_PREFACE.length;
      sink.onPreface();
    }
    while (buf.length - offset >= FRAME_HEADER_BYTES) {
      const length = frameLength(buf, offset);
      if (length > this.maxFrameBytes) return { kind: 'frame-too-large', length };
      const end = offset + FRAME_HEADER_BYTES + length;
      if (end > buf.length) break;
      const type = buf[offset + 3]!;
      const flags = buf[offset + 4]!;
      const streamId = buf.readUInt32BE(offset + 5) & 0x7fffffff;
      const payload = buf.subarray(offset + FRAME_HEADER_BYTES, end);
      offset = end;
      if (!sink.onFrame(type, flags, streamId, payload)) {
        this.stopped = true;
        return undefined;
      }
    }
    if (offset < buf.length) {
      const rest = buf.subarray(offset);
      if (rest.length < FRAME_HEADER_BYTES) {
        this.keep(rest, FRAME_HEADER_BYTES);
        return undefined;
      }
      const length = frameLength(rest, 0);
      if (length > this.maxFrameBytes) return { kind: 'frame-too-large', length };
      this.keep(rest, FRAME_HEADER_BYTES + length);
    }
    return undefined;
  }

  private keep(rest: Buffer, needed: number): void {
    this.pending = [rest];
    this.pendingBytes = rest.length;
    this.needed = needed;
  }
}
