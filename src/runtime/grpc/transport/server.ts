// A gRPC server on node:http2, for the methods the runtime serves: unary,
// server-streaming (health Watch) and bidirectional (reflection). It does
// what grpc's PROTOCOL-HTTP2.md asks of a server and no more, because the
// per-call cost is what decides throughput: grpc-js's server spent about
// twice the main-thread CPU per call of this one, and its fixed 64 KiB
// connection window held 64 concurrent 3 KB requests to a few per round trip
// (bench/runtime, docs/benchmarks.md).
//
// - Flow control: each connection and stream gets a window large enough for
//   many requests in flight; Nagle is off (small answers leave at once).
// - Limits: a message longer than `maxReceiveBytes` is refused from its
//   5-byte prefix with RESOURCE_EXHAUSTED, before it is buffered; compressed
//   messages (gzip, deflate) are inflated up to the same limit.
// - Deadlines: grpc-timeout becomes the call's deadline; past it the call
//   ends DEADLINE_EXCEEDED and counts as cancelled.
// - Connections live at most `maxConnectionAgeMs` (±10%, so a fleet's
//   clients do not reconnect together), then get GOAWAY and `graceMs` to
//   finish their calls; goAway() does the same to every connection now.

import type { Server, Socket } from 'node:net';
import { createServer } from 'node:net';
import { gunzipSync, inflateSync } from 'node:zlib';
import { ServerCall, SingleRequestCall, respondWithStatus } from './calls.js';
import type { Frame } from './framing.js';
import { FrameReader, tooLarge } from './framing.js';
import { GrpcError } from './grpc-error.js';
import { Http2Connection } from './http2/connection.js';
import { encodeHeaderBlock } from './http2/header-block.js';
import type { Http2Stream } from './http2/stream.js';
import { parseGrpcTimeout } from './timeout.js';

export interface MethodDefinition {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestDeserialize: (data: Buffer) => unknown;
  responseSerialize: (value: unknown) => Buffer;
  /** Where a request's tensor data starts, from its first bytes (framing.ts, MessagePlacement). */
  alignedOffset?: (prefix: Buffer) => number | undefined;
}

/** A service's methods by name, as @grpc/proto-loader defines them. */
export type ServiceDefinition = Readonly<Record<string, MethodDefinition>>;

/** Unary: one request, one response (or an error). */
export type UnaryHandler = (
  call: SingleRequestCall<unknown, unknown>,
  callback: (err: GrpcError | null, response?: unknown) => void,
) => void;
/** Server-streaming: one request; the handler writes and ends the call. */
export type ServerStreamHandler = (call: SingleRequestCall<unknown, unknown>) => void;
/** Bidirectional: the call emits 'data' per request and 'end' when the client is done. */
export type DuplexHandler = (call: ServerCall<unknown>) => void;

export type Handler = UnaryHandler | ServerStreamHandler | DuplexHandler;
export type ServiceImplementation = Readonly<Record<string, Handler>>;

interface Route {
  method: MethodDefinition;
  handler: Handler;
}

export interface GrpcTransportOptions {
  maxReceiveBytes: number;
  /** 0: connections are not aged out. */
  maxConnectionAgeMs: number;
  /** How long calls may run on an aged-out connection. */
  graceMs: number;
  /** Buffers for large requests (the runtime's request bodies); without it they are joined in fresh ones. */
  allocate?: (pad: number, length: number) => Buffer;
}

/** Per stream: room for a large tensor without a window update. */
const STREAM_WINDOW_BYTES = 4 * 1024 * 1024;
/** Per connection: many streams' requests in flight at once. */
const CONNECTION_WINDOW_BYTES = 32 * 1024 * 1024;
/** Calls in flight on one connection (h2load -m 64, a channel's usual load, fit easily). */
const MAX_CONCURRENT_STREAMS = 1000;
/** Requests this large that arrive in pieces go into a pooled request-body buffer. */
const PLACED_MESSAGE_BYTES = 64 * 1024;
/** Request header lists past this get 431: gRPC metadata is a few short fields. */
const MAX_HEADER_LIST_BYTES = 64 * 1024;

const ACCEPTED_ENCODINGS = 'identity,deflate,gzip';

