// The runtime's HTTP application as a fastify plugin: body parsing, error
// mapping, request metrics, and both protocols' routes. It never listens;
// server.ts owns the process. Tests drive it with `inject`.

import { gzip } from 'node:zlib';

import Fastify from 'fastify';
import type {
  FastifyError,
  FastifyInstance,
  FastifyPluginAsync,
  FastifyServerOptions,
} from 'fastify';
import { RuntimeError } from '../errors.js';
import type { RuntimeMetrics } from '../metrics.js';
import type { RequestBodies } from '../request-bodies.js';
import { readBody } from './body-reader.js';
import { oipRoutes } from './oip-routes.js';
import { sendJson } from './protocol-routes.js';
import { tfServingMethods, tfServingRoutes } from './tfserving-routes.js';
import type { ModelService } from '../service.js';

export interface AppOptions {
  service: ModelService;
  metrics: RuntimeMetrics;
  /** Where request bodies are read to: the same owner the service was given. */
  bodies: RequestBodies;
}

/** Answers smaller than this go uncompressed whatever the client accepts: not worth the CPU. */
const GZIP_MIN_BYTES = 1024;

/** Whether an Accept-Encoding header admits gzip (a q of 0 refuses it). */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== 'x-gzip' && coding !== '*') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/** Longest error message sent: an error quotes the request, and must not echo a huge one back. */
const MAX_ERROR_CHARS = 1000;

function errorBody(message: string): string {
  const capped =
    message.length > MAX_ERROR_CHARS
      ? `${message.slice(0, MAX_ERROR_CHARS)}... (${message.length - MAX_ERROR_CHARS} more characters)`
      : message;
  return JSON.stringify({ error: capped });
}

