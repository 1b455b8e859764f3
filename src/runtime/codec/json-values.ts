// Conversions between JSON values (nested arrays) and host tensors, shared by
// both protocols. Parsing walks the nested arrays once, checking raggedness and
// element types while writing straight into a typed array (no Array.flat).
// Formatting writes JSON text directly from typed arrays.

import type { OipDatatype, TfjsDtype } from '../dtypes.js';
import { integerRange } from '../dtypes.js';
import { invalidInput } from '../errors.js';
import type { HostTensor, TensorData } from '../tensors.js';
import { allocate } from '../tensors.js';

/** What a JSON leaf must look like for one input. */
export interface ElementRule {
  input: string;
  dtype: TfjsDtype;
  /** The declared wire type, e.g. DT_UINT8 or UINT8, for messages and range checks. */
  wire: string;
  range: [number, number] | undefined;
  /** TF Serving's {"b64": "..."} objects (only for DT_STRING inputs). */
  allowB64: boolean;
  /** How b64 objects are named in messages when disallowed. */
  protocol: 'tfserving' | 'oip';
}

/**
 * TF Serving's REST API takes the bare tokens NaN, Infinity and -Infinity
 * where numbers go (JSON has none of them). parse-json.ts rewrites them into
 * these strings, starting with a NUL character no JSON text holds unescaped,
 * before JSON.parse; a float element reads them back as the values they name
 * (as it would the same characters sent escaped as a JSON string), and a
 * string element refuses them.
 */
export const NON_FINITE_TOKENS: Readonly<Record<string, number>> = {
  '\u0000NaN': NaN,
  '\u0000Infinity': Infinity,
  '\u0000-Infinity': -Infinity,
};

const FLOAT32_MAX = 3.4028234663852886e38;
const FLOAT16_MAX = 65504;
const utf8 = new TextEncoder();

export function ruleFor(
  input: string,
  dtype: TfjsDtype,
  wire: string,
  oip: OipDatatype | undefined,
  protocol: 'tfserving' | 'oip',
): ElementRule {
  let range = oip === undefined ? undefined : integerRange(oip);
  if (dtype === 'int32') {
    // tfjs computes every integer type in int32: values outside it cannot be represented.
    const [lo, hi] = range ?? [-2147483648, 2147483647];
    range = [Math.max(lo, -2147483648), Math.min(hi, 2147483647)];
  } else if (dtype === 'float32') {
    range =
      oip === 'FP16' || wire === 'DT_HALF'
        ? [-FLOAT16_MAX, FLOAT16_MAX]
        : [-FLOAT32_MAX, FLOAT32_MAX];
  }
  return {
    input,
    dtype,
    wire,
    range,
    allowB64: dtype === 'string' && protocol === 'tfserving',
    protocol,
  };
}

