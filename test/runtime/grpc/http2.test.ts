// The runtime's own HTTP/2 layer (src/runtime/grpc/transport/http2/) beyond
// h2spec's cases: answers' header blocks read back by HPACK, request header
// checks, flow control against a client with small windows, whatever bytes a
// client sends (fuzzed frame sequences), and an HTTP/1.1 client at the door.

import http2 from 'node:http2';
import { connect as tcpConnect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SingleRequestCall } from '../../../src/runtime/grpc/transport/calls.js';
import { FrameReader, frameMessage } from '../../../src/runtime/grpc/transport/framing.js';
import type { GrpcError } from '../../../src/runtime/grpc/transport/grpc-error.js';
import { HpackDecoder, HpackEncoder } from '../../../src/runtime/grpc/transport/hpack/index.js';
import { FrameSplitter } from '../../../src/runtime/grpc/transport/http2/frame-splitter.js';
import {
  encodeHeaderBlock,
  requestHeaders,
} from '../../../src/runtime/grpc/transport/http2/header-block.js';
import {
  CLIENT_PREFACE,
  ERROR,
  FRAME,
} from '../../../src/runtime/grpc/transport/http2/protocol.js';
import { GrpcTransport } from '../../../src/runtime/grpc/transport/server.js';

const MAX = 1 << 20;
let server: GrpcTransport;
let port: number;

beforeAll(async () => {
  server = new GrpcTransport({ maxReceiveBytes: MAX, maxConnectionAgeMs: 0, graceMs: 1000 });
  server.addService(
    {
      Echo: {
        path: '/test.Service/Echo',
        requestStream: false,
        responseStream: false,
        requestDeserialize: (b: Buffer) => Buffer.from(b),
        responseSerialize: (b: unknown) => b as Buffer,
      },
    },
    {
      Echo: (
        call: SingleRequestCall<unknown, unknown>,
        done: (e: GrpcError | null, r?: unknown) => void,
      ) => done(null, call.request),
    },
  );
  port = await server.listen('127.0.0.1', 0);
});

afterAll(async () => {
  await server.close(2000);
});