function noop(): void {}

const NOT_POST = Buffer.from('gRPC calls are POST requests.\n');
const NOT_GRPC = Buffer.from('gRPC calls have content-type application/grpc.\n');

function inflate(frame: Frame, encoding: string, maxBytes: number): Buffer {
  if (!frame.compressed) return frame.data;
  const options = { maxOutputLength: maxBytes };
  try {
    if (encoding === 'gzip') return gunzipSync(frame.data, options);
    if (encoding === 'deflate') return inflateSync(frame.data, options);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      throw tooLarge(maxBytes + 1, maxBytes);
    throw new GrpcError(
      'INTERNAL',
      `the request message is not valid ${encoding}: ${(err as Error).message}`,
    );
  }
  throw new GrpcError(
    'INTERNAL',
    'the request message is marked compressed but the call has no grpc-encoding',
  );
}

export class GrpcTransport {
  private readonly opts: GrpcTransportOptions;
  private readonly routes = new Map<string, Route>();
  private readonly connections = new Set<Http2Connection>();
  private readonly server: Server;

  constructor(opts: GrpcTransportOptions) {
    this.opts = opts;
    this.server = createServer((socket) => this.onConnection(socket));
  }

  /** Registers a service's methods (the shape @grpc/reflection's addToServer also uses). */
  addService(definition: ServiceDefinition, implementation: ServiceImplementation): void {
    for (const [name, method] of Object.entries(definition)) {
      const handler = implementation[name];
      if (handler === undefined) throw new Error(`no handler for ${method.path}`);
      this.routes.set(method.path, { method, handler });
    }
  }

  /** Listens on host:port (0: any free port) and resolves the port. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const address = this.server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : port);
      });
    });
  }

  /** GOAWAY to every connection: running calls get `graceMs`; new connections are taken. */
  goAway(graceMs: number): void {
    for (const connection of this.connections) connection.goAway(graceMs);
  }

