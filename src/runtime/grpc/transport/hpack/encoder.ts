// Encodes header lists into blocks (RFC 7541 §6). A field found whole in the
// static or dynamic table becomes one indexed byte or two; any other field
// is a literal, added to the dynamic table (incremental indexing) unless it
// is sensitive (never indexed, §7.1.3) or would take more than half the
// table, so that repeated fields (a server's response headers, a client's
// request headers) are indexed from the second block on. A string is
// Huffman-encoded when that is shorter.

import { entrySize } from './dynamic-table.js';
import { huffmanEncode, huffmanLength } from './huffman.js';
import { IndexedDynamicTable } from './indexed-table.js';
import { STATIC_TABLE } from './static-table.js';

export interface HpackEncoderOptions {
  /** The most dynamic table this encoder keeps, whatever the peer allows (default 4096). */
  maxTableSize?: number;
}

export interface EncodeOptions {
  /** Names whose fields are sent as never-indexed literals (credentials, cookies). */
  neverIndex?: (name: string) => boolean;
}

/** Throws for a char above U+00FF: a field's text is octets. */
function checkLatin1(text: string): void {
  for (let at = 0; at < text.length; at++)
    if (text.charCodeAt(at) > 0xff)
      throw new RangeError(
        `HPACK: header text has char U+${text.charCodeAt(at).toString(16).padStart(4, '0')} at ${at} of ${JSON.stringify(text)}: fields are octets, pass latin1 strings`,
      );
}

/** SETTINGS_HEADER_TABLE_SIZE's initial value (RFC 9113 §6.5.2). */
const DEFAULT_PEER_TABLE_SIZE = 4096;

/** Static lookups: name -> value -> index, and name -> the first index with that name. */
const STATIC_FIELDS = new Map<string, Map<string, number>>();
const STATIC_NAMES = new Map<string, number>();
for (let index = STATIC_TABLE.length - 1; index >= 1; index--) {
  const [name, value] = STATIC_TABLE[index]!;
  STATIC_NAMES.set(name, index);
  let values = STATIC_FIELDS.get(name);
  if (values === undefined) STATIC_FIELDS.set(name, (values = new Map<string, number>()));
  values.set(value, index);
}

export class HpackEncoder {
  /** The dynamic table, for inspection: the peer's decoder holds the same entries. */
  readonly table: IndexedDynamicTable;
  private readonly maxTableSize: number;
  /** The smallest size the table took since the last block, and whether it changed. */
  private smallestPending: number;
  private resized: boolean;
  private out = Buffer.allocUnsafe(256);
  private pos = 0;

  constructor(options: HpackEncoderOptions = {}) {
    this.maxTableSize = options.maxTableSize ?? 4096;
    const size = Math.min(this.maxTableSize, DEFAULT_PEER_TABLE_SIZE);
    this.table = new IndexedDynamicTable(size);
    this.smallestPending = size;
    // The peer's decoder starts at 4096: a smaller table must be announced.
    this.resized = size !== DEFAULT_PEER_TABLE_SIZE;
  }

  /** The peer's SETTINGS_HEADER_TABLE_SIZE changed: the next block starts with a size update. */
  setPeerMaxTableSize(size: number): void {
    const next = Math.min(this.maxTableSize, size);
    this.table.resize(next);
    this.smallestPending = Math.min(this.smallestPending, next);
    this.resized = true;
  }

  /**
   * One header block. Names and values are latin1 strings (one char per
   * octet); a char above U+00FF throws a RangeError before anything changes,
   * so the dynamic table stays in step with the peer's.
   */
  encode(fields: Array<[string, string]>, options: EncodeOptions = {}): Buffer {
    // A field found in a table is known to be latin1; only new text is checked.
    for (const [name, value] of fields) {
      if (this.fieldIndex(name, value) === 0) {
        checkLatin1(name);
        checkLatin1(value);
      }
    }
    this.pos = 0;
    if (this.resized) {
      // §4.2: the smallest size since the last block, then the final one.
      if (this.smallestPending < this.table.maxSize) this.integer(0x20, 0x1f, this.smallestPending);
      this.integer(0x20, 0x1f, this.table.maxSize);
      this.smallestPending = this.table.maxSize;
      this.resized = false;
    }
    const neverIndex = options.neverIndex;
    for (const [name, value] of fields) {
      if (neverIndex?.(name) === true) {
        this.literal(0x10, 0x0f, name, value);
        continue;
      }
      const index = this.fieldIndex(name, value);
      if (index !== 0) {
        this.integer(0x80, 0x7f, index);
      } else if (entrySize(name, value) <= this.table.maxSize / 2) {
        this.literal(0x40, 0x3f, name, value);
        this.table.add(name, value);
      } else {
        this.literal(0x00, 0x0f, name, value);
      }
    }
    const block = Buffer.allocUnsafe(this.pos);
    this.out.copy(block, 0, 0, this.pos);
    return block;
  }

  /** The index of a static or dynamic entry holding this name and value, or 0. */
  private fieldIndex(name: string, value: string): number {
    return STATIC_FIELDS.get(name)?.get(value) ?? this.table.fieldIndex(name, value);
  }

  /** A literal field: `flags` and an N-bit prefix (`mask`) for the name's index. */
  private literal(flags: number, mask: number, name: string, value: string): void {
    const nameIndex = STATIC_NAMES.get(name) ?? this.table.nameIndex(name);
    this.integer(flags, mask, nameIndex);
    if (nameIndex === 0) this.string(name);
    this.string(value);
  }

  /** An integer with an N-bit prefix (§5.1), `mask` = 2^N - 1, after `flags`. */
  private integer(flags: number, mask: number, value: number): void {
    this.reserve(6);
    const out = this.out;
    if (value < mask) {
      out[this.pos++] = flags | value;
      return;
    }
    out[this.pos++] = flags | mask;
    let rest = value - mask;
    while (rest >= 0x80) {
      out[this.pos++] = (rest & 0x7f) | 0x80;
      rest >>>= 7;
    }
    out[this.pos++] = rest;
  }

  /** A string literal (§5.2), Huffman-encoded when shorter. */
  private string(text: string): void {
    const huffman = huffmanLength(text);
    if (huffman < text.length) {
      this.integer(0x80, 0x7f, huffman);
      this.reserve(huffman);
      this.pos = huffmanEncode(text, this.out, this.pos);
      return;
    }
    this.integer(0x00, 0x7f, text.length);
    this.reserve(text.length);
    this.pos += this.out.write(text, this.pos, 'latin1');
  }

  private reserve(bytes: number): void {
    if (this.pos + bytes <= this.out.length) return;
    const out = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.pos + bytes));
    this.out.copy(out, 0, 0, this.pos);
    this.out = out;
  }
}
