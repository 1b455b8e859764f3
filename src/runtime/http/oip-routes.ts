// Open Inference Protocol v2 REST routes (KServe v2 / Triton HTTP):
//   GET  /v2                                        server metadata
//   GET  /v2/health/live, /v2/health/ready          200 = true, 400 = false; {"live"|"ready": bool}
//   GET  /v2/models/{m}[/versions/{v}]              model metadata
//   GET  /v2/models/{m}[/versions/{v}]/ready        model readiness
//   POST /v2/models/{m}[/versions/{v}]/infer        inference (JSON or binary tensor extension)
// (and POST .../feedback: feedback-routes.ts)

import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { LIVE_PATH, READY_PATH } from '../../contract/runtime.js';
import { RuntimeError } from '../errors.js';
import { HEADER_LENGTH } from '../codec/binary-tensor.js';
import type { ProtocolOptions } from './protocol-routes.js';
import { tracked, versionFor } from '../admission.js';
import type { ModelService } from '../service.js';
import { bodyBytes, requireJson } from './protocol-routes.js';
import { sendJson } from './reply.js';
import { encodeInfer, oipDatatype } from '../codec/oip.js';
import { REQUEST_ID_HEADER } from '../quality/request-id.js';
import { RUNTIME_VERSION } from '../version.js';

interface ModelParams {
  model: string;
  version?: string;
}

export const EXTENSIONS = ['binary_tensor_data', 'classification'];

export const oipRoutes: FastifyPluginCallback<ProtocolOptions> = (
  app,
  { models, quality },
  done,
) => {
  /** The version a request's path names (OIP has versions, not labels). */
  const versionOf = (req: FastifyRequest<{ Params: ModelParams }>): ModelService =>
    versionFor(
      models,
      req,
      req.params.model,
      req.params.version === undefined ? undefined : { version: req.params.version },
    );
  app.get('/v2', async (_req, reply) =>
    sendJson(
      reply,
      JSON.stringify({
        name: 'tensorfleet-runtime',
        version: RUNTIME_VERSION,
        extensions: EXTENSIONS,
      }),
    ),
  );
  // Bodies as KServe's own server writes them (its SDK reads them); the status says the same.
  app.get(LIVE_PATH, async (_req, reply) => sendJson(reply, '{"live":true}'));
  app.get(READY_PATH, async (_req, reply) => {
    const ready = models.ready;
    return sendJson(reply, JSON.stringify({ ready }), ready ? 200 : 400);
  });

  function metadata(
    req: FastifyRequest<{ Params: ModelParams }>,
    reply: FastifyReply,
  ): FastifyReply {
    const info = versionOf(req).loadedModel();
    const tensors = (list: typeof info.signature.inputs): object[] =>
      list.map((s) => ({ name: s.name, datatype: oipDatatype(s), shape: s.shape }));
    return sendJson(
      reply,
      JSON.stringify({
        name: info.name,
        versions: models.model(info.name).availableVersions(),
        platform: `tensorflowjs_${info.format === 'tfjs-layers' ? 'layers' : info.format === 'tfjs-graph' ? 'graph' : 'savedmodel'}`,
        inputs: tensors(info.signature.inputs),
        outputs: tensors(info.signature.outputs),
        parameters: {
          backend: info.backend,
          tfjs_backend: info.tfjsBackend,
          device: info.device,
          format: info.format,
        },
      }),
    );
  }

  function ready(req: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply): FastifyReply {
    const ready = versionOf(req).state === 'ready';
    return sendJson(reply, JSON.stringify({ name: req.params.model, ready }), ready ? 200 : 400);
  }

  async function infer(
    req: FastifyRequest<{ Params: ModelParams }>,
    reply: FastifyReply,
  ): Promise<FastifyReply> {
    const service = versionOf(req);
    const headerLength = req.headers[HEADER_LENGTH];
    if (Array.isArray(headerLength))
      throw new RuntimeError('BAD_REQUEST', 'Inference-Header-Content-Length is repeated');
    if (headerLength === undefined) {
      requireJson(
        req,
        'send application/json, or binary tensors with an Inference-Header-Content-Length header',
      );
    }
    return tracked(service, async () => {
      const request = await service.decode({ protocol: 'oip', body: bodyBytes(req), headerLength });
      // With quality tracking, the prediction is kept under the request's id: its "id", else
      // x-request-id, else one made here; the response's "id" and x-request-id say which.
      const id = quality?.requestId(request.id, req.headers[REQUEST_ID_HEADER]);
      const { outputs, model } = await service.infer(
        request.inputs,
        request.rows,
        request.timeoutMs,
      );
      if (id !== undefined) {
        quality?.record(id, model, outputs);
        reply.header(REQUEST_ID_HEADER, id);
      }
      const answered = id === undefined ? request : { id, outputs: request.outputs };
      const out = encodeInfer(model.signature, model.name, model.version, answered, outputs);
      if (out.binary === undefined) return sendJson(reply, out.json);
      const header = Buffer.from(out.json, 'utf8');
      return reply
        .code(200)
        .header('content-type', 'application/octet-stream')
        .header('inference-header-content-length', String(header.length))
        .send(Buffer.concat([header, ...out.binary]));
    });
  }

  for (const prefix of ['/v2/models/:model', '/v2/models/:model/versions/:version']) {
    app.get<{ Params: ModelParams }>(prefix, async (req, reply) => metadata(req, reply));
    app.get<{ Params: ModelParams }>(`${prefix}/ready`, async (req, reply) => ready(req, reply));
    app.post<{ Params: ModelParams }>(`${prefix}/infer`, { config: { protocol: 'oip' } }, infer);
  }
  done();
};
