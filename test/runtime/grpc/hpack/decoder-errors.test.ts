// Every way a header block can be malformed fails with its own HpackError
// message; random and corrupted blocks decode or fail with an HpackError,
// never with anything else and never by hanging.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HpackDecoder } from '../../../../src/runtime/grpc/transport/hpack/decoder.js';
import { HpackEncoder } from '../../../../src/runtime/grpc/transport/hpack/encoder.js';
import {
  HeaderListTooLarge,
  HpackError,
} from '../../../../src/runtime/grpc/transport/hpack/errors.js';

const bytes = (hex: string): Buffer => Buffer.from(hex.replace(/\s+/g, ''), 'hex');

function failure(hex: string, options?: ConstructorParameters<typeof HpackDecoder>[0]): unknown {
  try {
    new HpackDecoder(options).decode(bytes(hex));
  } catch (error) {
    return error;
  }
  throw new Error(`${hex} decoded`);
}

describe('HpackDecoder errors', () => {
  const cases: Array<[what: string, hex: string, message: string]> = [
    ['index 0', '80', 'HPACK: index 0 is not a valid index'],
    ['index 0 after a field', '82 80', 'HPACK: index 0 is not a valid index'],
    [
      'an index past the table',
      'be',
      'HPACK: index 62 is past the end of the table (61 static + 0 dynamic entries)',
    ],
    [
      'a literal name index past the table',
      '40 0161 0162 7f02 0163',
      'HPACK: index 65 is past the end of the table (61 static + 1 dynamic entries)',
    ],
    [
      'a size update above the maximum',
      '3f e2 1f',
      'HPACK: a dynamic table size update to 4097 exceeds the maximum 4096',
    ],
    [
      'a size update after a field',
      '82 20',
      'HPACK: a dynamic table size update after a header field (allowed only at the start of a block)',
    ],
    [
      'padding longer than 7 bits',
      '00 0161 81ff',
      'HPACK: Huffman string padding is longer than 7 bits',
    ],
    [
      'padding not all ones',
      '00 0161 8118',
      'HPACK: Huffman string padding is not all ones (not a prefix of EOS)',
    ],
    ['the EOS symbol', '00 0161 84ffffffff', 'HPACK: Huffman string contains the EOS symbol'],
    ['an integer over 2^31-1', 'ff ffffffff0f', 'HPACK: an integer exceeds 2^31-1'],
    [
      'an endless run of continuation bytes',
      'ff 80808080808080808000',
      'HPACK: an integer exceeds 2^31-1',
    ],
    ['a string length over 2^31-1', '00 7f ffffffff0f', 'HPACK: an integer exceeds 2^31-1'],
    ['a truncated integer', 'ff', 'HPACK: truncated integer'],
    ['an integer cut in its continuation', 'ff 8080', 'HPACK: truncated integer'],
    [
      'a truncated string',
      '00 0161 056162',
      'HPACK: truncated string (its length is 5 bytes, 2 left in the block)',
    ],
    ['a string with no length', '00 0161', 'HPACK: truncated string (no length)'],
    ['a literal with no name', '40', 'HPACK: truncated string (no length)'],
  ];
  for (const [what, hex, message] of cases) {
    it(`refuses ${what}`, () => {
      const error = failure(hex);
      expect(error).toBeInstanceOf(HpackError);
      expect((error as Error).message).toBe(message);
    });
  }

  it('accepts an integer of exactly 2^31-1 (as a size update, refused only for its size)', () => {
    const max = 2 ** 31 - 1;
    let rest = max - 31;
    const tail: number[] = [];
    while (rest >= 0x80) {
      tail.push((rest & 0x7f) | 0x80);
      rest = Math.floor(rest / 128);
    }
    tail.push(rest);
    const hex = '3f' + Buffer.from(tail).toString('hex');
    expect((failure(hex) as Error).message).toBe(
      `HPACK: a dynamic table size update to ${max} exceeds the maximum 4096`,
    );
    expect(new HpackDecoder({ maxTableSize: max }).decode(bytes(hex))).toEqual([]);
  });

  it('accepts size updates only up to its own maximum, and several at the start', () => {
    const decoder = new HpackDecoder({ maxTableSize: 100 });
    expect(decoder.decode(bytes('20 3f45 82'))).toEqual([[':method', 'GET']]);
    expect(decoder.table.maxSize).toBe(100);
    expect((failure('3f46', { maxTableSize: 100 }) as Error).message).toBe(
      'HPACK: a dynamic table size update to 101 exceeds the maximum 100',
    );
  });

  it('decodes a whole block over maxHeaderListSize, then throws HeaderListTooLarge with its size', () => {
    const decoder = new HpackDecoder({ maxHeaderListSize: 100 });
    // :method GET, :path /, then a: b with incremental indexing.
    let error: unknown;
    try {
      decoder.decode(bytes('82 84 40 0161 0162'));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(HeaderListTooLarge);
    expect(error).toBeInstanceOf(HpackError);
    expect(error).toMatchObject({
      size: 7 + 3 + 32 + (5 + 1 + 32) + (1 + 1 + 32),
      limit: 100,
      message: 'HPACK: the header list is 114 bytes, over the limit of 100',
    });
    // The field after the limit was still indexed: the next block can refer to it.
    expect(decoder.table.entries()).toEqual([['a', 'b']]);
    expect(decoder.decode(bytes('be'))).toEqual([['a', 'b']]);
  });

  it('keeps latin1 octets as they are, raw or Huffman-coded', () => {
    const octets = Buffer.from([0x61, 0x00, 0xff, 0x80, 0xe9]);
    const raw = Buffer.concat([bytes('00 0178 05'), octets]);
    expect(new HpackDecoder().decode(raw)).toEqual([['x', octets.toString('latin1')]]);
    const encoded = new HpackEncoder().encode([['x', octets.toString('latin1')]]);
    expect(new HpackDecoder().decode(encoded)).toEqual([['x', octets.toString('latin1')]]);
  });

  it('decodes a Uint8Array view into a larger buffer', () => {
    const backing = new Uint8Array([9, 9, 0x82, 0x86, 9]);
    expect(new HpackDecoder().decode(backing.subarray(2, 4))).toEqual([
      [':method', 'GET'],
      [':scheme', 'http'],
    ]);
  });
});

/** Decodes or throws an HpackError; anything else fails the property. */
function decodesOrRefuses(decoder: HpackDecoder, block: Uint8Array): void {
  try {
    decoder.decode(block);
  } catch (error) {
    if (!(error instanceof HpackError)) throw error;
  }
}

const field = fc.tuple(
  fc.constantFrom('content-type', ':path', 'x-id', 'grpc-timeout', 'authorization'),
  fc.oneof(fc.constantFrom('application/grpc', '1S', ''), fc.string({ maxLength: 20 })),
);

describe('HpackDecoder on malformed input', () => {
  it('decodes random bytes or refuses them with an HpackError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(4096), (block, maxTableSize) => {
        decodesOrRefuses(new HpackDecoder({ maxTableSize, maxHeaderListSize: 200 }), block);
      }),
      { numRuns: 3000 },
    );
  });

  it('decodes corrupted valid blocks, or refuses them with an HpackError', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.nat(255) }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.array(field, { maxLength: 6 }), { minLength: 1, maxLength: 5 }),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        (lists, mutations) => {
          const encoder = new HpackEncoder();
          const decoder = new HpackDecoder();
          const blocks = lists.map((fields) => encoder.encode(fields));
          // All but the last block arrive intact, so the tables hold entries to point at.
          for (const block of blocks.slice(0, -1)) decoder.decode(block);
          let block = [...blocks.at(-1)!];
          for (const m of mutations) {
            const at = block.length === 0 ? 0 : m.at % block.length;
            if (m.kind === 'flip') block[at]! ^= 1 << m.bit;
            else if (m.kind === 'cut') block = block.slice(0, at);
            else block.splice(at, 0, m.byte);
          }
          decodesOrRefuses(decoder, Uint8Array.from(block));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