function where(rule: ElementRule, path: readonly number[]): string {
  return `input "${rule.input}"${path.length ? ` element ${path.map((i) => `[${i}]`).join('')}` : ''}`;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string' && Object.hasOwn(NON_FINITE_TOKENS, v)) return v.slice(1);
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string')
    return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${v}`;
  return typeof v;
}

function isB64(v: unknown): v is { b64: string } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'b64' in v;
}

const B64_RE = /^[A-Za-z0-9+/_-]*={0,2}$/;

function decodeB64(rule: ElementRule, v: { b64: unknown }, path: readonly number[]): Uint8Array {
  if (typeof v.b64 !== 'string' || !B64_RE.test(v.b64) || Object.keys(v).length !== 1) {
    throw invalidInput(`${where(rule, path)}: {"b64": ...} must hold one base64 string`);
  }
  const buf = Buffer.from(v.b64, 'base64');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Writes one leaf into out[index]; throws a precise INVALID_INPUT when it does not fit the rule. */
function writeLeaf(
  rule: ElementRule,
  out: TensorData,
  index: number,
  v: unknown,
  path: readonly number[],
): void {
  switch (rule.dtype) {
    case 'float32': {
      if (typeof v !== 'number') {
        if (typeof v === 'string' && Object.hasOwn(NON_FINITE_TOKENS, v)) {
          (out as Float32Array)[index] = NON_FINITE_TOKENS[v] as number;
          return;
        }
        if (isB64(v)) throw b64NotAllowed(rule, path);
        throw invalidInput(
          `${where(rule, path)} is ${describe(v)}; expected a number (${rule.wire})`,
        );
      }
      const [lo, hi] = rule.range as [number, number];
      if (v < lo || v > hi)
        throw invalidInput(`${where(rule, path)} = ${v} is out of range for ${rule.wire}`);
      (out as Float32Array)[index] = v;
      return;
    }
    case 'int32': {
      if (typeof v !== 'number' || !Number.isInteger(v)) {
        if (isB64(v)) throw b64NotAllowed(rule, path);
        throw invalidInput(
          `${where(rule, path)} is ${describe(v)}; expected an integer (${rule.wire})`,
        );
      }
      const [lo, hi] = rule.range as [number, number];
      if (v < lo || v > hi) {
        // Past 2^53 JSON numbers arrive rounded: quoting the rounded digits would misquote the request.
        const shown = Number.isSafeInteger(v) ? String(v) : `about ${v.toPrecision(4)}`;
        throw invalidInput(
          `${where(rule, path)} = ${shown} is out of range for ${rule.wire} (${lo}..${hi})`,
        );
      }
      (out as Int32Array)[index] = v;
      return;
    }
    case 'bool': {
      if (typeof v !== 'boolean') {
        if (isB64(v)) throw b64NotAllowed(rule, path);
        throw invalidInput(
          `${where(rule, path)} is ${describe(v)}; expected true or false (${rule.wire})`,
        );
      }
      (out as Uint8Array)[index] = v ? 1 : 0;
      return;
    }
    case 'string': {
      if (typeof v === 'string' && !Object.hasOwn(NON_FINITE_TOKENS, v)) {
        (out as Uint8Array[])[index] = utf8.encode(v);
        return;
      }
      if (isB64(v)) {
        if (!rule.allowB64) throw b64NotAllowed(rule, path);
        (out as Uint8Array[])[index] = decodeB64(rule, v, path);
        return;
      }
      throw invalidInput(
        `${where(rule, path)} is ${describe(v)}; expected a string (${rule.wire})`,
      );
    }
  }
}

function b64NotAllowed(rule: ElementRule, path: readonly number[]): Error {
  return invalidInput(
    rule.protocol === 'tfserving'
      ? `${where(rule, path)}: {"b64": ...} is only allowed for DT_STRING inputs, and this input is ${rule.wire}`
      : `${where(rule, path)}: {"b64": ...} objects are not part of the Open Inference Protocol; send BYTES as strings or use the binary tensor extension`,
  );
}

/**
 * Most dimensions a tensor in a JSON body may have. Deeper nesting is refused
 * before anything recurses over it (5,000 levels overflowed the stack).
 */
export const MAX_RANK = 32;

/**
 * Shape of a nested JSON array, read along its first elements (raggedness is
 * checked when filling); it stops one level past MAX_RANK.
 */
export function inferShape(value: unknown): number[] {
  const shape: number[] = [];
  let v = value;
  while (Array.isArray(v) && shape.length <= MAX_RANK) {
    shape.push(v.length);
    if (v.length === 0) break;
    v = v[0];
  }
  return shape;
}

function fill(
  rule: ElementRule,
  value: unknown,
  shape: readonly number[],
  depth: number,
  out: TensorData,
  state: { i: number },
  path: number[],
): void {
  if (depth === shape.length) {
    if (Array.isArray(value)) {
      throw invalidInput(
        `${where(rule, path)} is nested deeper than the other elements (ragged array)`,
      );
    }
    writeLeaf(rule, out, state.i++, value, path);
    return;
  }
  if (!Array.isArray(value)) {
    throw invalidInput(
      `${where(rule, path)} is ${describe(value)} where an array of ${shape[depth]} elements was expected (ragged array)`,
    );
  }
  if (value.length !== shape[depth]) {
    throw invalidInput(
      `${where(rule, path)} has ${value.length} elements but ${shape[depth]} were expected (ragged array)`,
    );
  }
  if (depth === shape.length - 1 && rule.dtype === 'float32') {
    // Fast path for the innermost dimension of float tensors.
    const f = out as Float32Array;
    const [lo, hi] = rule.range as [number, number];
    for (let k = 0; k < value.length; k++) {
      const v: unknown = value[k];
      if (typeof v === 'number' && v >= lo && v <= hi) f[state.i++] = v;
      else {
        path.push(k);
        writeLeaf(rule, out, state.i++, v, path);
        path.pop();
      }
    }
    return;
  }
  for (let k = 0; k < value.length; k++) {
    path.push(k);
    fill(rule, value[k], shape, depth + 1, out, state, path);
    path.pop();
  }
}

/** Converts a nested JSON array (or scalar) to a tensor whose shape is read from the value itself. */
export function tensorFromNested(rule: ElementRule, value: unknown): HostTensor {
  const shape = inferShape(value);
  return tensorWithShape(rule, value, shape);
}

/** Converts a nested JSON array that must have exactly `shape`. */
export function tensorWithShape(rule: ElementRule, value: unknown, shape: number[]): HostTensor {
  if (shape.length > MAX_RANK) {
    throw invalidInput(
      `${where(rule, [])} is nested more than ${MAX_RANK} levels deep; a tensor has at most ${MAX_RANK} dimensions`,
    );
  }
  let size = 1;
  for (const d of shape) size *= d;
  const data = allocate(rule.dtype, size);
  fill(rule, value, shape, 0, data, { i: 0 }, []);
  return { dtype: rule.dtype, shape, data };
}

/** Converts rows (one JSON value per instance) into a tensor [rows, ...instanceShape]. */
export function tensorFromRows(rule: ElementRule, rows: readonly unknown[]): HostTensor {
  const inner = inferShape(rows[0]);
  return tensorWithShape(rule, rows, [rows.length, ...inner]);
}

/** Converts a flat JSON array of exactly prod(shape) leaves. */
export function tensorFromFlat(
  rule: ElementRule,
  data: readonly unknown[],
  shape: number[],
): HostTensor {
  const out = allocate(rule.dtype, data.length);
  const path = [0];
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (Array.isArray(v)) throw invalidInput(`${where(rule, [i])} is an array inside flat data`);
    if (rule.dtype === 'float32' && typeof v === 'number') {
      const [lo, hi] = rule.range as [number, number];
      if (v >= lo && v <= hi) {
        (out as Float32Array)[i] = v;
        continue;
      }
    }
    path[0] = i;
    writeLeaf(rule, out, i, v, path);
  }
  return { dtype: rule.dtype, shape, data: out };
}

// ---------------------------------------------------------------------------
// Formatting

/**
 * Shortest decimal that reads back as the same float32 (so 0.1f prints as 0.1,
 * not 0.10000000149011612).
 */
export function formatFloat32(v: number): string {
  if (Number.isInteger(v) && Math.abs(v) < 1e21) return String(v);
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  let p = 6;
  if (Math.fround(Number(v.toPrecision(p))) === v) {
    while (p > 1 && Math.fround(Number(v.toPrecision(p - 1))) === v) p--;
  } else {
    while (p < 9 && Math.fround(Number(v.toPrecision(p))) !== v) p++;
  }
  return String(Number(v.toPrecision(p)));
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

export interface FormatOptions {
  /** TF Serving: outputs named *_bytes are base64 objects. */
  b64Strings: boolean;
  /**
   * OIP: the output's name, for the error when an element is not UTF-8 (a JSON
   * string cannot carry it). Without it (TF Serving) such an element is
   * written as a base64 object, TF Serving's form for bytes.
   */
  refuseNonUtf8?: string;
}

function formatLeaf(t: HostTensor, i: number, opts: FormatOptions): string {
  switch (t.dtype) {
    case 'float32':
      return formatFloat32((t.data as Float32Array)[i] as number);
    case 'int32':
      return String((t.data as Int32Array)[i]);
    case 'bool':
      return (t.data as Uint8Array)[i] ? 'true' : 'false';
    case 'string': {
      const bytes = (t.data as Uint8Array[])[i] as Uint8Array;
      const b64 = (): string =>
        `{"b64":"${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}"}`;
      if (opts.b64Strings) return b64();
      try {
        return JSON.stringify(utf8Decoder.decode(bytes));
      } catch {
        if (opts.refuseNonUtf8 === undefined) return b64();
        throw invalidInput(
          `output "${opts.refuseNonUtf8}" element ${i} holds bytes that are not UTF-8, which a JSON string cannot carry; request it as binary data ("parameters": {"binary_data": true})`,
        );
      }
    }
  }
}

/** JSON text of elements [start, start+prod(shape)) of t, nested according to shape. */
export function formatNested(
  t: HostTensor,
  shape: readonly number[],
  start: number,
  opts: FormatOptions,
): string {
  const parts: string[] = [];
  const state = { i: start };
  const rec = (depth: number): void => {
    if (depth === shape.length) {
      parts.push(formatLeaf(t, state.i++, opts));
      return;
    }
    parts.push('[');
    const n = shape[depth] as number;
    for (let k = 0; k < n; k++) {
      if (k > 0) parts.push(',');
      rec(depth + 1);
    }
    parts.push(']');
  };
  rec(0);
  return parts.join('');
}

/** JSON text of all elements as one flat array. */
export function formatFlat(t: HostTensor, opts: FormatOptions): string {
  const n = Array.isArray(t.data) ? t.data.length : t.data.length;
  const parts = new Array<string>(n);
  for (let i = 0; i < n; i++) parts[i] = formatLeaf(t, i, opts);
  return `[${parts.join(',')}]`;
}
