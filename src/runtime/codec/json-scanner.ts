// A byte-level JSON scanner for the hot path of numeric requests: it reads
// keys, plain strings and nested arrays of numbers straight from the body
// bytes, writing the numbers into a float32 buffer, with no JS string for the
// body and no nested JS arrays. It accepts only a strict subset of JSON and
// answers `undefined` (never throws) on anything else, so the caller falls
// back to JSON.parse and the general decoder, which give the precise error.
// Values are bit-identical to JSON.parse followed by a Float32Array store.

import { MAX_RANK } from './json-values.js';

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const LOWER_E = 0x65;
const UPPER_E = 0x45;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/** Exact powers of ten in a double (10^0 .. 10^22). */
const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));
/** Significant digits whose integer value is always exact in a double (< 2^53). */
const EXACT_DIGITS = 15;
/** Beyond this many significant digits the scanner lets Number() round. */
const MAX_DIGITS = 19;
/**
 * Relative bracket around an approximation that is off by a few double ulps
 * (2^-52 each): if both ends round to the same float32, so does the exact value.
 */
const BRACKET = 2 ** -46;
/**
 * Magnitudes from here on go to the general decoder, which checks the range on
 * the double (a double just past FLOAT32_MAX still rounds to it).
 */
const FLOAT32_LIMIT = 3.4e38;

/** A nested numeric array read by the scanner: its shape and count of values. */
export interface ScannedArray {
  shape: number[];
  count: number;
}

export class JsonScanner {
  private bytes: Uint8Array = new Uint8Array(0);
  pos = 0;
  /** Numbers land here; reused across bodies (one scanner per thread). */
  private out = new Float32Array(4096);
  private count = 0;
  private shape: number[] = [];
  private leafDepth = -1;
  private readonly latin1 = new TextDecoder('latin1');
  private readonly utf8 = new TextDecoder('utf-8');

  reset(bytes: Uint8Array): void {
    this.bytes = bytes;
    this.pos = 0;
  }

  get atEnd(): boolean {
    this.skipSpace();
    return this.pos === this.bytes.length;
  }

  skipSpace(): void {
    const b = this.bytes;
    let p = this.pos;
    while (p < b.length) {
      const c = b[p] as number;
      if (c !== SPACE && c !== LF && c !== CR && c !== TAB) break;
      p++;
    }
    this.pos = p;
  }

  /** Consumes `ch` (after whitespace) and says whether it was there. */
  take(ch: number): boolean {
    this.skipSpace();
    if (this.bytes[this.pos] !== ch) return false;
    this.pos++;
    return true;
  }

  peek(): number | undefined {
    this.skipSpace();
    return this.bytes[this.pos];
  }

  /** A string without escapes or control characters; undefined otherwise. */
  string(): string | undefined {
    if (!this.take(QUOTE)) return undefined;
    const b = this.bytes;
    const start = this.pos;
    let p = start;
    while (p < b.length) {
      const c = b[p] as number;
      if (c === QUOTE) break;
      if (c === BACKSLASH || c < SPACE) return undefined;
      p++;
    }
    if (p >= b.length) return undefined;
    this.pos = p + 1;
    return this.utf8.decode(b.subarray(start, p));
  }

  /**
   * A nested array of numbers, rectangular, at least one element in every
   * dimension; undefined otherwise (empty, ragged, a non-number, a bad number).
   * The values are read with values().
   */
  numericArray(): ScannedArray | undefined {
    this.count = 0;
    this.shape = [];
    this.leafDepth = -1;
    if (!this.array(0)) return undefined;
    return { shape: this.shape, count: this.count };
  }

  /** A copy of the values of the last numericArray(), in a buffer of its own (transferable). */
  values(): Float32Array {
    return this.out.slice(0, this.count);
  }