/** Echo over a node:http2 client with the given settings; the message that came back. */
function echo(message: Buffer, settings: http2.Settings = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`, { settings });
    session.on('error', reject);
    const stream = session.request({
      ':method': 'POST',
      ':path': '/test.Service/Echo',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const data: Buffer[] = [];
    let status: string | undefined;
    stream.on('data', (d: Buffer) => data.push(d));
    stream.on('trailers', (t: http2.IncomingHttpHeaders) => (status = String(t['grpc-status'])));
    stream.on('error', reject);
    stream.on('close', () => {
      session.close();
      if (status !== '0') {
        reject(new Error(`grpc-status ${status}`));
        return;
      }
      const frames = new FrameReader(1 << 30).push(Buffer.concat(data));
      resolve(Buffer.from(frames[0]!.data));
    });
    stream.end(frameMessage(message));
  });
}

describe('header blocks', () => {
  const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);
  const value = fc.string({
    unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)),
    maxLength: 300,
  });

  it("encodes answers' fields so that an HPACK decoder reads them back, in order", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.tuple(fc.constant(':status'), fc.integer({ min: 100, max: 599 }).map(String)),
            fc.tuple(fc.constant('content-type'), value),
            fc.tuple(name, value),
          ),
          { maxLength: 20 },
        ),
        (fields) => {
          // One decoder for all blocks: literals without indexing leave its table empty.
          expect(new HpackDecoder().decode(encodeHeaderBlock(fields))).toEqual(fields);
        },
      ),
    );
  });

  it('takes a well-formed request and names what is wrong with a malformed one', () => {
    const good: [string, string][] = [
      [':method', 'POST'],
      [':scheme', 'http'],
      [':path', '/a.B/C'],
      [':authority', 'x'],
      ['content-type', 'application/grpc'],
      ['te', 'trailers'],
      ['x-md', 'a'],
      ['x-md', 'b'],
    ];
    expect(requestHeaders(good, false)).toMatchObject({ ':path': '/a.B/C', 'x-md': 'a, b' });
    const bad: [[string, string][], boolean, string][] = [
      [[...good, ['X-Up', '1']], false, 'header name "X-Up" has uppercase letters'],
      [[...good, [':path', '/again']], false, 'pseudo-header :path after a regular header'],
      [
        [[':method', 'GET'], [':method', 'GET'], ...good.slice(1)],
        false,
        'pseudo-header :method appears twice',
      ],
      [[[':status', '200'], ...good], false, "pseudo-header :status is not a request's"],
      [[...good, ['connection', 'keep-alive']], false, 'connection-specific header "connection"'],
      [[...good.slice(0, 5), ['te', 'gzip']], false, 'te: "gzip" (only "trailers" is allowed)'],
      [good.filter(([n]) => n !== ':scheme'), false, 'the request has no :scheme'],
      [
        [
          [':method', 'GET'],
          [':scheme', 'http'],
          [':path', ''],
        ],
        false,
        'the request has an empty :path',
      ],
      [[[':path', '/x']], true, 'trailers carry the pseudo-header :path'],
    ];
    for (const [fields, trailers, reason] of bad) {
      expect(requestHeaders(fields, trailers)).toBe(reason);
    }
  });
});

describe('frame splitting', () => {
  const frames = fc.array(
    fc.record({
      type: fc.integer({ min: 0, max: 255 }),
      flags: fc.integer({ min: 0, max: 255 }),
      streamId: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      payload: fc.uint8Array({ maxLength: 100 }).map((a) => Buffer.from(a)),
    }),
    { maxLength: 10 },
  );

  it('reads the same frames from any split of the bytes into reads', () => {
    fc.assert(
      fc.property(frames, fc.array(fc.nat(), { maxLength: 8 }), (sent, cuts) => {
        const bytes = Buffer.concat([
          CLIENT_PREFACE,
          ...sent.map((f) => rawFrame(f.type, f.flags, f.streamId, f.payload)),
        ]);
        const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const splitter = new FrameSplitter(16_384);
        const got: typeof sent = [];
        let prefaces = 0;
        const sink = {
          onPreface: () => void prefaces++,
          onFrame: (type: number, flags: number, streamId: number, payload: Buffer) =>
            got.push({ type, flags, streamId, payload: Buffer.from(payload) }) > 0,
        };
        let from = 0;
        for (const to of [...at, bytes.length]) {
          expect(splitter.push(bytes.subarray(from, to), sink)).toBeUndefined();
          from = to;
        }
        expect(prefaces).toBe(1);
        expect(got).toEqual(sent);
      }),
    );
  });

  it('refuses an oversized frame from its 9-byte header, before any of its payload', () => {
    const splitter = new FrameSplitter(16_384);
    const sink = { onPreface: () => undefined, onFrame: () => true };
    const header = rawFrame(FRAME.DATA, 0, 1, Buffer.alloc(0));
    header.writeUIntBE(1 << 20, 0, 3);
    expect(
      splitter.push(Buffer.concat([CLIENT_PREFACE, header.subarray(0, 5)]), sink),
    ).toBeUndefined();
    expect(splitter.push(header.subarray(5), sink)).toEqual({
      kind: 'frame-too-large',
      length: 1 << 20,
    });
  });

  it('knows a client that is not speaking HTTP/2 from its first bytes', () => {
    const sink = { onPreface: () => undefined, onFrame: () => true };
    expect(new FrameSplitter(16_384).push(Buffer.from('PRI * HTTP/1.1'), sink)).toMatchObject({
      kind: 'not-http2',
    });
  });
});

describe('flow control', () => {
  it('sends a large answer within a client window of 100 bytes, resuming on each WINDOW_UPDATE', async () => {
    const message = Buffer.alloc(200_000);
    for (let i = 0; i < message.length; i++) message[i] = (i * 7) & 0xff;
    expect((await echo(message, { initialWindowSize: 100 })).equals(message)).toBe(true);
  });

  it('takes requests larger than the default windows, giving window back as it reads', async () => {
    const message = Buffer.alloc(MAX - 5, 3);
    expect((await echo(message)).length).toBe(message.length);
  });
});

/** A raw client: the preface, our SETTINGS, then `frames`; resolves what the server sent. */
function rawExchange(frames: Buffer[]): Promise<Buffer> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (d: Buffer) => received.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(Buffer.concat(received)));
    socket.write(
      Buffer.concat([CLIENT_PREFACE, rawFrame(FRAME.SETTINGS, 0, 0, Buffer.alloc(0)), ...frames]),
    );
    // The server either closes (a connection error) or waits: end after a moment.
    setTimeout(() => socket.end(), 150);
    setTimeout(() => socket.destroy(), 1500);
  });
}

function rawFrame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const out = Buffer.alloc(9 + payload.length);
  out.writeUIntBE(payload.length, 0, 3);
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(streamId >>> 0, 5);
  payload.copy(out, 9);
  return out;
}

/** Splits what the server sent into frames; throws if the bytes are not whole frames. */
function framesOf(bytes: Buffer): { type: number; streamId: number; payload: Buffer }[] {
  const out = [];
  let at = 0;
  while (at < bytes.length) {
    if (bytes.length - at < 9) throw new Error(`${bytes.length - at} trailing bytes`);
    const length = bytes.readUIntBE(at, 3);
    if (at + 9 + length > bytes.length) throw new Error('a frame cut short');
    out.push({
      type: bytes[at + 3]!,
      streamId: bytes.readUInt32BE(at + 5),
      payload: bytes.subarray(at + 9, at + 9 + length),
    });
    at += 9 + length;
  }
  return out;
}

describe('whatever a client sends', () => {
  const encoder = new HpackEncoder();
  const requestBlock = encoder.encode([
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', '/test.Service/Echo'],
    ['content-type', 'application/grpc'],
  ]);
  // Weighted towards what reaches deep code: open streams (1, 3), the flags
  // that change a frame's layout (PADDED, PRIORITY), short payloads.
  const anyFrame = fc.record({
    type: fc.oneof(
      fc.integer({ min: 0, max: 10 }),
      fc.constant(FRAME.HEADERS),
      fc.constant(FRAME.DATA),
      fc.constant(FRAME.CONTINUATION),
    ),
    flags: fc.oneof(
      fc.integer({ min: 0, max: 255 }),
      fc.constantFrom(0x4, 0x5, 0x24, 0x25, 0x0c, 0x2c, 0x08, 0x09, 0x01),
    ),
    streamId: fc.oneof(
      fc.constantFrom(1, 3),
      fc.integer({ min: 0, max: 9 }),
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    ),
    payload: fc.oneof(
      fc.uint8Array({ maxLength: 6 }).map((a) => Buffer.from(a)),
      fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
      fc.constant(requestBlock),
      fc.constant(frameMessage(Buffer.from('hi'))),
      fc.constant(Buffer.alloc(4, 0)),
      fc.constant(Buffer.alloc(8, 1)),
    ),
  });

  it('answers in whole frames or a GOAWAY, never crashes, and serves the next client', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(anyFrame, { minLength: 1, maxLength: 12 }), async (frames) => {
        const sent = frames.map((f) => rawFrame(f.type, f.flags, f.streamId, f.payload));
        const answer = framesOf(await rawExchange(sent));
        // The server speaks first with its SETTINGS.
        expect(answer[0]?.type).toBe(FRAME.SETTINGS);
        const goAway = answer.findIndex((f) => f.type === FRAME.GOAWAY);
        if (goAway >= 0) {
          const code = answer[goAway]!.payload.readUInt32BE(4);
          const reason = answer[goAway]!.payload.subarray(8).toString();
          // INTERNAL_ERROR is what a defect (an exception) in the layer becomes.
          expect({ code, reason }).not.toMatchObject({ code: ERROR.INTERNAL_ERROR });
          // Nothing follows a GOAWAY that ends the connection with an error.
          if (code !== ERROR.NO_ERROR) expect(goAway).toBe(answer.length - 1);
        }
      }),
      { numRuns: 300 },
    );
    expect((await echo(Buffer.from('still serving'))).toString()).toBe('still serving');
  }, 120_000);

  it('tells an HTTP/1.1 client that this port speaks HTTP/2', async () => {
    const answer = await new Promise<string>((resolve) => {
      const socket = tcpConnect(port, '127.0.0.1');
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString()));
      socket.on('close', () => resolve(text));
      socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    });
    expect(answer).toMatch(/^HTTP\/1\.1 505 /);
    expect(answer).toContain('This port serves gRPC: HTTP/2 with prior knowledge (h2c)');
  });
});
