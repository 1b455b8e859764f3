// The binary tensor data extension of the Open Inference Protocol (KServe v2,
// as implemented by Triton and used by default by tritonclient): the body is a
// JSON header of `Inference-Header-Content-Length` bytes followed by raw tensor
// bytes, little-endian, in the order of the inputs that declare
// `parameters.binary_data_size`. BYTES elements are each a 4-byte
// little-endian length followed by the bytes.

import type { OipDatatype } from '../dtypes.js';
import { oipElementSize } from '../dtypes.js';
import { invalidInput } from '../errors.js';
import type { HostTensor } from '../tensors.js';
import type { ElementRule } from './json-values.js';

export const HEADER_LENGTH = 'inference-header-content-length';

/** Splits a binary-extension body into its JSON header and the raw bytes after it. */
export function splitBody(body: Buffer, headerLength: string): { header: Buffer; rest: Buffer } {
  const n = Number(headerLength);
  if (!Number.isInteger(n) || n < 0) {
    throw invalidInput(`Inference-Header-Content-Length "${headerLength}" is not a byte count`);
  }
  if (n > body.length) {
    throw invalidInput(
      `Inference-Header-Content-Length is ${n} but the body has only ${body.length} bytes`,
    );
  }
  return { header: body.subarray(0, n), rest: body.subarray(n) };
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

function floatToHalf(v: number): number {
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  f32[0] = v;
  const x = u32[0] as number;
  const sign = (x >> 16) & 0x8000;
  const exp = ((x >> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (((x >> 23) & 0xff) === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  if (exp >= 31) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    const m = (mant | 0x800000) >> (1 - exp);
    return sign | ((m + 0x1000) >> 13);
  }
  return sign | (exp << 10) | ((mant + 0x1000) >> 13);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Decodes `count` elements of raw little-endian bytes into a host tensor.
 * `inPlace`: `raw` lies in a buffer that holds its request body alone, so
 * aligned FP32 and INT32 data may be viewed there rather than copied.
 */
export function decodeRaw(
  rule: ElementRule,
  datatype: OipDatatype,
  raw: Buffer,
  shape: number[],
  count: number,
  inPlace = false,
): HostTensor {
  const where = `input "${rule.input}"`;
  if (datatype === 'BYTES') {
    const out: Uint8Array[] = [];
    let off = 0;
    while (off < raw.length) {
      if (off + 4 > raw.length)
        throw invalidInput(`${where}: BYTES element ${out.length} has a truncated length prefix`);
      const len = raw.readUInt32LE(off);
      off += 4;
      if (off + len > raw.length)
        throw invalidInput(`${where}: BYTES element ${out.length} runs past the end of its data`);
      out.push(new Uint8Array(raw.subarray(off, off + len)));
      off += len;
    }
    if (out.length !== count) {
      throw invalidInput(
        `${where}: binary data holds ${out.length} BYTES elements but shape [${shape.join(',')}] needs ${count}`,
      );
    }
    return { dtype: 'string', shape, data: out };
  }
  const size = oipElementSize(datatype) as number;
  if (raw.length !== count * size) {
    throw invalidInput(
      `${where}: binary_data_size is ${raw.length} bytes but shape [${shape.join(',')}] of ${datatype} needs ${count * size}`,
    );
  }
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const viewable = (size: number): boolean =>
    inPlace && LITTLE_ENDIAN && raw.byteOffset % size === 0;
  const range = rule.range;
  const checkInt = (v: number, i: number): number => {
    if (range !== undefined && (v < range[0] || v > range[1])) {
      throw invalidInput(
        `${where} element ${i} = ${v} is out of range for ${datatype} as computed by tfjs (int32)`,
      );
    }
    return v;
  };
  switch (datatype) {
    case 'FP32': {
      // A view when the body is in place and the data aligned (see http/body-reader.ts);
      // otherwise a copy into an aligned, transferable buffer. NaN/Inf are legal in binary floats.
      if (viewable(4))
        return {
          dtype: 'float32',
          shape,
          data: new Float32Array(raw.buffer, raw.byteOffset, count),
        };
      const out = new Float32Array(count);
      new Uint8Array(out.buffer).set(raw);
      return { dtype: 'float32', shape, data: out };
    }
    case 'FP64':
    case 'FP16': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++)
        out[i] =
          datatype === 'FP64' ? dv.getFloat64(i * 8, true) : halfToFloat(dv.getUint16(i * 2, true));
      return { dtype: 'float32', shape, data: out };
    }
    case 'BOOL': {
      const out = new Uint8Array(count);
      for (let i = 0; i < count; i++) out[i] = raw[i] ? 1 : 0;
      return { dtype: 'bool', shape, data: out };
    }
    case 'INT32': {
      if (viewable(4))
        return { dtype: 'int32', shape, data: new Int32Array(raw.buffer, raw.byteOffset, count) };
      const out = new Int32Array(count);
      new Uint8Array(out.buffer).set(raw);
      return { dtype: 'int32', shape, data: out };
    }
    default: {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        let v: number;
        switch (datatype) {
          case 'INT8':
            v = dv.getInt8(i);
            break;
          case 'UINT8':
            v = dv.getUint8(i);
            break;
          case 'INT16':
            v = dv.getInt16(i * 2, true);
            break;
          case 'UINT16':
            v = dv.getUint16(i * 2, true);
            break;
          case 'UINT32':
            v = dv.getUint32(i * 4, true);
            break;
          case 'INT64':
            v = Number(dv.getBigInt64(i * 8, true));
            break;
          case 'UINT64':
            v = Number(dv.getBigUint64(i * 8, true));
            break;
          default:
            throw invalidInput(`${where}: datatype ${String(datatype)} cannot be decoded`);
        }
        out[i] = checkInt(v, i);
      }
      return { dtype: 'int32', shape, data: out };
    }
  }
}

/** Encodes a host tensor's elements as raw little-endian bytes of `datatype`. */
export function encodeRaw(t: HostTensor, datatype: OipDatatype): Buffer {
  if (t.dtype === 'string') {
    const items = t.data as Uint8Array[];
    let total = 0;
    for (const b of items) total += 4 + b.length;
    const out = Buffer.allocUnsafe(total);
    let off = 0;
    for (const b of items) {
      out.writeUInt32LE(b.length, off);
      out.set(b, off + 4);
      off += 4 + b.length;
    }
    return out;
  }
  const data = t.data as Float32Array | Int32Array | Uint8Array;
  if (
    (datatype === 'FP32' && t.dtype === 'float32') ||
    (datatype === 'INT32' && t.dtype === 'int32')
  ) {
    return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }
  if (datatype === 'BOOL' && t.dtype === 'bool')
    return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const size = oipElementSize(datatype) as number;
  const out = Buffer.alloc(data.length * size);
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    switch (datatype) {
      case 'FP64':
        dv.setFloat64(i * 8, v, true);
        break;
      case 'FP32':
        dv.setFloat32(i * 4, v, true);
        break;
      case 'FP16':
        dv.setUint16(i * 2, floatToHalf(v), true);
        break;
      case 'INT8':
        dv.setInt8(i, v);
        break;
      case 'UINT8':
        dv.setUint8(i, v);
        break;
      case 'BOOL':
        dv.setUint8(i, v ? 1 : 0);
        break;
      case 'INT16':
        dv.setInt16(i * 2, v, true);
        break;
      case 'UINT16':
        dv.setUint16(i * 2, v, true);
        break;
      case 'INT32':
        dv.setInt32(i * 4, v, true);
        break;
      case 'UINT32':
        dv.setUint32(i * 4, v, true);
        break;
      case 'INT64':
        dv.setBigInt64(i * 8, BigInt(Math.trunc(v)), true);
        break;
      case 'UINT64':
        dv.setBigUint64(i * 8, BigInt(Math.trunc(v)), true);
        break;
      case 'BYTES':
        break;
    }
  }
  return out;
}

export { floatToHalf, halfToFloat };
