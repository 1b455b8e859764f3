// The runtime's HTTP application as a fastify plugin: body parsing, error
// mapping, request metrics, and both protocols' routes. It never listens;
// server.ts owns the process. Tests drive it with `inject`.

import Fastify from 'fastify';
import type {
  FastifyError,
  FastifyInstance,
  FastifyPluginAsync,
  FastifyServerOptions,
} from 'fastify';
import { RuntimeError } from './errors.js';
import type { RuntimeMetrics } from './metrics.js';
import { readBody } from './protocols/body-reader.js';
import { oipRoutes } from './protocols/oip-v2.js';
import { tfServingRoutes } from './protocols/tfserving.js';
import type { ModelService } from './service.js';

export interface AppOptions {
  service: ModelService;
  metrics: RuntimeMetrics;
}

function errorBody(message: string): string {
  return JSON.stringify({ error: message });
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
  const { service, metrics } = opts;
  const maxBodyBytes = service.config.maxBodyBytes;

  // Bodies are read as bytes and decoded per protocol (possibly in a worker).
  app.removeAllContentTypeParsers();
  // Each body is read into one buffer of its own, allocated from Content-Length
  // and aligned for binary tensors (protocols/body-reader.ts).
  app.addContentTypeParser('*', (req, payload, done) => {
    readBody(req.headers, payload, maxBodyBytes, done);
  });

  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    const e = toRuntime(err, maxBodyBytes);
    if (e.status >= 500 && e.code !== 'INJECTED_FAILURE') req.log.error({ err }, e.message);
    reply
      .code(e.status)
      .header('content-type', 'application/json')
      .header('tensorfleet-error-code', e.code);
    if (e.retryAfterSeconds !== undefined) reply.header('retry-after', String(e.retryAfterSeconds));
    if (e.code === 'DRAINING') reply.header('connection', 'close');
    return reply.send(errorBody(e.message));
  });

  app.setNotFoundHandler((req, reply) => {
    reply
      .code(404)
      .header('content-type', 'application/json')
      .header('tensorfleet-error-code', 'NOT_FOUND');
    return reply.send(errorBody(`no route for ${req.method} ${req.url.split('?')[0] ?? ''}`));
  });

  // Request count and latency for inference routes (including 4xx/5xx).
  // A callback hook, not an async one: no promise per request.
  app.addHook('onResponse', (req, reply, done) => {
    const protocol = req.routeOptions.config.protocol;
    if (protocol !== undefined) {
      metrics.observeRequest(protocol, reply.statusCode, reply.elapsedTime / 1000);
    }
    done();
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
    ...serverOptions,
  });
  // Plugin encapsulation is broken on purpose so hooks and the error handler cover every route.
  (runtimeApp as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
  await app.register(runtimeApp, opts);
  return app;
}
