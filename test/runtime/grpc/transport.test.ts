// The runtime's gRPC transport (src/runtime/grpc/transport/) on loopback,
// driven by a plain node:http2 client so that every byte and header of the
// protocol is under the test's control: framing split anywhere, compression,
// limits, cardinality, deadlines, cancellation, flow-control windows,
// GOAWAY and close. The real clients (tritonclient, tensorflow-serving-api,
// grpc-health-probe) run against the whole server in the grpc-*.test.ts files.

import http2 from 'node:http2';
import type { ClientHttp2Session, IncomingHttpHeaders } from 'node:http2';
import { gzipSync, deflateSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerCall, SingleRequestCall } from '../../../src/runtime/grpc/transport/calls.js';
import { FrameReader, frameMessage } from '../../../src/runtime/grpc/transport/framing.js';
import { GrpcError, encodeGrpcMessage } from '../../../src/runtime/grpc/transport/grpc-error.js';
import type { ServiceDefinition } from '../../../src/runtime/grpc/transport/server.js';
import { GrpcTransport } from '../../../src/runtime/grpc/transport/server.js';
import { parseGrpcTimeout } from '../../../src/runtime/grpc/transport/timeout.js';

const MAX = 64 * 1024;
/** An answer no serializer can write. */
const UNENCODABLE = Symbol('unencodable');
const identity = (b: unknown): Buffer => {
  if (b === UNENCODABLE) throw new Error('no bytes for a symbol');
  return b as Buffer;
};

function method(
  name: string,
  requestStream = false,
  responseStream = false,
): ServiceDefinition[string] {
  return {
    path: `/test.Service/${name}`,
    requestStream,
    responseStream,
    requestDeserialize: (b: Buffer) => {
      if (b.toString() === 'undecodable') throw new Error('bad bytes');
      return Buffer.from(b);
    },
    responseSerialize: identity,
  };
}

const DEFINITION: ServiceDefinition = {
  Echo: method('Echo'),
  Hang: method('Hang'),
  Throw: method('Throw'),
  Count: method('Count', false, true),
  Chat: method('Chat', true, true),
};

/** Calls that ended because the client or the deadline cancelled them. */
const cancelled: string[] = [];
const hanging: SingleRequestCall<unknown, unknown>[] = [];

let server: GrpcTransport;
let port: number;

beforeAll(async () => {
  server = new GrpcTransport({ maxReceiveBytes: MAX, maxConnectionAgeMs: 0, graceMs: 1000 });
  server.addService(DEFINITION, {
    Echo: (
      call: SingleRequestCall<unknown, unknown>,
      done: (e: GrpcError | null, r?: unknown) => void,
    ) =>
      done(
        null,
        (call.request as Buffer).toString() === 'unencodable' ? UNENCODABLE : call.request,
      ),
    Hang: (call: SingleRequestCall<unknown, unknown>) => {
      hanging.push(call);
      call.once('cancelled', () => cancelled.push((call.request as Buffer).toString()));
    },
    Throw: () => {
      throw new Error('handler bug');
    },
    Count: (call: SingleRequestCall<unknown, unknown>) => {
      const n = Number((call.request as Buffer).toString());
      for (let i = 1; i <= n; i++) call.write(Buffer.from(String(i)));
      call.end();
    },
    Chat: (call: ServerCall<unknown>) => {
      call.on('data', (m: Buffer) => call.write(Buffer.from(m.toString().toUpperCase())));
      call.on('end', () => call.end());
    },
  });
  port = await server.listen('127.0.0.1', 0);
});

afterAll(async () => {
  for (const call of hanging) call.fail(new GrpcError('CANCELLED', 'test over'));
  await server.close(2000);
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  trailers: IncomingHttpHeaders;
  messages: Buffer[];
}

function connect(): ClientHttp2Session {
  return http2.connect(`http://127.0.0.1:${port}`);
}

/** One call: the request body as chunks written one by one. */
function call(
  session: ClientHttp2Session,
  path: string,
  chunks: Buffer[],
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    });
    let responseHeaders: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    const data: Buffer[] = [];
    stream.on('response', (h) => (responseHeaders = h));
    stream.on('trailers', (t: IncomingHttpHeaders) => (trailers = t));
    stream.on('data', (d: Buffer) => data.push(d));
    stream.on('error', reject);
    stream.on('close', () => {
      const reader = new FrameReader(1 << 30);
      const messages = reader.push(Buffer.concat(data)).map((f) => Buffer.from(f.data));
      // A trailers-only answer carries the status in its headers.
      const status = trailers['grpc-status'] ?? responseHeaders['grpc-status'];
      resolve({
        status: status === undefined ? -1 : Number(status),
        headers: responseHeaders,
        trailers: { ...responseHeaders, ...trailers },
        messages,
      });
    });
    for (const c of chunks) stream.write(c);
    stream.end();
  });
}

