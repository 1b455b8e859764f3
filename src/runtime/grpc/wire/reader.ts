// Protocol Buffers' wire format, read straight from a message's bytes, for the
// few messages on the hot path (wire/model-infer.ts): no intermediate objects,
// `bytes` fields handed on as views of the request. Unknown fields are
// skipped, as proto3 asks. A malformed message throws a WireError saying where.

export class WireError extends Error {}

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LENGTH = 2;
export const WIRE_FIXED32 = 5;

const TWO_32 = 4294967296;

export class WireReader {
  readonly buf: Buffer;
  pos: number;
  readonly end: number;

  constructor(buf: Buffer, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** A varint of up to 32 significant bits (tags, lengths, int32, bool, enum). */
  uint32(): number {
    const { buf } = this;
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (this.pos >= this.end) throw new WireError(`truncated varint at byte ${this.pos}`);
      const b = buf[this.pos++] as number;
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value >>> 0;
    }
    // Longer encodings of 32-bit values (negative int32s take 10 bytes): the low 32 bits.
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.end) throw new WireError(`truncated varint at byte ${this.pos}`);
      if ((buf[this.pos++] as number) < 0x80) return value >>> 0;
    }
    throw new WireError(`varint longer than 10 bytes at byte ${this.pos}`);
  }

  /** A 64-bit varint as its low and high 32 bits. */
  private varint64(): [number, number] {
    const { buf } = this;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireError(`truncated varint at byte ${this.pos}`);
      const b = buf[this.pos++] as number;
      const bits = b & 0x7f;
      if (i < 4) lo |= bits << (7 * i);
      else if (i === 4) {
        lo |= (bits & 0x0f) << 28;
        hi |= bits >> 4;
      } else hi |= bits << (7 * i - 32);
      if (b < 0x80) return [lo >>> 0, hi >>> 0];
    }
    throw new WireError(`varint longer than 10 bytes at byte ${this.pos}`);
  }

  /** int64: a number when it is exact as one, else its decimal string (as proto-loader's longs: String). */
  int64(): number | string {
    const [lo, hi] = this.varint64();
    if (hi < 0x200000) return hi * TWO_32 + lo;
    if (hi >= 0xffe00000) return (hi - TWO_32) * TWO_32 + lo;
    return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo)).toString();
  }

  uint64(): number | string {
    const [lo, hi] = this.varint64();
    if (hi < 0x200000) return hi * TWO_32 + lo;
    return ((BigInt(hi) << 32n) | BigInt(lo)).toString();
  }

  int32(): number {
    return this.uint32() | 0;
  }

  bool(): boolean {
    return this.uint32() !== 0;
  }

  float(): number {
    this.need(4);
    const v = this.buf.readFloatLE(this.pos);
    this.pos += 4;
    return v;
  }

  double(): number {
    this.need(8);
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /** A length-delimited field's bytes, as a view (no copy). */
  bytes(): Buffer {
    const length = this.uint32();
    this.need(length);
    const out = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  string(): string {
    const length = this.uint32();
    this.need(length);
    const out = this.buf.toString('utf8', this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  /** A reader over an embedded message (or a packed repeated field). */
  sub(): WireReader {
    const length = this.uint32();
    this.need(length);
    const reader = new WireReader(this.buf, this.pos, this.pos + length);
    this.pos += length;
    return reader;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint64();
        return;
      case WIRE_FIXED64:
        this.need(8);
        this.pos += 8;
        return;
      case WIRE_LENGTH: {
        const length = this.uint32();
        this.need(length);
        this.pos += length;
        return;
      }
      case WIRE_FIXED32:
        this.need(4);
        this.pos += 4;
        return;
      default:
        throw new WireError(`unsupported wire type ${wireType} at byte ${this.pos}`);
    }
  }

  /**
   * A repeated scalar field, packed (one length-delimited run) or not (one
   * value per tag): both are valid encodings, and parsers take either.
   */
  repeated<T>(wireType: number, packedType: number, read: (r: WireReader) => T, into: T[]): void {
    if (wireType === WIRE_LENGTH && packedType !== WIRE_LENGTH) {
      const run = this.sub();
      while (!run.done) into.push(read(run));
      return;
    }
    if (wireType !== packedType)
      throw new WireError(`wire type ${wireType} where ${packedType} is expected`);
    into.push(read(this));
  }

  private need(bytes: number): void {
    if (this.pos + bytes > this.end)
      throw new WireError(`field of ${bytes} bytes at byte ${this.pos} runs past the message end`);
  }
}
