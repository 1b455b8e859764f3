// HPACK's Huffman code (RFC 7541 §5.2): encoding, and decoding four bits at a
// time through a state table built once at module load. A state is an
// internal node of the code tree (256 of them, the root is 0); each entry
// says, for one nibble, the state it leads to and the symbol it completes,
// if any. A nibble completes at most one symbol: no code is shorter than 5
// bits.

import { HpackError } from './errors.js';
import { EOS, HUFFMAN_CODES, HUFFMAN_LENGTHS } from './huffman-code.js';

/** Entry bits: the next state (0-255), the symbol (bits 8-15), and flags. */
const EMITS = 1 << 16;
const FAILS = 1 << 17;

const STATES = 256;
/** TRANSITIONS[state * 16 + nibble]. */
const TRANSITIONS = new Int32Array(STATES * 16);
/** Per state: how to end a string there (§5.2): OK, or which error. */
const ENDING = new Uint8Array(STATES);
const ENDS_OK = 0;
const ENDS_TOO_LONG = 1;
const ENDS_NOT_ONES = 2;

buildDecoder();

function buildDecoder(): void {
  // children[node * 2 + bit]: > 0 an internal node, < 0 a leaf (-1 - symbol), 0 none.
  const children = new Int32Array(STATES * 2);
  const depth = new Uint8Array(STATES);
  const allOnes = new Uint8Array(STATES);
  allOnes[0] = 1;
  let nodes = 1;
  for (let symbol = 0; symbol <= EOS; symbol++) {
    const code = HUFFMAN_CODES[symbol]!;
    const length = HUFFMAN_LENGTHS[symbol]!;
    let node = 0;
    for (let i = length - 1; i >= 0; i--) {
      const bit = (code >>> i) & 1;
      const slot = node * 2 + bit;
      if (i === 0) {
        if (children[slot] !== 0)
          throw new Error(`Huffman table: code ${symbol} is not a prefix code`);
        children[slot] = -1 - symbol;
      } else {
        if (children[slot]! < 0)
          throw new Error(`Huffman table: code ${symbol} is not a prefix code`);
        if (children[slot] === 0) {
          depth[nodes] = depth[node]! + 1;
          allOnes[nodes] = allOnes[node]! & bit;
          children[slot] = nodes++;
        }
        node = children[slot]!;
      }
    }
  }
  if (nodes !== STATES)
    throw new Error(`Huffman table: ${nodes} internal nodes, expected ${STATES}`);

  for (let state = 0; state < STATES; state++) {
    ENDING[state] =
      allOnes[state] === 0 ? ENDS_NOT_ONES : depth[state]! > 7 ? ENDS_TOO_LONG : ENDS_OK;
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let entry = 0;
      for (let i = 3; i >= 0; i--) {
        const child = children[node * 2 + ((nibble >>> i) & 1)]!;
        if (child > 0) {
          node = child;
          continue;
        }
        const symbol = -1 - child;
        // EOS is 30 bits, so a nibble that completes it completes nothing else.
        entry = symbol === EOS ? FAILS : EMITS | (symbol << 8);
        node = 0;
      }
      TRANSITIONS[state * 16 + nibble] = entry | node;
    }
  }
}

/** Reused output for decoding: a string is at most 8/5 of its Huffman length. */
let scratch = Buffer.allocUnsafe(1024);

/** Decodes `bytes[start, end)` to a latin1 string (each octet one char). */
export function huffmanDecode(bytes: Uint8Array, start: number, end: number): string {
  const capacity = Math.ceil(((end - start) * 8) / 5);
  if (scratch.length < capacity) scratch = Buffer.allocUnsafe(capacity * 2);
  const out = scratch;
  let written = 0;
  let state = 0;
  for (let i = start; i < end; i++) {
    const byte = bytes[i]!;
    let entry = TRANSITIONS[(state << 4) | (byte >>> 4)]!;
    if (entry & EMITS) out[written++] = (entry >>> 8) & 0xff;
    else if (entry & FAILS) throw eosError();
    entry = TRANSITIONS[((entry & 0xff) << 4) | (byte & 0x0f)]!;
    if (entry & EMITS) out[written++] = (entry >>> 8) & 0xff;
    else if (entry & FAILS) throw eosError();
    state = entry & 0xff;
  }
  const ending = ENDING[state];
  if (ending === ENDS_TOO_LONG)
    throw new HpackError('HPACK: Huffman string padding is longer than 7 bits');
  if (ending === ENDS_NOT_ONES)
    throw new HpackError('HPACK: Huffman string padding is not all ones (not a prefix of EOS)');
  return out.toString('latin1', 0, written);
}

function eosError(): HpackError {
  return new HpackError('HPACK: Huffman string contains the EOS symbol');
}

/** The Huffman-encoded length of a latin1 string in bytes. */
export function huffmanLength(text: string): number {
  let bits = 0;
  for (let i = 0; i < text.length; i++) bits += HUFFMAN_LENGTHS[text.charCodeAt(i) & 0xff]!;
  return (bits + 7) >>> 3;
}

/**
 * Writes the Huffman code of a latin1 string at `offset` (the caller checked
 * huffmanLength fits); returns the offset after it. The last byte is padded
 * with ones, the start of EOS.
 */
export function huffmanEncode(text: string, out: Uint8Array, offset: number): number {
  // `pending` holds `bits` (< 8) bits waiting for a byte. Adding at most 24
  // keeps it within 31 bits, so a code of 25-30 bits goes in two parts.
  let pending = 0;
  let bits = 0;
  let at = offset;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i) & 0xff;
    let code = HUFFMAN_CODES[c]!;
    let length = HUFFMAN_LENGTHS[c]!;
    if (length > 24) {
      pending = (pending << (length - 16)) | (code >>> 16);
      bits += length - 16;
      code &= 0xffff;
      length = 16;
      for (; bits >= 8; bits -= 8) out[at++] = pending >>> (bits - 8);
      pending &= (1 << bits) - 1;
    }
    pending = (pending << length) | code;
    bits += length;
    for (; bits >= 8; bits -= 8) out[at++] = pending >>> (bits - 8);
    pending &= (1 << bits) - 1;
  }
  if (bits > 0) out[at++] = (pending << (8 - bits)) | (0xff >>> bits);
  return at;
}
