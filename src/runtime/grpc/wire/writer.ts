// Protocol Buffers' wire format, written for the hot path's answers: sizes
// first, then one buffer written front to back (no intermediate chunks).

import { WIRE_LENGTH, WIRE_VARINT } from './reader.js';

export function varintSize(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  let size = 5;
  for (let v = Math.floor(value / 2 ** 35); v > 0; v = Math.floor(v / 128)) size++;
  return size;
}

/** Tag and length prefix plus the payload, for a length-delimited field. */
export function lengthFieldSize(field: number, length: number): number {
  return varintSize(field << 3) + varintSize(length) + length;
}

export class WireWriter {
  readonly buf: Buffer;
  pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** A non-negative integer up to 2^53 as a varint. */
  varint(value: number): void {
    const { buf } = this;
    let v = value;
    while (v >= 0x80) {
      buf[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    buf[this.pos++] = v;
  }

  tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  /** A non-negative int64 field element (shapes). */
  int64Field(field: number, value: number): void {
    this.tag(field, WIRE_VARINT);
    this.varint(value);
  }

  bytesField(field: number, bytes: Uint8Array): void {
    this.tag(field, WIRE_LENGTH);
    this.varint(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** A string already measured with Buffer.byteLength. */
  stringField(field: number, value: string, byteLength: number): void {
    this.tag(field, WIRE_LENGTH);
    this.varint(byteLength);
    this.pos += this.buf.write(value, this.pos, byteLength, 'utf8');
  }

  /** The header of an embedded message whose encoding follows. */
  messageHeader(field: number, length: number): void {
    this.tag(field, WIRE_LENGTH);
    this.varint(length);
  }

  /** The whole buffer, checked to be exactly filled. */
  finish(): Buffer {
    if (this.pos !== this.buf.length)
      throw new Error(`wrote ${this.pos} bytes of the ${this.buf.length} measured`);
    return this.buf;
  }
}