const frame = (text: string): Buffer => frameMessage(Buffer.from(text));

describe('framing', () => {
  it('reads any messages back from any split of their frames', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (messages, cuts) => {
          const wire = Buffer.concat(messages.map((m) => frameMessage(Buffer.from(m))));
          const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
          const reader = new FrameReader(MAX);
          const got: Buffer[] = [];
          let from = 0;
          for (const to of [...points, wire.length]) {
            for (const f of reader.push(wire.subarray(from, to))) got.push(Buffer.from(f.data));
            from = to;
          }
          expect(got.map((b) => [...b])).toEqual(messages.map((m) => [...m]));
          expect(reader.partial).toBe(false);
        },
      ),
    );
  });

  it('places a large message in the buffer it is given, its aligned offset 4-byte aligned, from any split', () => {
    fc.assert(
      fc.property(
        // Lengths spread up to 400 (uint8Array's default size stays small).
        fc.array(
          fc
            .tuple(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 0, max: 255 }))
            .map(([n, seed]) => Uint8Array.from({ length: n }, (_, i) => (seed + i * 31) & 0xff)),
          { minLength: 1, maxLength: 4 },
        ),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.nat({ max: 40 }),
        (messages, cuts, alignAt) => {
          const wire = Buffer.concat(messages.map((m) => frameMessage(Buffer.from(m))));
          const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
          // Each placed buffer, and whether the hint could be read for it.
          const given = new Map<Buffer, boolean>();
          let hinted = false;
          const reader = new FrameReader(MAX, {
            minBytes: 100,
            // A pool's buffer: the message starts `pad` bytes in.
            allocate: (pad, length) => {
              const b = Buffer.alloc(pad + length + 3).subarray(pad, pad + length);
              given.set(b, hinted);
              return b;
            },
            alignedOffset: (prefix) => {
              hinted = prefix.length > alignAt;
              return hinted ? alignAt : undefined;
            },
          });
          const got: Buffer[] = [];
          let from = 0;
          for (const to of [...points, wire.length]) {
            for (const f of reader.push(wire.subarray(from, to))) got.push(f.data);
            from = to;
          }
          expect(got.map((b) => [...b])).toEqual(messages.map((m) => [...m]));
          expect(reader.partial).toBe(false);
          for (const b of got) {
            const hint = given.get(b);
            if (hint === undefined) continue;
            expect(b.length).toBeGreaterThanOrEqual(100);
            // Aligned whenever the hint was in the first piece the message came in.
            if (hint) expect((b.byteOffset + alignAt) % 4).toBe(0);
          }
          // Every message of 100 bytes or more that came in pieces was placed.
          expect(given.size).toBeLessThanOrEqual(messages.filter((m) => m.length >= 100).length);
        },
      ),
    );
  });

  it('refuses a message over the limit from its 5-byte prefix, before its bytes', () => {
    const prefix = Buffer.from([0, 0, 1, 0, 1]);
    expect(() => new FrameReader(MAX).push(prefix)).toThrow(
      `the request message is 65537 bytes, more than this server's limit of ${MAX} (--max-body-bytes)`,
    );
  });
});

describe('grpc-timeout and grpc-message', () => {
  it('reads every unit', () => {
    const units = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 99_999_999 }),
        fc.constantFrom(...Object.keys(units)),
        (n, unit) => {
          expect(parseGrpcTimeout(`${n}${unit}`)).toBe(n * units[unit as keyof typeof units]);
        },
      ),
    );
    expect(parseGrpcTimeout(undefined)).toBeUndefined();
  });

  it('refuses anything else with INVALID_ARGUMENT', () => {
    fc.assert(
      fc.property(fc.string(), (value) => {
        fc.pre(!/^\d{1,8}[HMSmun]$/.test(value));
        expect(() => parseGrpcTimeout(value)).toThrow(GrpcError);
      }),
    );
    expect(() => parseGrpcTimeout('123456789S')).toThrow(/1 to 8 digits/);
  });

  it('percent-encodes a status message so that decoding gives it back', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (message) => {
        const encoded = encodeGrpcMessage(message);
        expect(encoded).toMatch(/^[\x20-\x7e]*$/);
        expect(decodeURIComponent(encoded.replace(/%(?![0-9A-F]{2})/g, '%25'))).toBe(message);
      }),
    );
  });
});