  /**
   * Stops listening, sends GOAWAY everywhere and resolves true once every
   * connection has closed, or destroys them after `timeoutMs` (false).
   */
  async close(timeoutMs: number): Promise<boolean> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const connection of this.connections) connection.goAway(Infinity);
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      closed.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (!finished) {
      for (const connection of this.connections) connection.destroy();
      await closed;
    }
    return finished;
  }

  private onConnection(socket: Socket): void {
    const connection = new Http2Connection(socket, {
      maxConcurrentStreams: MAX_CONCURRENT_STREAMS,
      streamWindowBytes: STREAM_WINDOW_BYTES,
      connectionWindowBytes: CONNECTION_WINDOW_BYTES,
      maxHeaderListBytes: MAX_HEADER_LIST_BYTES,
      onStream: (stream) => this.onStream(stream),
    });
    this.connections.add(connection);
    let ageTimer: NodeJS.Timeout | undefined;
    if (this.opts.maxConnectionAgeMs > 0) {
      const jitter = 0.9 + Math.random() * 0.2;
      ageTimer = setTimeout(
        () => connection.goAway(this.opts.graceMs),
        this.opts.maxConnectionAgeMs * jitter,
      );
      ageTimer.unref();
    }
    connection.onClose(() => {
      clearTimeout(ageTimer);
      this.connections.delete(connection);
    });
  }

  private onStream(stream: Http2Stream): void {
    const { headers } = stream;
    const method = headers[':method'];
    const contentType = headers['content-type'] ?? '';
    if (method !== 'POST' || !contentType.startsWith('application/grpc')) {
      // Not a gRPC call (PROTOCOL-HTTP2.md: 415 for another content type),
      // answered once the request is whole, so that all of it is checked.
      const status = method !== 'POST' ? 405 : 415;
      stream.handler = {
        onData: noop,
        onEnd: () =>
          stream.respondWhole(
            encodeHeaderBlock([
              [':status', String(status)],
              ['content-type', 'text/plain; charset=utf-8'],
            ]),
            status === 405 ? NOT_POST : NOT_GRPC,
          ),
        onClose: noop,
      };
      return;
    }
    const route = this.routes.get(headers[':path'] ?? '');
    if (route === undefined) {
      respondWithStatus(
        stream,
        new GrpcError('UNIMPLEMENTED', `this server has no method ${headers[':path'] ?? ''}`),
      );
      return;
    }
    const encoding = headers['grpc-encoding'] ?? 'identity';
    if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'deflate') {
      respondWithStatus(
        stream,
        new GrpcError(
          'UNIMPLEMENTED',
          `grpc-encoding "${encoding}" is not supported; use one of ${ACCEPTED_ENCODINGS}`,
          { 'grpc-accept-encoding': ACCEPTED_ENCODINGS },
        ),
      );
      return;
    }
    let timeoutMs: number | undefined;
    try {
      timeoutMs = parseGrpcTimeout(headers['grpc-timeout']);
    } catch (err) {
      respondWithStatus(stream, err as GrpcError);
      return;
    }
    const { method: definition } = route;
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    const call = definition.requestStream
      ? new ServerCall<unknown>(stream, deadline, definition.responseSerialize)
      : new SingleRequestCall<unknown, unknown>(stream, deadline, definition.responseSerialize);
    let timer: NodeJS.Timeout | undefined;
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        call.fail(new GrpcError('DEADLINE_EXCEEDED', "the call's deadline passed"));
        call.cancel();
      }, timeoutMs);
    }
    const { allocate } = this.opts;
    const reader = new FrameReader(
      this.opts.maxReceiveBytes,
      allocate === undefined
        ? undefined
        : { minBytes: PLACED_MESSAGE_BYTES, allocate, alignedOffset: definition.alignedOffset },
    );
    let received: unknown;
    let count = 0;
    const decode = (frame: Frame): unknown => {
      const bytes = inflate(frame, encoding, this.opts.maxReceiveBytes);
      try {
        return definition.requestDeserialize(bytes);
      } catch (err) {
        throw new GrpcError(
          'INVALID_ARGUMENT',
          `the request is not a valid message for ${definition.path}: ${(err as Error).message}`,
        );
      }
    };
    const refuse = (err: unknown): void => {
      call.fail(err instanceof GrpcError ? err : new GrpcError('INTERNAL', (err as Error).message));
    };
    stream.handler = {
      onData: (chunk) => {
        if (call.finished) return;
        try {
          for (const frame of reader.push(chunk)) {
            const message = decode(frame);
            count++;
            if (definition.requestStream) call.emit('data', message);
            else received = message;
          }
        } catch (err) {
          // The answer ends the stream; the client is told to stop sending.
          refuse(err);
        }
      },
      onEnd: () => {
        if (call.finished) return;
        if (reader.partial) {
          refuse(new GrpcError('INTERNAL', 'the request ended inside a message'));
          return;
        }
        if (definition.requestStream) {
          call.emit('end');
          return;
        }
        if (count !== 1) {
          // Cardinality violations are UNIMPLEMENTED (grpc's statuscodes.md).
          refuse(
            new GrpcError(
              'UNIMPLEMENTED',
              `${definition.path} takes exactly one request message; the call sent ${count}`,
            ),
          );
          return;
        }
        (call as SingleRequestCall<unknown, unknown>).request = received;
        this.dispatch(route, call as SingleRequestCall<unknown, unknown>);
      },
      onClose: () => {
        clearTimeout(timer);
        if (!call.finished) call.cancel();
      },
    };
    if (definition.requestStream) this.run(() => (route.handler as DuplexHandler)(call), call);
  }

  private dispatch(route: Route, call: SingleRequestCall<unknown, unknown>): void {
    if (route.method.responseStream) {
      this.run(() => (route.handler as ServerStreamHandler)(call), call);
      return;
    }
    this.run(
      () =>
        route.handler(call, (err: GrpcError | null, response?: unknown) => {
          if (err !== null) call.fail(err);
          else call.reply(response);
        }),
      call,
    );
  }

  /** A handler that throws ends its call INTERNAL instead of the process. */
  private run(fn: () => void, call: ServerCall<unknown>): void {
    try {
      fn();
    } catch (err) {
      call.fail(
        err instanceof GrpcError
          ? err
          : new GrpcError('INTERNAL', `the handler failed: ${(err as Error).message}`),
      );
    }
  }
}
