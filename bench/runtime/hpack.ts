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

/** Nanoseconds per call of fn, over about `seconds` after a warm-up. */
function timeNs(fn: () => unknown, seconds = 1): number {
  for (let i = 0; i < 20_000; i++) fn();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    for (let i = 0; i < 1000; i++) fn();
    n += 1000;
  }
  return ((performance.now() - start) * 1e6) / n;
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

const rows: Array<[string, number, number]> = [
  [
    'decode, all fields indexed (steady state)',
    timeNs(() => decoder.decode(steady)),
    steady.length,
  ],
  [
    'decode, indexed + literal grpc-timeout',
    timeNs(() => decoder.decode(timeoutBlock)),
    timeoutBlock.length,
  ],
  [
    "decode, a connection's first block (fresh decoder)",
    timeNs(() => new HpackDecoder().decode(first)),
    first.length,
  ],
  ['encode response, all fields indexed', timeNs(() => encoder.encode(RESPONSE)), 0],
  [
    'encode request, first block (fresh encoder)',
    timeNs(() => new HpackEncoder().encode(REQUEST)),
    first.length,
  ],
];

console.log(`HPACK, gRPC request of ${REQUEST.length} fields (node ${process.version})`);
for (const [what, ns, bytes] of rows) {
  const fields = what.startsWith('encode response')
    ? RESPONSE.length
    : what.includes('timeout')
      ? REQUEST.length + 1
      : REQUEST.length;
  console.log(
    `${what.padEnd(52)} ${ns.toFixed(0).padStart(6)} ns/block  ${(ns / fields).toFixed(0).padStart(4)} ns/field${bytes > 0 ? `  (${bytes} bytes)` : ''}`,
  );
}