describe('calls', () => {
  let session: ClientHttp2Session;
  beforeAll(() => {
    session = connect();
  });
  afterAll(() => session.close());

  it('answers a unary call: headers, one message, then grpc-status 0 in trailers', async () => {
    const got = await call(session, '/test.Service/Echo', [frame('hello')]);
    expect(got.headers[':status']).toBe(200);
    expect(got.headers['content-type']).toBe('application/grpc');
    expect(got.messages.map(String)).toEqual(['hello']);
    expect(got.status).toBe(0);
  });

  it('takes a request split into chunks anywhere', async () => {
    const wire = frame('split across chunks');
    for (const at of [1, 3, 5, 9, wire.length - 1]) {
      const got = await call(session, '/test.Service/Echo', [
        wire.subarray(0, at),
        wire.subarray(at),
      ]);
      expect(got.messages.map(String)).toEqual(['split across chunks']);
    }
  });

  it('takes gzip and deflate requests', async () => {
    for (const [encoding, zip] of [
      ['gzip', gzipSync],
      ['deflate', deflateSync],
    ] as const) {
      const body = zip(Buffer.from(`packed with ${encoding}`));
      const wire = frameMessage(body);
      wire[0] = 1;
      const got = await call(session, '/test.Service/Echo', [wire], { 'grpc-encoding': encoding });
      expect(got.messages.map(String)).toEqual([`packed with ${encoding}`]);
    }
  });

  it('answers what breaks the protocol with the status grpc asks for, and serves on', async () => {
    const compressed = frame('x');
    compressed[0] = 1;
    const bomb = frameMessage(gzipSync(Buffer.alloc(MAX + 1)));
    bomb[0] = 1;
    const cases: [string, Buffer[], Record<string, string>, number, RegExp][] = [
      ['/test.Service/Nope', [frame('x')], {}, 12, /no method \/test.Service\/Nope/],
      ['/test.Service/Echo', [], {}, 12, /exactly one request message; the call sent 0/],
      ['/test.Service/Echo', [frame('a'), frame('b')], {}, 12, /the call sent 2/],
      ['/test.Service/Echo', [frame('whole').subarray(0, 7)], {}, 13, /ended inside a message/],
      ['/test.Service/Echo', [frame('undecodable')], {}, 3, /not a valid message.*bad bytes/],
      [
        '/test.Service/Echo',
        [frame('x')],
        { 'grpc-encoding': 'snappy' },
        12,
        /"snappy" is not supported/,
      ],
      [
        '/test.Service/Echo',
        [compressed],
        {},
        13,
        /marked compressed but the call has no grpc-encoding/,
      ],
      [
        '/test.Service/Echo',
        [bomb],
        { 'grpc-encoding': 'gzip' },
        8,
        /more than this server's limit/,
      ],
      ['/test.Service/Echo', [frame('x')], { 'grpc-timeout': 'soon' }, 3, /grpc-timeout "soon"/],
      ['/test.Service/Throw', [frame('x')], {}, 13, /the handler failed: handler bug/],
      [
        '/test.Service/Echo',
        [frame('unencodable')],
        {},
        13,
        /could not encode the response: no bytes/,
      ],
    ];
    for (const [path, chunks, headers, status, message] of cases) {
      const got = await call(session, path, chunks, headers);
      expect({ path, status: got.status }).toEqual({ path, status });
      expect(decodeURIComponent(String(got.trailers['grpc-message']))).toMatch(message);
    }
    const snappy = await call(session, '/test.Service/Echo', [frame('x')], {
      'grpc-encoding': 'snappy',
    });
    expect(snappy.trailers['grpc-accept-encoding']).toBe('identity,deflate,gzip');
    expect(
      (await call(session, '/test.Service/Echo', [frame('still here')])).messages.map(String),
    ).toEqual(['still here']);
  });

  it('stops reading a message over the limit and answers RESOURCE_EXHAUSTED at once', async () => {
    const big = frameMessage(Buffer.alloc(MAX * 4, 7));
    const got = await call(session, '/test.Service/Echo', [big]);
    expect(got.status).toBe(8);
  });

  it('answers 415 to another content type and 405 to another method, as HTTP', async () => {
    const status = (headers: Record<string, string>): Promise<number> =>
      new Promise((resolve) => {
        const s = session.request({ ':path': '/test.Service/Echo', ...headers });
        s.on('response', (h) => resolve(Number(h[':status'])));
        s.on('error', () => resolve(-1));
        s.end();
      });
    expect(await status({ ':method': 'POST', 'content-type': 'application/json' })).toBe(415);
    expect(await status({ ':method': 'GET', 'content-type': 'application/grpc' })).toBe(405);
  });

  it('streams answers and takes streamed requests', async () => {
    const counted = await call(session, '/test.Service/Count', [frame('3')]);
    expect(counted.messages.map(String)).toEqual(['1', '2', '3']);
    expect(counted.status).toBe(0);
    const chat = await call(session, '/test.Service/Chat', [frame('a'), frame('b'), frame('c')]);
    expect(chat.messages.map(String)).toEqual(['A', 'B', 'C']);
    expect(chat.status).toBe(0);
  });

  it('ends a call DEADLINE_EXCEEDED at its grpc-timeout, and the handler sees it cancelled', async () => {
    const started = performance.now();
    const got = await call(session, '/test.Service/Hang', [frame('late')], {
      'grpc-timeout': '100m',
    });
    expect(got.status).toBe(4);
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
    expect(cancelled).toContain('late');
  });

  it('tells the handler when the client resets the stream', async () => {
    const stream = session.request({
      ':method': 'POST',
      ':path': '/test.Service/Hang',
      'content-type': 'application/grpc',
    });
    stream.end(frame('reset'));
    await new Promise((r) => setTimeout(r, 100));
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await new Promise((r) => setTimeout(r, 100));
    expect(cancelled).toContain('reset');
  });

  it('opens windows for many requests in flight at once', async () => {
    const s = connect();
    await new Promise((r) => s.once('remoteSettings', r));
    expect(s.remoteSettings.initialWindowSize).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    // 64 calls of 16 KiB each, more than HTTP/2's default 64 KiB connection window, all answered.
    const body = frameMessage(Buffer.alloc(16 * 1024, 1));
    const got = await Promise.all(
      Array.from({ length: 64 }, () => call(s, '/test.Service/Echo', [body])),
    );
    expect(got.every((g) => g.status === 0 && g.messages[0]?.length === 16 * 1024)).toBe(true);
    expect(s.state.remoteWindowSize).toBeGreaterThan(1024 * 1024);
    s.close();
  });
});

