// HPACK cost per header block (src/runtime/grpc/transport/hpack/): a gRPC
// ModelInfer request block decoded once its fields are in the dynamic table
// (every request after a connection's first), the first block of a
// connection (Huffman-coded literals), and a response block encoded.
// Standalone, not part of `npm run bench`: `npx tsx bench/runtime/hpack.ts`.

import { HpackDecoder } from '../../src/runtime/grpc/transport/hpack/decoder.js';
import { HpackEncoder } from '../../src/runtime/grpc/transport/hpack/encoder.js';

type Fields = Array<[string, string]>;

const REQUEST: Fields = [
  [':method', 'POST'],
  [':scheme', 'http'],
  [':path', '/inference.GRPCInferenceService/ModelInfer'],
  [':authority', 'localhost:8001'],
  ['content-type', 'application/grpc'],
  ['te', 'trailers'],
  ['user-agent', 'grpc-node-js/1.12.0'],
  ['grpc-accept-encoding', 'identity,deflate,gzip'],
];
const RESPONSE: Fields = [
  [':status', '200'],
  ['content-type', 'application/grpc'],
  ['grpc-accept-encoding', 'identity,deflate,gzip'],
];

/**
 * Nanoseconds per call of fn: the best of several rounds after a warm-up, so
 * other processes on a shared machine inflate it less.
 */
function timeNs(fn: () => unknown, rounds = 7, roundMs = 200): number {
  for (let i = 0; i < 20_000; i++) fn();
  let best = Infinity;
  for (let round = 0; round < rounds; round++) {
    let n = 0;
    const start = performance.now();
    while (performance.now() - start < roundMs) {
      for (let i = 0; i < 1000; i++) fn();
      n += 1000;
    }
    best = Math.min(best, ((performance.now() - start) * 1e6) / n);
  }
  return best;
}

const encoder = new HpackEncoder();
const first = encoder.encode(REQUEST);
const steady = encoder.encode(REQUEST);
const decoder = new HpackDecoder();
decoder.decode(first);

// A varying grpc-timeout, as a literal with an indexed name (not indexed, as clients send it).
const timeoutBlock = Buffer.concat([
  steady,
  Buffer.from('0f 2e 04 3939 396d'.replace(/ /g, ''), 'hex'),
]);
decoder.decode(timeoutBlock);

interface Row {
  what: string;
  fields: number;
  /** The block's size (decoded or encoded). */
  bytes: number;
  run: () => unknown;
}

const rows: Row[] = [
  {
    what: 'decode, all fields indexed (steady state)',
    fields: REQUEST.length,
    bytes: steady.length,
    run: () => decoder.decode(steady),
  },
  {
    what: 'decode, indexed + literal grpc-timeout',
    fields: REQUEST.length + 1,
    bytes: timeoutBlock.length,
    run: () => decoder.decode(timeoutBlock),
  },
  {
    what: "decode, a connection's first block (fresh decoder)",
    fields: REQUEST.length,
    bytes: first.length,
    run: () => new HpackDecoder().decode(first),
  },
  {
    what: 'encode response, all fields indexed',
    fields: RESPONSE.length,
    bytes: encoder.encode(RESPONSE).length,
    run: () => encoder.encode(RESPONSE),
  },
  {
    what: 'encode request, first block (fresh encoder)',
    fields: REQUEST.length,
    bytes: first.length,
    run: () => new HpackEncoder().encode(REQUEST),
  },
];

console.log(`HPACK, gRPC ModelInfer request of ${REQUEST.length} fields (node ${process.version})`);
for (const { what, fields, bytes, run } of rows) {
  const ns = timeNs(run);
  console.log(
    `${what.padEnd(52)} ${ns.toFixed(0).padStart(6)} ns/block ${(ns / fields).toFixed(0).padStart(5)} ns/field  (${fields} fields, ${bytes} bytes)`,
  );
}
