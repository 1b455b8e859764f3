// The Huffman code (RFC 7541 Appendix B, §5.2): the transcribed table is a
// complete canonical prefix code, any octet string survives encoding and
// decoding, and the three ways a string can end badly are told apart.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HpackError } from '../../../../src/runtime/grpc/transport/hpack/errors.js';
import {
  EOS,
  HUFFMAN_CODES,
  HUFFMAN_LENGTHS,
} from '../../../../src/runtime/grpc/transport/hpack/huffman-code.js';
import {
  huffmanDecode,
  huffmanEncode,
  huffmanLength,
} from '../../../../src/runtime/grpc/transport/hpack/huffman.js';

function encode(text: string): Buffer {
  const out = Buffer.alloc(huffmanLength(text));
  expect(huffmanEncode(text, out, 0)).toBe(out.length);
  return out;
}

const decode = (bytes: Buffer): string => huffmanDecode(bytes, 0, bytes.length);

describe('the Huffman code', () => {
  it('is the canonical code of its lengths, and complete (Kraft sum 1): the two columns agree', () => {
    expect(HUFFMAN_CODES).toHaveLength(EOS + 1);
    expect(HUFFMAN_LENGTHS).toHaveLength(EOS + 1);
    const order = [...HUFFMAN_LENGTHS.keys()].sort(
      (a, b) => HUFFMAN_LENGTHS[a]! - HUFFMAN_LENGTHS[b]! || a - b,
    );
    let code = 0;
    let length = HUFFMAN_LENGTHS[order[0]!]!;
    let kraft = 0;
    for (const symbol of order) {
      code *= 2 ** (HUFFMAN_LENGTHS[symbol]! - length);
      length = HUFFMAN_LENGTHS[symbol]!;
      expect({ symbol, code: HUFFMAN_CODES[symbol] }).toEqual({ symbol, code });
      code++;
      kraft += 2 ** -length;
    }
    expect(kraft).toBe(1);
  });

  it("codes and decodes Appendix C's strings", () => {
    const vectors: Array<[string, string]> = [
      ['www.example.com', 'f1e3c2e5f23a6ba0ab90f4ff'],
      ['no-cache', 'a8eb10649cbf'],
      ['custom-key', '25a849e95ba97d7f'],
      ['custom-value', '25a849e95bb8e8b4bf'],
      ['302', '6402'],
      ['private', 'aec3771a4b'],
      ['Mon, 21 Oct 2013 20:13:21 GMT', 'd07abe941054d444a8200595040b8166e082a62d1bff'],
      ['https://www.example.com', '9d29ad171863c78f0b97c8e9ae82ae43d3'],
      ['gzip', '9bd9ab'],
    ];
    for (const [text, hex] of vectors) {
      expect(encode(text).toString('hex')).toBe(hex);
      expect(decode(Buffer.from(hex, 'hex'))).toBe(text);
    }
  });

  it('round-trips any octet string', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (octets) => {
        const text = Buffer.from(octets).toString('latin1');
        const coded = encode(text);
        expect(Buffer.from(decode(coded), 'latin1')).toEqual(Buffer.from(octets));
      }),
      { numRuns: 500 },
    );
  });

  it('decodes a slice of a larger buffer', () => {
    const coded = encode('te trailers');
    const framed = Buffer.concat([Buffer.from([1, 2]), coded, Buffer.from([3])]);
    expect(huffmanDecode(framed, 2, 2 + coded.length)).toBe('te trailers');
  });

  it('refuses EOS inside a string', () => {
    // 'a' (00011) then EOS (30 ones), then one bit of padding.
    expect(() => decode(Buffer.from('1fffffffff', 'hex'))).toThrow(
      new HpackError('HPACK: Huffman string contains the EOS symbol'),
    );
    expect(() => decode(Buffer.from('ffffffff', 'hex'))).toThrow(/contains the EOS symbol/);
  });

  it('refuses padding longer than 7 bits', () => {
    expect(() => decode(Buffer.from('ff', 'hex'))).toThrow(
      new HpackError('HPACK: Huffman string padding is longer than 7 bits'),
    );
    // 'a' then 11 ones.
    expect(() => decode(Buffer.from('1fff', 'hex'))).toThrow(/longer than 7 bits/);
  });

  it('refuses padding that is not all ones', () => {
    // 'a' (00011) then 000.
    expect(() => decode(Buffer.from('18', 'hex'))).toThrow(
      new HpackError('HPACK: Huffman string padding is not all ones (not a prefix of EOS)'),
    );
  });

  it('decodes random bytes or refuses them with an HpackError, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (octets) => {
        try {
          const text = decode(Buffer.from(octets));
          // What decodes re-encodes to the same bytes: the code is a bijection on valid strings.
          expect(encode(text)).toEqual(Buffer.from(octets));
        } catch (error) {
          expect(error).toBeInstanceOf(HpackError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