/** A route's URL as a pattern for concrete paths (`:param` one segment, `*` the rest). */
function routePattern(url: string): RegExp {
  const source = url
    .split('/')
    .map((seg) =>
      seg === '*'
        ? '.*'
        : seg.startsWith(':')
          ? '[^/]+'
          : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('/');
  return new RegExp(`^${source}$`);
}

/**
 * HTTP-level errors (malformed requests, header overflow, request timeout),
 * answered in the runtime's own format before any route runs.
 */
function clientErrorResponse(err: NodeJS.ErrnoException): string {
  const [status, reason, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'the request headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'the request was not received in time']
        : [400, 'Bad Request', `malformed HTTP request (${err.code ?? err.message})`];
  const body = errorBody(message);
  return (
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nTensorfleet-Error-Code: BAD_REQUEST\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}

/** Maps anything thrown in a route to {"error": ...} with a status, a code header and Retry-After when useful. */
function toRuntime(err: FastifyError | Error, maxBodyBytes: number): RuntimeError {
  if (err instanceof RuntimeError) return err;
  const fe = err as FastifyError;
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new RuntimeError(
        'BODY_TOO_LARGE',
        `the request body is larger than the ${maxBodyBytes}-byte limit (--max-body-bytes)`,
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new RuntimeError('UNSUPPORTED_MEDIA_TYPE', fe.message);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new RuntimeError('INVALID_JSON', 'the request body is empty; expected a JSON object');
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new RuntimeError('BAD_REQUEST', fe.message);
  }
  return new RuntimeError('INTERNAL', `internal error: ${err.message}`, { cause: err });
}

export const runtimeApp: FastifyPluginAsync<AppOptions> = async (app, opts) => {
  const { service, metrics, bodies } = opts;
  const maxBodyBytes = service.config.maxBodyBytes;

  // Bodies are read as bytes and decoded per protocol (possibly in a worker).
  app.removeAllContentTypeParsers();
  // Each body is read into one buffer of its own, allocated from Content-Length
  // and aligned for binary tensors (body-reader.ts).
  const reading = { bodies, limit: maxBodyBytes };
  app.addContentTypeParser('*', (req, payload, done) => {
    readBody(req.headers, payload, reading, done);
  });

  // Which methods each route takes, collected as the routes are added: a
  // known path with another method gets 405 and Allow, not 404.
  const routes: Array<{ pattern: RegExp; method: string }> = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat())
      routes.push({ pattern: routePattern(route.url), method });
  });
  const methodsFor = (url: string): string[] => {
    const path = url.split('?')[0] ?? '';
    return (
      tfServingMethods(path) ?? [
        ...new Set(routes.filter((r) => r.pattern.test(path)).map((r) => r.method)),
      ]
    );
  };

  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    const e = toRuntime(err, maxBodyBytes);
    if (e.status >= 500 && e.code !== 'INJECTED_FAILURE') req.log.error({ err }, e.message);
    reply.header('tensorfleet-error-code', e.code);
    if (e.retryAfterSeconds !== undefined) reply.header('retry-after', String(e.retryAfterSeconds));
    if (e.code === 'DRAINING') reply.header('connection', 'close');
    if (e.code === 'METHOD_NOT_ALLOWED') reply.header('allow', methodsFor(req.url).join(', '));
    return sendJson(reply, errorBody(e.message), e.status);
  });

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    const allowed = methodsFor(req.url);
    if (allowed.length > 0) {
      if (req.method === 'OPTIONS') {
        return reply
          .code(204)
          .header('allow', [...allowed, 'OPTIONS'].join(', '))
          .send();
      }
      reply
        .header('allow', allowed.join(', '))
        .header('tensorfleet-error-code', 'METHOD_NOT_ALLOWED');
      return sendJson(
        reply,
        errorBody(`${req.method} is not allowed on ${path}; use ${allowed.join(' or ')}`),
        405,
      );
    }
    reply.header('tensorfleet-error-code', 'NOT_FOUND');
    return sendJson(reply, errorBody(`no route for ${req.method} ${path}`), 404);
  });

  // Request count and latency for inference routes (including 4xx/5xx).
  // A callback hook, not an async one: no promise per request.
  app.addHook('onResponse', (req, reply, done) => {
    const protocol = req.routeOptions.config.protocol;
    // Requests for a model or version not served here are not this model's traffic.
    const elsewhere = reply.getHeader('tensorfleet-error-code');
    if (
      protocol !== undefined &&
      elsewhere !== 'MODEL_NOT_FOUND' &&
      elsewhere !== 'VERSION_NOT_FOUND'
    ) {
      metrics.observeRequest(protocol, reply.statusCode, reply.elapsedTime / 1000);
    }
    done();
  });

  // Accept-Encoding: gzip is honoured, as Triton does (tritonclient's response
  // compression). A callback hook: no promise per request.
  app.addHook('onSend', (req, reply, payload, done) => {
    if (
      (typeof payload !== 'string' && !Buffer.isBuffer(payload)) ||
      Buffer.byteLength(payload) < GZIP_MIN_BYTES ||
      reply.hasHeader('content-encoding') ||
      !acceptsGzip(req.headers['accept-encoding'])
    ) {
      done(null, payload);
      return;
    }
    reply.header('content-encoding', 'gzip').header('vary', 'accept-encoding');
    gzip(payload, done);
  });

  app.get('/metrics', async (_req, reply) => {
    const text = await metrics.registry.metrics();
    return reply.header('content-type', metrics.registry.contentType).send(text);
  });

  await app.register(tfServingRoutes, { service, metrics });
  await app.register(oipRoutes, { service, metrics });
};

/** A fastify instance with the runtime registered (server.ts adds listening and signals). */
export async function buildApp(
  opts: AppOptions,
  serverOptions: FastifyServerOptions = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    bodyLimit: opts.service.config.maxBodyBytes,
    // Requests on connections still open while the server closes are served
    // (the drain decides when that is, server.ts), not refused in fastify's format.
    return503OnClosing: false,
    clientErrorHandler: (err, socket) => {
      if (socket.writable) socket.end(clientErrorResponse(err));
      else socket.destroy();
    },
    ...serverOptions,
  });
  // Plugin encapsulation is broken on purpose so hooks and the error handler cover every route.
  (runtimeApp as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
  await app.register(runtimeApp, opts);
  return app;
}