describe('connections', () => {
  it('goAway lets the running call finish and sends the next one to a new connection', async () => {
    const s = connect();
    const running = call(s, '/test.Service/Hang', [frame('draining')]);
    await new Promise((r) => setTimeout(r, 100));
    const goaway = new Promise((r) => s.once('goaway', r));
    server.goAway(5000);
    await goaway;
    hanging
      .find((c) => (c.request as Buffer).toString() === 'draining')
      ?.reply(Buffer.from('done'));
    expect((await running).messages.map(String)).toEqual(['done']);
    const fresh = connect();
    expect((await call(fresh, '/test.Service/Echo', [frame('new')])).status).toBe(0);
    fresh.close();
  });

  it('close() waits for running calls and cuts them after its timeout', async () => {
    const other = new GrpcTransport({ maxReceiveBytes: MAX, maxConnectionAgeMs: 0, graceMs: 1000 });
    const held: SingleRequestCall<unknown, unknown>[] = [];
    other.addService(
      { Hang: method('Hang') },
      { Hang: (c: SingleRequestCall<unknown, unknown>) => void held.push(c) },
    );
    const otherPort = await other.listen('127.0.0.1', 0);
    const s = http2.connect(`http://127.0.0.1:${otherPort}`);
    s.on('error', () => {});
    const answer = new Promise<void>((resolve) => {
      const st = s.request({
        ':method': 'POST',
        ':path': '/test.Service/Hang',
        'content-type': 'application/grpc',
      });
      st.on('error', () => resolve());
      st.on('close', () => resolve());
      st.end(frame('x'));
    });
    await new Promise((r) => setTimeout(r, 100));
    const started = performance.now();
    expect(await other.close(300)).toBe(false);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    await answer;
  });

  it('ages connections out after maxConnectionAgeMs with GOAWAY', async () => {
    const aging = new GrpcTransport({
      maxReceiveBytes: MAX,
      maxConnectionAgeMs: 200,
      graceMs: 100,
    });
    aging.addService(
      { Echo: method('Echo') },
      {
        Echo: (
          c: SingleRequestCall<unknown, unknown>,
          done: (e: GrpcError | null, r?: unknown) => void,
        ) => done(null, c.request),
      },
    );
    const agingPort = await aging.listen('127.0.0.1', 0);
    const s = http2.connect(`http://127.0.0.1:${agingPort}`);
    const goaway = new Promise((r) => s.once('goaway', r));
    const started = performance.now();
    await goaway;
    expect(performance.now() - started).toBeGreaterThanOrEqual(170);
    s.close();
    expect(await aging.close(1000)).toBe(true);
  });
});
