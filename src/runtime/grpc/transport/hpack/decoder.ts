// Decodes header blocks (RFC 7541 §6). Names and values come out as latin1
// strings, one char per octet, exactly as sent: HPACK does not judge them.
// What HTTP/2 requires of a field (no upper-case letters in names, valid
// chars, pseudo-headers first, no connection-specific fields, RFC 9113
// §8.2) is the caller's to check; an upper-case name decodes as it came.

import { DynamicTable } from './dynamic-table.js';
import { HeaderListTooLarge, HpackError } from './errors.js';
import { huffmanDecode } from './huffman.js';
import { STATIC_LENGTH, STATIC_TABLE } from './static-table.js';

export interface HpackDecoderOptions {
  /**
   * Our SETTINGS_HEADER_TABLE_SIZE: the most a size update may set, and the
   * table's size until the first update (default 4096, HTTP/2's initial
   * value: a smaller setting assumes the peer saw it before its first block).
   */
  maxTableSize?: number;
  /** Our SETTINGS_MAX_HEADER_LIST_SIZE in RFC 9113 octets (name + value + 32 per field). */
  maxHeaderListSize?: number;
}

/** The largest integer accepted (§5.1 leaves it to the implementation). */
const MAX_INTEGER = 2 ** 31 - 1;

const EMPTY = Buffer.alloc(0);

const STATIC_NAMES = STATIC_TABLE.map(([name]) => name);
const STATIC_VALUES = STATIC_TABLE.map(([, value]) => value);

export class HpackDecoder {
  /** The dynamic table, for inspection: it changes with every block. */
  readonly table: DynamicTable;
  private readonly maxTableSize: number;
  private readonly maxHeaderListSize: number;
  /** The block being decoded and the read position in it. */
  private bytes: Buffer = EMPTY;
  private pos = 0;

  constructor(options: HpackDecoderOptions = {}) {
    this.maxTableSize = options.maxTableSize ?? 4096;
    this.maxHeaderListSize = options.maxHeaderListSize ?? Infinity;
    this.table = new DynamicTable(this.maxTableSize);
  }

  /**
   * Decodes one complete header block (HEADERS + CONTINUATION payloads
   * joined). Throws HpackError for a malformed block (a connection error),
   * or HeaderListTooLarge, after decoding all of it, for a list over the limit.
   */
  decode(block: Uint8Array): Array<[name: string, value: string]> {
    // A Buffer view (not a copy) for its latin1 toString.
    this.bytes = Buffer.isBuffer(block)
      ? block
      : Buffer.from(block.buffer, block.byteOffset, block.byteLength);
    this.pos = 0;
    try {
      return this.fields();
    } finally {
      // Not kept past the call: the block is the caller's buffer.
      this.bytes = EMPTY;
    }
  }

  private fields(): Array<[string, string]> {
    const bytes = this.bytes;
    const end = bytes.length;
    const fields: Array<[string, string]> = [];
    let listSize = 0;
    while (this.pos < end) {
      const first = bytes[this.pos]!;
      let name: string;
      let value: string;
      if (first & 0x80) {
        // Indexed field (§6.1).
        const index = this.integer(0x7f);
        name = this.name(index);
        value =
          index <= STATIC_LENGTH ? STATIC_VALUES[index]! : this.table.value(index - STATIC_LENGTH);
      } else if (first & 0x40) {
        // Literal with incremental indexing (§6.2.1).
        const index = this.integer(0x3f);
        name = index === 0 ? this.string() : this.name(index);
        value = this.string();
        this.table.add(name, value);
      } else if (first & 0x20) {
        // Dynamic table size update (§6.3): only before the first field.
        if (fields.length > 0)
          throw new HpackError(
            'HPACK: a dynamic table size update after a header field (allowed only at the start of a block)',
          );
        const size = this.integer(0x1f);
        if (size > this.maxTableSize)
          throw new HpackError(
            `HPACK: a dynamic table size update to ${size} exceeds the maximum ${this.maxTableSize}`,
          );
        this.table.resize(size);
        continue;
      } else {
        // Literal without indexing (0000) or never indexed (0001) (§6.2.2, §6.2.3).
        const index = this.integer(0x0f);
        name = index === 0 ? this.string() : this.name(index);
        value = this.string();
      }
      listSize += name.length + value.length + 32;
      fields.push([name, value]);
    }
    if (listSize > this.maxHeaderListSize)
      throw new HeaderListTooLarge(listSize, this.maxHeaderListSize);
    return fields;
  }

  /** The name at a static or dynamic index (§2.3.3). */
  private name(index: number): string {
    if (index <= STATIC_LENGTH) {
      if (index === 0) throw new HpackError('HPACK: index 0 is not a valid index');
      return STATIC_NAMES[index]!;
    }
    if (index - STATIC_LENGTH > this.table.length)
      throw new HpackError(
        `HPACK: index ${index} is past the end of the table (${STATIC_LENGTH} static + ${this.table.length} dynamic entries)`,
      );
    return this.table.name(index - STATIC_LENGTH);
  }

  /** An integer with an N-bit prefix (§5.1), `mask` = 2^N - 1, starting at pos. */
  private integer(mask: number): number {
    const bytes = this.bytes;
    let value = bytes[this.pos++]! & mask;
    if (value < mask) return value;
    // At most 5 continuation bytes (35 bits) reach MAX_INTEGER; a longer run
    // (zero bytes with the continuation bit set) is refused, not read forever.
    for (let shift = 0; shift <= 28; shift += 7) {
      if (this.pos >= bytes.length) throw new HpackError('HPACK: truncated integer');
      const byte = bytes[this.pos++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (value > MAX_INTEGER) throw integerOverflow();
      if ((byte & 0x80) === 0) return value;
    }
    throw integerOverflow();
  }

  /** A string literal (§5.2), raw or Huffman-encoded, as latin1. */
  private string(): string {
    const bytes = this.bytes;
    if (this.pos >= bytes.length) throw new HpackError('HPACK: truncated string (no length)');
    const huffman = bytes[this.pos]! & 0x80;
    const length = this.integer(0x7f);
    const start = this.pos;
    const left = bytes.length - start;
    if (length > left)
      throw new HpackError(
        `HPACK: truncated string (its length is ${length} bytes, ${left} left in the block)`,
      );
    this.pos = start + length;
    return huffman
      ? huffmanDecode(bytes, start, this.pos)
      : bytes.toString('latin1', start, this.pos);
  }
}

function integerOverflow(): HpackError {
  return new HpackError(`HPACK: an integer exceeds 2^31-1`);
}
