// Cross-check against an independent HPACK: node:http2's client (nghttp2,
// which uses Huffman coding, the dynamic table and never-indexed fields)
// sends random header lists over real connections to a raw `net` server that
// reads the frames itself and decodes each HEADERS (+ CONTINUATION) block
// with our HpackDecoder; it answers with HEADERS blocks from our HpackEncoder,
// which nghttp2 must read back as the fields we sent.

import { once } from 'node:events';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HpackDecoder } from '../../../../src/runtime/grpc/transport/hpack/decoder.js';
import { HpackEncoder } from '../../../../src/runtime/grpc/transport/hpack/encoder.js';

type Fields = Array<[string, string]>;

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const HEADERS = 0x1;
const SETTINGS = 0x4;
const CONTINUATION = 0x9;
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
const SETTINGS_HEADER_TABLE_SIZE = 0x1;

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

interface RawServer {
  port: number;
  /** Every request's decoded header list, in arrival order. */
  requests: Fields[];
  /** Anything that went wrong on the server side (a failed decode, a bad preface). */
  errors: unknown[];
  /** Aborted at the first error, so the client stops waiting for an answer. */
  failed: AbortSignal;
  close(): Promise<void>;
}

/**
 * An h2c server of frames and HPACK only: it acknowledges SETTINGS (taking
 * the client's header table size for its encoder), decodes each request's
 * header block and answers it with `respond(request)` in one HEADERS frame
 * that ends the stream.
 */