  private array(depth: number): boolean {
    if (depth >= MAX_RANK || !this.take(OPEN_ARRAY)) return false;
    let n = 0;
    for (;;) {
      if (this.leafDepth === -1) this.leafDepth = this.peek() === OPEN_ARRAY ? -1 : depth;
      // Above the leaves every element must be an array (array() refuses anything else).
      if (depth === this.leafDepth ? !this.number() : !this.array(depth + 1)) return false;
      n++;
      this.skipSpace();
      const c = this.bytes[this.pos];
      this.pos++;
      if (c === CLOSE_ARRAY) break;
      if (c !== COMMA) return false;
    }
    const known = this.shape[depth];
    if (known === undefined) this.shape[depth] = n;
    else if (known !== n) return false;
    return true;
  }

  /** One JSON number, stored as float32 exactly as JSON.parse + Float32Array would. */
  private number(): boolean {
    this.skipSpace();
    const b = this.bytes;
    const len = b.length;
    const start = this.pos;
    let p = start;
    // -1 past the end keeps every read a number (an out-of-bounds read is slow in V8).
    let c = p < len ? (b[p] as number) : -1;
    const negative = c === MINUS;
    if (negative) c = ++p < len ? (b[p] as number) : -1;
    if (c < ZERO || c > NINE) return false;
    let mantissa = 0;
    let digits = 0;
    let exponent = 0;
    let slow = false;
    if (c === ZERO) {
      c = ++p < len ? (b[p] as number) : -1;
      if (c >= ZERO && c <= NINE) return false;
    } else {
      while (c >= ZERO && c <= NINE) {
        if (digits < MAX_DIGITS) {
          mantissa = mantissa * 10 + (c - ZERO);
          digits++;
        } else {
          exponent++;
          slow = true;
        }
        c = ++p < len ? (b[p] as number) : -1;
      }
    }
    if (c === DOT) {
      c = ++p < len ? (b[p] as number) : -1;
      if (c < ZERO || c > NINE) return false;
      while (c >= ZERO && c <= NINE) {
        if (digits === 0 && c === ZERO) exponent--;
        else if (digits < MAX_DIGITS) {
          mantissa = mantissa * 10 + (c - ZERO);
          digits++;
          exponent--;
        } else slow = true;
        c = ++p < len ? (b[p] as number) : -1;
      }
    }
    if (c === LOWER_E || c === UPPER_E) {
      c = ++p < len ? (b[p] as number) : -1;
      let sign = 1;
      if (c === MINUS || c === PLUS) {
        if (c === MINUS) sign = -1;
        c = ++p < len ? (b[p] as number) : -1;
      }
      if (c < ZERO || c > NINE) return false;
      let e = 0;
      while (c >= ZERO && c <= NINE) {
        if (e < 100_000) e = e * 10 + (c - ZERO);
        c = ++p < len ? (b[p] as number) : -1;
      }
      exponent += sign * e;
    }
    this.pos = p;
    let f: number | undefined;
    if (!slow && exponent >= -22 && exponent <= 22) {
      // Clinger's fast path: an exact integer times or over an exact power of ten
      // is one correctly rounded operation, the double JSON.parse gives.
      const d =
        exponent >= 0
          ? mantissa * (POW10[exponent] as number)
          : mantissa / (POW10[-exponent] as number);
      if (digits <= EXACT_DIGITS) f = Math.fround(d);
      else {
        // The double is a few ulps off; accept it when the float32 cannot differ.
        const lo = Math.fround(d * (1 - BRACKET));
        const hi = Math.fround(d * (1 + BRACKET));
        if (lo === hi) f = lo;
      }
      if (f !== undefined && negative) f = -f;
    }
    // Everything else (long mantissas, large exponents, rare near-ties) rounds through Number().
    f ??= Math.fround(Number(this.latin1.decode(b.subarray(start, p))));
    if (!(f > -FLOAT32_LIMIT && f < FLOAT32_LIMIT)) return false;
    if (this.count === this.out.length) {
      const grown = new Float32Array(this.out.length * 2);
      grown.set(this.out);
      this.out = grown;
    }
    this.out[this.count++] = f;
    return true;
  }
}
