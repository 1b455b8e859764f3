// The runtime's HTTP application as a fastify plugin: body parsing, error
// and not-found answers, request metrics, compression, and both protocols'
// routes. It never listens; server.ts owns the process. Tests drive it with
// `inject`.

import Fastify from 'fastify';
import type { FastifyInstance, FastifyPluginAsync, FastifyServerOptions } from 'fastify';
import type { RuntimeMetrics } from '../metrics.js';
import type { RequestBodies } from '../request-bodies.js';
import type { ModelService } from '../service.js';
import type { ServedModels } from '../served-models.js';
import { servedModelsOf } from '../served-models.js';
import { metricsOf } from '../admission.js';
import { answerUnrouted } from './allowed-methods.js';
import { readBody } from './body-reader.js';
import { gzipAnswers } from './compression.js';
import { answerErrors, clientErrorResponse } from './error-replies.js';
import { feedbackRoutes } from './feedback-routes.js';
import { oipRoutes } from './oip-routes.js';
import { isInference } from './protocol-routes.js';
import { tfServingRoutes } from './tfserving-routes.js';
import { qualityOn } from '../quality/target.js';
import { QualityTracker } from '../quality/tracker.js';

export interface AppOptions {
  /** The served models and their versions; or `service` alone, one model at one fixed version. */
  models?: ServedModels;
  service?: ModelService;
  metrics: RuntimeMetrics;
  /** Where request bodies are read to: the same owner the service was given. */
  bodies: RequestBodies;
  /**
   * Model quality tracking; by default one is made when the service's
   * configuration turns it on (quality/target.ts's qualityOn).
   */
  quality?: QualityTracker | undefined;
  /** Another path serving /metrics' text (tensorflow_model_server's monitoring config). */
  prometheusPath?: string | undefined;
}

export const runtimeApp: FastifyPluginAsync<AppOptions> = async (app, opts) => {
  const { metrics, bodies } = opts;
  const models = servedModelsOf(opts);
  const config = models.config;
  const quality =
    opts.quality ??
    (qualityOn(config) ? new QualityTracker({ config, registry: metrics.registry }) : undefined);
  const maxBodyBytes = config.maxBodyBytes;

  // Bodies are read as bytes and decoded per protocol (possibly in a worker).
  app.removeAllContentTypeParsers();
  // Each body is read into one buffer of its own, allocated from Content-Length
  // and aligned for binary tensors (body-reader.ts).
  const reading = { bodies, limit: maxBodyBytes };
  app.addContentTypeParser('*', (req, payload, done) => {
    readBody(req.headers, payload, reading, done);
  });

  // Another method on a known path gets 405 and Allow, not 404; every error
  // is {"error": ...} with a Tensorfleet-Error-Code header.
  const methodsFor = answerUnrouted(app);
  answerErrors(app, maxBodyBytes, methodsFor);

  // Request count and latency for inference routes (including 4xx/5xx).
  // A callback hook, not an async one: no promise per request.
  app.addHook('onResponse', (req, reply, done) => {
    const protocol = req.routeOptions.config.protocol;
    // Requests for a model or version not served here are not this model's traffic.
    const elsewhere = reply.getHeader('tensorfleet-error-code');
    if (
      protocol !== undefined &&
      elsewhere !== 'MODEL_NOT_FOUND' &&
      elsewhere !== 'VERSION_NOT_FOUND' &&
      isInference(req)
    ) {
      metricsOf(req, models).observeRequest(protocol, reply.statusCode, reply.elapsedTime / 1000);
    }
    done();
  });

  // Accept-Encoding: gzip is honoured, as Triton does.
  gzipAnswers(app);

  const extra = opts.prometheusPath;
  const metricsPaths = [
    '/metrics',
    ...(extra === undefined || extra === '/metrics' ? [] : [extra]),
  ];
  for (const path of metricsPaths) {
    app.get(path, async (_req, reply) => {
      const text = await metrics.registry.metrics();
      return reply.header('content-type', metrics.registry.contentType).send(text);
    });
  }

  await app.register(tfServingRoutes, { models, quality });
  await app.register(oipRoutes, { models, quality });
  await app.register(feedbackRoutes, { models, quality });
};

/** A fastify instance with the runtime registered (server.ts adds listening and signals). */
export async function buildApp(
  opts: AppOptions,
  serverOptions: FastifyServerOptions = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    bodyLimit: (opts.models ?? opts.service)?.config.maxBodyBytes,
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
