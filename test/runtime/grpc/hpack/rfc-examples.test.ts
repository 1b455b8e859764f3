// RFC 7541 Appendix C, transcribed: each example's bytes decode to its
// header list and leave the dynamic table (entries, newest first, and size)
// as the RFC shows; our encoder writes the Huffman examples byte for byte.

import { describe, expect, it } from 'vitest';
import { HpackDecoder } from '../../../../src/runtime/grpc/transport/hpack/decoder.js';
import { HpackEncoder } from '../../../../src/runtime/grpc/transport/hpack/encoder.js';

type Fields = Array<[string, string]>;

interface Step {
  hex: string;
  fields: Fields;
  table: Fields;
  size: number;
}

const bytes = (hex: string): Buffer => Buffer.from(hex.replace(/\s+/g, ''), 'hex');

function decodeSeries(maxTableSize: number, steps: Step[]): void {
  const decoder = new HpackDecoder({ maxTableSize });
  for (const step of steps) {
    expect(decoder.decode(bytes(step.hex))).toEqual(step.fields);
    expect(decoder.table.entries()).toEqual(step.table);
    expect(decoder.table.size).toBe(step.size);
  }
}

const REQUEST_1: Fields = [
  [':method', 'GET'],
  [':scheme', 'http'],
  [':path', '/'],
  [':authority', 'www.example.com'],
];
const REQUEST_2: Fields = [
  [':method', 'GET'],
  [':scheme', 'http'],
  [':path', '/'],
  [':authority', 'www.example.com'],
  ['cache-control', 'no-cache'],
];
const REQUEST_3: Fields = [
  [':method', 'GET'],
  [':scheme', 'https'],
  [':path', '/index.html'],
  [':authority', 'www.example.com'],
  ['custom-key', 'custom-value'],
];
const REQUEST_TABLES: Array<[Fields, number]> = [
  [[[':authority', 'www.example.com']], 57],
  [
    [
      ['cache-control', 'no-cache'],
      [':authority', 'www.example.com'],
    ],
    110,
  ],
  [
    [
      ['custom-key', 'custom-value'],
      ['cache-control', 'no-cache'],
      [':authority', 'www.example.com'],
    ],
    164,
  ],
];

const C4_HEX = [
  '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
  '8286 84be 5886 a8eb 1064 9cbf',
  '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
];

const DATE_1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const DATE_2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const LOCATION = 'https://www.example.com';
const COOKIE = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
const RESPONSE_1: Fields = [
  [':status', '302'],
  ['cache-control', 'private'],
  ['date', DATE_1],
  ['location', LOCATION],
];
const RESPONSE_2: Fields = [
  [':status', '307'],
  ['cache-control', 'private'],
  ['date', DATE_1],
  ['location', LOCATION],
];
const RESPONSE_3: Fields = [
  [':status', '200'],
  ['cache-control', 'private'],
  ['date', DATE_2],
  ['location', LOCATION],
  ['content-encoding', 'gzip'],
  ['set-cookie', COOKIE],
];
const RESPONSE_TABLES: Array<[Fields, number]> = [
  [
    [
      ['location', LOCATION],
      ['date', DATE_1],
      ['cache-control', 'private'],
      [':status', '302'],
    ],
    222,
  ],
  [
    [
      [':status', '307'],
      ['location', LOCATION],
      ['date', DATE_1],
      ['cache-control', 'private'],
    ],
    222,
  ],
  [
    [
      ['set-cookie', COOKIE],
      ['content-encoding', 'gzip'],
      ['date', DATE_2],
    ],
    215,
  ],
];

const C6_HEX = [
  `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
   2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
  '4883 640e ffc1 c0bf',
  `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
   77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
   9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
];

function series(hex: string[], fields: Fields[], tables: Array<[Fields, number]>): Step[] {
  return hex.map((h, i) => ({
    hex: h,
    fields: fields[i]!,
    table: tables[i]![0],
    size: tables[i]![1],
  }));
}

