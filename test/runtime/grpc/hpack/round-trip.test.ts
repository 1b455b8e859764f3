// Our encoder and decoder over sequences of header lists, with random table
// sizes and size updates between blocks: every list comes out as it went in,
// and after each block the decoder's dynamic table is the encoder's.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HpackDecoder } from '../../../../src/runtime/grpc/transport/hpack/decoder.js';
import { HpackEncoder } from '../../../../src/runtime/grpc/transport/hpack/encoder.js';

const latin1 = (maxLength: number): fc.Arbitrary<string> =>
  fc.uint8Array({ maxLength }).map((octets) => Buffer.from(octets).toString('latin1'));

// Names and values from small pools repeat (so entries are found again) and
// arbitrary octet strings do not; some values are long enough to evict.
const name = fc.oneof(
  fc.constantFrom(
    ':path',
    'content-type',
    'te',
    'grpc-timeout',
    'x-request-id',
    'authorization',
    'date',
  ),
  latin1(12),
);
const value = fc.oneof(
  fc.constantFrom('', 'application/grpc', 'trailers', '/inference.GRPCInferenceService/ModelInfer'),
  latin1(40),
  latin1(600),
);
const fields = fc.array(fc.tuple(name, value), { maxLength: 10 });

type Step = { fields: Array<[string, string]> } | { peerTableSize: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fields.map((f) => ({ fields: f })) },
  { weight: 1, arbitrary: fc.nat(5000).map((n) => ({ peerTableSize: n })) },
);

describe('HpackEncoder -> HpackDecoder', () => {
  it('round-trips sequences of header lists with the two tables in step', () => {
    fc.assert(
      fc.property(
        fc.nat(5000),
        fc.nat(5000),
        fc.array(step, { minLength: 1, maxLength: 12 }),
        fc.func(fc.boolean()),
        (decoderMax, encoderMax, steps, sensitive) => {
          const decoder = new HpackDecoder({ maxTableSize: decoderMax });
          const encoder = new HpackEncoder({ maxTableSize: encoderMax });
          // The peer has our SETTINGS before its first block.
          encoder.setPeerMaxTableSize(decoderMax);
          let peerMax = decoderMax;
          for (const s of steps) {
            if ('peerTableSize' in s) {
              // The peer may use any size up to our setting.
              peerMax = Math.min(s.peerTableSize, decoderMax);
              encoder.setPeerMaxTableSize(peerMax);
              continue;
            }
            const block = encoder.encode(s.fields, { neverIndex: (n) => sensitive(n) });
            expect(decoder.decode(block)).toEqual(s.fields);
            expect(decoder.table.entries()).toEqual(encoder.table.entries());
            expect(decoder.table.size).toBe(encoder.table.size);
            expect(decoder.table.maxSize).toBe(encoder.table.maxSize);
            expect(encoder.table.maxSize).toBe(Math.min(encoderMax, peerMax));
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('signals the smallest size since the last block, then the final one (§4.2)', () => {
    const encoder = new HpackEncoder();
    encoder.encode([['x-a', 'b']]);
    encoder.setPeerMaxTableSize(0);
    encoder.setPeerMaxTableSize(4096);
    // 20 = size 0, then 3f e1 1f = 4096.
    expect(encoder.encode([]).toString('hex')).toBe('203fe11f');
    expect(encoder.table.entries()).toEqual([]);
  });

  it('makes repeated fields 1-byte indexed fields from the second block on', () => {
    const encoder = new HpackEncoder();
    const request: Array<[string, string]> = [
      [':method', 'POST'],
      [':scheme', 'http'],
      [':path', '/inference.GRPCInferenceService/ModelInfer'],
      [':authority', 'localhost:8081'],
      ['content-type', 'application/grpc'],
      ['te', 'trailers'],
      ['user-agent', 'grpc-node-js/1.12.0'],
    ];
    const first = encoder.encode(request);
    const second = encoder.encode(request);
    expect(first.length).toBeGreaterThan(request.length * 2);
    expect(second.length).toBe(request.length);
    expect([...second].every((b) => b >= 0x80)).toBe(true);
  });

  it('sends sensitive fields as never-indexed literals and keeps them out of the table', () => {
    const encoder = new HpackEncoder();
    const block = encoder.encode([['authorization', 'Bearer x']], {
      neverIndex: (n) => n === 'authorization',
    });
    // 0001 prefix, static name index 23 (15 + 8 in the 4-bit prefix: 1f 08).
    expect(block.subarray(0, 2).toString('hex')).toBe('1f08');
    expect(encoder.table.entries()).toEqual([]);
    expect(new HpackDecoder().decode(block)).toEqual([['authorization', 'Bearer x']]);
  });

  it('refuses a char above U+00FF before changing its table', () => {
    const encoder = new HpackEncoder();
    expect(() =>
      encoder.encode([
        ['x-ok', 'fine'],
        ['x-bad', 'caf\u00e9 \u2713'],
      ]),
    ).toThrow(
      new RangeError(
        'HPACK: header text has char U+2713 at 5 of "café ✓": fields are octets, pass latin1 strings',
      ),
    );
    expect(encoder.table.entries()).toEqual([]);
  });
});