async function rawServer(
  decoderTableSize: number,
  respond: (request: Fields) => Fields,
): Promise<RawServer> {
  const requests: Fields[] = [];
  const errors: unknown[] = [];
  const failure = new AbortController();
  const fail = (error: unknown): void => {
    errors.push(error);
    failure.abort(error);
  };
  const server = net.createServer((socket) => {
    const decoder = new HpackDecoder({ maxTableSize: decoderTableSize });
    const encoder = new HpackEncoder();
    const settings = Buffer.alloc(6);
    settings.writeUInt16BE(SETTINGS_HEADER_TABLE_SIZE, 0);
    settings.writeUInt32BE(decoderTableSize, 2);
    socket.write(frame(SETTINGS, 0, 0, settings));
    let pending = Buffer.alloc(0);
    let prefaced = false;
    let block: Buffer[] = [];
    let blockStream = 0;
    const endOfBlock = (): void => {
      const request = decoder.decode(Buffer.concat(block));
      requests.push(request);
      socket.write(
        frame(HEADERS, END_HEADERS | END_STREAM, blockStream, encoder.encode(respond(request))),
      );
    };
    socket.on('error', fail);
    socket.on('data', (chunk: Buffer) => {
      try {
        pending = Buffer.concat([pending, chunk]);
        if (!prefaced) {
          if (pending.length < PREFACE.length) return;
          if (!pending.subarray(0, PREFACE.length).equals(PREFACE)) throw new Error('no preface');
          pending = pending.subarray(PREFACE.length);
          prefaced = true;
        }
        while (pending.length >= 9) {
          const length = pending.readUIntBE(0, 3);
          if (pending.length < 9 + length) break;
          const [type, flags] = [pending[3]!, pending[4]!];
          const stream = pending.readUInt32BE(5) & 0x7fffffff;
          let payload = pending.subarray(9, 9 + length);
          pending = pending.subarray(9 + length);
          if (type === SETTINGS && (flags & ACK) === 0) {
            for (let at = 0; at + 6 <= payload.length; at += 6)
              if (payload.readUInt16BE(at) === SETTINGS_HEADER_TABLE_SIZE)
                encoder.setPeerMaxTableSize(payload.readUInt32BE(at + 2));
            socket.write(frame(SETTINGS, ACK, 0, Buffer.alloc(0)));
          } else if (type === HEADERS) {
            if (flags & PADDED) payload = payload.subarray(1, payload.length - payload[0]!);
            if (flags & PRIORITY) payload = payload.subarray(5);
            block = [payload];
            blockStream = stream;
            if (flags & END_HEADERS) endOfBlock();
          } else if (type === CONTINUATION) {
            block.push(payload);
            if (flags & END_HEADERS) endOfBlock();
          }
        }
      } catch (error) {
        fail(error);
        socket.destroy();
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    errors,
    failed: failure.signal,
    close: async () => {
      server.close();
      await once(server, 'close');
    },
  };
}

interface Exchange {
  request: Fields;
  sensitive: string[];
  response: Fields;
}

/** Sends each request in turn on one connection; returns the response headers nghttp2 read. */
async function exchange(
  server: RawServer,
  clientTableSize: number,
  exchanges: Exchange[],
): Promise<Array<http2.IncomingHttpHeaders>> {
  const client = http2.connect(`http://127.0.0.1:${server.port}`, {
    settings: { headerTableSize: clientTableSize },
  });
  client.on('error', (error) => server.errors.push(error));
  const signal = server.failed;
  try {
    // The client's encoder knows our table size before its first block.
    await once(client, 'remoteSettings', { signal });
    const responses: Array<http2.IncomingHttpHeaders> = [];
    for (const { request, sensitive } of exchanges) {
      const headers: http2.OutgoingHttpHeaders = {
        ':path': '/inference.GRPCInferenceService/ModelInfer',
        ...Object.fromEntries(request),
        // Sent as never-indexed literals.
        [http2.sensitiveHeaders]: sensitive,
      };
      const stream = client.request(headers, { endStream: true });
      const [response] = (await once(stream, 'response', { signal })) as [
        http2.IncomingHttpHeaders,
      ];
      responses.push(response);
      stream.resume();
      await once(stream, 'close', { signal });
    }
    return responses;
  } finally {
    client.close();
    await once(client, 'close');
  }
}

/** Fields node:http2 passes through as they are: lower-case names, one value each. */
const headerName = fc.oneof(
  fc.constantFrom('content-type', 'user-agent', 'grpc-timeout', 'authorization', 'x-id'),
  fc.stringMatching(/^x-[a-z0-9-]{1,20}$/),
);
const headerValue = fc.oneof(
  fc.constantFrom('application/grpc', 'grpc-node-js/1.12.0', '1S', 'same'),
  fc.stringMatching(/^([!-~]([ -~]{0,80}[!-~])?)?$/),
);
const headerList = fc.uniqueArray(fc.tuple(headerName, headerValue), {
  selector: ([name]) => name,
  maxLength: 8,
});
const exchangeArbitrary: fc.Arbitrary<Exchange> = fc
  .tuple(headerList, headerList, fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }))
  .map(([request, response, flags]) => ({
    request,
    sensitive: request.filter((_, i) => flags[i]).map(([name]) => name),
    response: [[':status', '200'], ...response],
  }));

function expectSent(received: Fields, sent: Fields): void {
  for (const field of sent) expect(received).toContainEqual(field);
}

describe('HPACK against nghttp2 (node:http2)', () => {
  it('decodes what nghttp2 encodes, and nghttp2 decodes what we encode, over many requests', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(0, 64, 256, 4096, 8192),
        fc.constantFrom(0, 100, 4096, 65536),
        fc.array(exchangeArbitrary, { minLength: 1, maxLength: 6 }),
        async (decoderTableSize, clientTableSize, exchanges) => {
          let next = 0;
          const server = await rawServer(decoderTableSize, () => exchanges[next++]!.response);
          try {
            const responses = await exchange(server, clientTableSize, exchanges);
            expect(server.errors).toEqual([]);
            expect(server.requests).toHaveLength(exchanges.length);
            exchanges.forEach(({ request, response }, i) => {
              expectSent(server.requests[i]!, [[':method', 'GET'], ...request]);
              for (const [name, value] of response)
                expect(responses[i]![name]).toBe(name === ':status' ? Number(value) : value);
            });
          } finally {
            await server.close();
          }
        },
      ),
      { numRuns: 25 },
    );
  }, 60_000);

  it('decodes a block split over HEADERS and CONTINUATION frames', async () => {
    const big = 'v'.repeat(40_000);
    const server = await rawServer(4096, () => [[':status', '200']]);
    try {
      await exchange(server, 4096, [
        {
          request: [
            ['x-big', big],
            ['x-small', 'a'],
          ],
          sensitive: [],
          response: [[':status', '200']],
        },
      ]);
      expect(server.errors).toEqual([]);
      expectSent(server.requests[0]!, [
        ['x-big', big],
        ['x-small', 'a'],
      ]);
    } finally {
      await server.close();
    }
  });
});