describe('RFC 7541 Appendix C', () => {
  it('C.1: integers with 5- and 8-bit prefixes (10, 1337, 42)', () => {
    // A size update carries a 5-bit-prefix integer: 1337 is 1f 9a 0a (C.1.2).
    const decoder = new HpackDecoder();
    expect(decoder.decode(bytes('3f9a0a'))).toEqual([]);
    expect(decoder.table.maxSize).toBe(1337);
    expect(decoder.decode(bytes('2a'))).toEqual([]);
    expect(decoder.table.maxSize).toBe(10);
    const encoder = new HpackEncoder();
    encoder.setPeerMaxTableSize(1337);
    expect(encoder.encode([]).toString('hex')).toBe('3f9a0a');
    // 42 as a string length (an 8-bit-prefix integer after the H bit is C.1.3's form).
    const value = 'x'.repeat(42);
    expect(
      new HpackDecoder().decode(bytes(`0001 61 2a ${Buffer.from(value).toString('hex')}`)),
    ).toEqual([['a', value]]);
  });

  it('C.2.1: a literal field with indexing', () => {
    decodeSeries(4096, [
      {
        hex: '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572',
        fields: [['custom-key', 'custom-header']],
        table: [['custom-key', 'custom-header']],
        size: 55,
      },
    ]);
  });

  it('C.2.2: a literal field without indexing', () => {
    decodeSeries(4096, [
      {
        hex: '040c 2f73 616d 706c 652f 7061 7468',
        fields: [[':path', '/sample/path']],
        table: [],
        size: 0,
      },
    ]);
  });

  it('C.2.3: a literal field never indexed', () => {
    decodeSeries(4096, [
      {
        hex: '1008 7061 7373 776f 7264 0673 6563 7265 74',
        fields: [['password', 'secret']],
        table: [],
        size: 0,
      },
    ]);
  });

  it('C.2.4: an indexed field', () => {
    decodeSeries(4096, [{ hex: '82', fields: [[':method', 'GET']], table: [], size: 0 }]);
  });

  it('C.3: requests without Huffman coding', () => {
    decodeSeries(
      4096,
      series(
        [
          '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
          '8286 84be 5808 6e6f 2d63 6163 6865',
          '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
        ],
        [REQUEST_1, REQUEST_2, REQUEST_3],
        REQUEST_TABLES,
      ),
    );
  });

  it('C.4: requests with Huffman coding', () => {
    decodeSeries(4096, series(C4_HEX, [REQUEST_1, REQUEST_2, REQUEST_3], REQUEST_TABLES));
  });

  it('C.4: the encoder writes the same bytes and table', () => {
    const encoder = new HpackEncoder();
    [REQUEST_1, REQUEST_2, REQUEST_3].forEach((fields, i) => {
      expect(encoder.encode(fields).toString('hex')).toBe(bytes(C4_HEX[i]!).toString('hex'));
      expect(encoder.table.entries()).toEqual(REQUEST_TABLES[i]![0]);
      expect(encoder.table.size).toBe(REQUEST_TABLES[i]![1]);
    });
  });

  it('C.5: responses without Huffman coding, evicting in a 256-byte table', () => {
    decodeSeries(
      256,
      series(
        [
          `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
           2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
           6c65 2e63 6f6d`,
          '4803 3330 37c1 c0bf',
          `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
           54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
           5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
           3d31`,
        ],
        [RESPONSE_1, RESPONSE_2, RESPONSE_3],
        RESPONSE_TABLES,
      ),
    );
  });

  it('C.6: responses with Huffman coding, evicting in a 256-byte table', () => {
    decodeSeries(256, series(C6_HEX, [RESPONSE_1, RESPONSE_2, RESPONSE_3], RESPONSE_TABLES));
  });

  it('C.6: the encoder writes the same bytes, after announcing its 256-byte table', () => {
    const encoder = new HpackEncoder({ maxTableSize: 256 });
    // "307" is 3 bytes raw or Huffman-coded: C.6.2 codes it, we send it raw (as
    // C.5.2 does), which is cheaper to decode.
    const hex = [C6_HEX[0]!, '4803 3330 37c1 c0bf', C6_HEX[2]!];
    [RESPONSE_1, RESPONSE_2, RESPONSE_3].forEach((fields, i) => {
      // The peer's decoder starts at 4096: the first block shrinks it (3f e1 01 = 256).
      const expected = (i === 0 ? '3fe101' : '') + bytes(hex[i]!).toString('hex');
      expect(encoder.encode(fields).toString('hex')).toBe(expected);
      expect(encoder.table.entries()).toEqual(RESPONSE_TABLES[i]![0]);
      expect(encoder.table.size).toBe(RESPONSE_TABLES[i]![1]);
    });
  });
});
