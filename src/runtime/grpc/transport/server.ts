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

import http2 from 'node:http2';
import type {
  Http2Server,
  Http2Session,
  IncomingHttpHeaders,
  ServerHttp2Session,
  ServerHttp2Stream,
} from 'node:http2';
import type { Socket } from 'node:net';
import { gunzipSync, inflateSync } from 'node:zlib';
import { ServerCall, SingleRequestCall, respondWithStatus } from './calls.js';
import type { Frame } from './framing.js';
import { FrameReader, tooLarge } from './framing.js';
import { GrpcError } from './grpc-error.js';
import { parseGrpcTimeout } from './timeout.js';

export interface MethodDefinition {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestDeserialize: (data: Buffer) => unknown;
  responseSerialize: (value: unknown) => Buffer;
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
}

/** Per stream: room for a large tensor without a window update. */
const STREAM_WINDOW_BYTES = 4 * 1024 * 1024;
/** Per connection: many streams' requests in flight at once. */
const CONNECTION_WINDOW_BYTES = 32 * 1024 * 1024;

const ACCEPTED_ENCODINGS = 'identity,deflate,gzip';

function noop(): void {}

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
  private readonly sessions = new Set<ServerHttp2Session>();
  private readonly server: Http2Server;

  constructor(opts: GrpcTransportOptions) {
    this.opts = opts;
    this.server = http2.createServer({
      settings: { initialWindowSize: STREAM_WINDOW_BYTES },
      // Node refuses new streams past this many MB buffered per session; the
      // windows above already bound what a client can send.
      maxSessionMemory: 1024,
    });
    this.server.on('connection', (socket: Socket) => socket.setNoDelay(true));
    this.server.on('session', (session) => this.onSession(session));
    this.server.on('stream', (stream, headers) => this.onStream(stream, headers));
    // Errors of one session or stream end that session or stream, not the process.
    this.server.on('sessionError', noop);
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
    for (const session of this.sessions) this.retire(session, graceMs);
  }

  /**
   * Stops listening, sends GOAWAY everywhere and resolves true once every
   * connection has closed, or destroys them after `timeoutMs` (false).
   */
  async close(timeoutMs: number): Promise<boolean> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const session of this.sessions) session.close();
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      closed.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (!finished) {
      for (const session of this.sessions) session.destroy();
      await closed;
    }
    return finished;
  }

  private onSession(session: ServerHttp2Session): void {
    this.sessions.add(session);
    session.on('error', noop);
    try {
      session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
    } catch {
      // The connection closed before its first frame: nothing to tune.
    }
    let ageTimer: NodeJS.Timeout | undefined;
    if (this.opts.maxConnectionAgeMs > 0) {
      const jitter = 0.9 + Math.random() * 0.2;
      ageTimer = setTimeout(
        () => this.retire(session, this.opts.graceMs),
        this.opts.maxConnectionAgeMs * jitter,
      );
      ageTimer.unref();
    }
    session.once('close', () => {
      clearTimeout(ageTimer);
      this.sessions.delete(session);
    });
  }

  /** GOAWAY, then the connection is cut after `graceMs` if calls still run. */
  private retire(session: Http2Session, graceMs: number): void {
    if (session.closed || session.destroyed) return;
    session.close();
    setTimeout(() => session.destroy(), graceMs).unref();
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on('error', noop);
    const contentType = headers['content-type'] ?? '';
    if (headers[':method'] !== 'POST' || !contentType.startsWith('application/grpc')) {
      // Not a gRPC call (PROTOCOL-HTTP2.md: 415 for another content type).
      stream.respond({ ':status': headers[':method'] !== 'POST' ? 405 : 415 }, { endStream: true });
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
    const encoding = String(headers['grpc-encoding'] ?? 'identity');
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
      timeoutMs = parseGrpcTimeout(headers['grpc-timeout'] as string | undefined);
    } catch (err) {
      respondWithStatus(stream, err as GrpcError);
      return;
    }
    const { method } = route;
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    const call = method.requestStream
      ? new ServerCall<unknown>(stream, headers, deadline, method.responseSerialize)
      : new SingleRequestCall<unknown, unknown>(
          stream,
          headers,
          deadline,
          method.responseSerialize,
        );
    let timer: NodeJS.Timeout | undefined;
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        call.fail(new GrpcError('DEADLINE_EXCEEDED', "the call's deadline passed"));
        call.cancel();
      }, timeoutMs);
    }
    stream.once('close', () => {
      clearTimeout(timer);
      if (!call.finished) call.cancel();
    });
    const reader = new FrameReader(this.opts.maxReceiveBytes);
    const received: unknown[] = [];
    const decode = (frame: Frame): unknown => {
      const bytes = inflate(frame, encoding, this.opts.maxReceiveBytes);
      try {
        return method.requestDeserialize(bytes);
      } catch (err) {
        throw new GrpcError(
          'INVALID_ARGUMENT',
          `the request is not a valid message for ${method.path}: ${(err as Error).message}`,
        );
      }
    };
    const refuse = (err: unknown): void => {
      call.fail(err instanceof GrpcError ? err : new GrpcError('INTERNAL', (err as Error).message));
    };
    stream.on('data', (chunk: Buffer) => {
      if (call.finished) return;
      try {
        for (const frame of reader.push(chunk)) {
          const message = decode(frame);
          if (method.requestStream) call.emit('data', message);
          else received.push(message);
        }
      } catch (err) {
        refuse(err);
        // Stop the client sending the rest of what was refused.
        stream.close(http2.constants.NGHTTP2_NO_ERROR);
      }
    });
    stream.once('end', () => {
      if (call.finished) return;
      if (reader.partial) {
        refuse(new GrpcError('INTERNAL', 'the request ended inside a message'));
        return;
      }
      if (method.requestStream) {
        call.emit('end');
        return;
      }
      if (received.length !== 1) {
        // Cardinality violations are UNIMPLEMENTED (grpc's statuscodes.md).
        refuse(
          new GrpcError(
            'UNIMPLEMENTED',
            `${method.path} takes exactly one request message; the call sent ${received.length}`,
          ),
        );
        return;
      }
      (call as SingleRequestCall<unknown, unknown>).request = received[0];
      this.dispatch(route, call as SingleRequestCall<unknown, unknown>);
    });
    if (method.requestStream) this.run(() => (route.handler as DuplexHandler)(call), call);
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
