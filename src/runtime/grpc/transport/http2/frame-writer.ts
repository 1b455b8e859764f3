// Frames as bytes: each function returns one whole frame (header and payload)
// ready for the socket.

import { FRAME, FLAG, FRAME_HEADER_BYTES } from './protocol.js';

export function writeFrameHeader(
  out: Buffer,
  offset: number,
  length: number,
  type: number,
  flags: number,
  streamId: number,
): void {
  out[offset] = length >>> 16;
  out[offset + 1] = (length >>> 8) & 0xff;
  out[offset + 2] = length & 0xff;
  out[offset + 3] = type;
  out[offset + 4] = flags;
  out.writeUInt32BE(streamId, offset + 5);
}

export function frame(type: number, flags: number, streamId: number, payload?: Buffer): Buffer {
  const length = payload?.length ?? 0;
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + length);
  writeFrameHeader(out, 0, length, type, flags, streamId);
  payload?.copy(out, FRAME_HEADER_BYTES);
  return out;
}

export function settingsFrame(settings: ReadonlyArray<readonly [number, number]>): Buffer {
  const payload = Buffer.allocUnsafe(settings.length * 6);
  settings.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(value, i * 6 + 2);
  });
  return frame(FRAME.SETTINGS, 0, 0, payload);
}

export const SETTINGS_ACK = frame(FRAME.SETTINGS, FLAG.ACK, 0);

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  const out = frame(FRAME.WINDOW_UPDATE, 0, streamId, Buffer.alloc(4));
  out.writeUInt32BE(increment, FRAME_HEADER_BYTES);
  return out;
}

export function rstStreamFrame(streamId: number, code: number): Buffer {
  const out = frame(FRAME.RST_STREAM, 0, streamId, Buffer.alloc(4));
  out.writeUInt32BE(code, FRAME_HEADER_BYTES);
  return out;
}

export function goAwayFrame(lastStreamId: number, code: number, debug = ''): Buffer {
  const text = Buffer.from(debug, 'utf8');
  const payload = Buffer.allocUnsafe(8 + text.length);
  payload.writeUInt32BE(lastStreamId, 0);
  payload.writeUInt32BE(code, 4);
  text.copy(payload, 8);
  return frame(FRAME.GOAWAY, 0, 0, payload);
}

export function pingAckFrame(opaque: Buffer): Buffer {
  return frame(FRAME.PING, FLAG.ACK, 0, opaque);
}

/** A header block as HEADERS and, past `maxFrameBytes`, CONTINUATION frames. */
export function headerFrames(
  streamId: number,
  block: Buffer,
  endStream: boolean,
  maxFrameBytes: number,
): Buffer {
  const frames = Math.max(1, Math.ceil(block.length / maxFrameBytes));
  const out = Buffer.allocUnsafe(frames * FRAME_HEADER_BYTES + block.length);
  let offset = 0;
  for (let i = 0; i < frames; i++) {
    const part = block.subarray(i * maxFrameBytes, (i + 1) * maxFrameBytes);
    const last = i === frames - 1;
    const type = i === 0 ? FRAME.HEADERS : FRAME.CONTINUATION;
    const flags = (last ? FLAG.END_HEADERS : 0) | (i === 0 && endStream ? FLAG.END_STREAM : 0);
    writeFrameHeader(out, offset, part.length, type, flags, streamId);
    part.copy(out, offset + FRAME_HEADER_BYTES);
    offset += FRAME_HEADER_BYTES + part.length;
  }
  return out;
}
