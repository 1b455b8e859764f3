// TF Serving REST API routes:
//   GET  /v1/models/{m}[/versions/{v}|/labels/{l}]            model status
//   GET  /v1/models/{m}[/versions/{v}|/labels/{l}]/metadata   signature metadata
//   POST /v1/models/{m}[/versions/{v}|/labels/{l}]:predict    inference
//   POST /v1/models/{m}[/versions/{v}|/labels/{l}]:feedback   labels for predictions (feedback-routes.ts)
// Errors are {"error": "..."} with TF Serving's status codes.

import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { RuntimeError } from '../errors.js';
import type { TensorSpec } from '../models/signature.js';
import type { VersionRef, VersionStatus } from '../model-versions.js';
import type { ServedModels } from '../served-models.js';
import type { ModelService } from '../service.js';
import type { ProtocolOptions } from './protocol-routes.js';
import { tracked, versionFor } from '../admission.js';
import { bodyBytes, markNotInference, requireJson } from './protocol-routes.js';
import { answerFeedback } from './feedback-routes.js';
import { REQUEST_ID_HEADER } from '../quality/request-id.js';
import { sendJson } from './reply.js';
import { encodePredict } from '../codec/tfserving.js';

const PATH =
  /^\/v1\/models\/([^/:]+)(?:\/versions\/([^/:]+)|\/labels\/([^/:]+))?(?:\/(metadata)|:([a-zA-Z]+))?\/?$/;

interface ParsedPath {
  model: string;
  ref: VersionRef;
  action: 'status' | 'metadata' | 'predict' | 'classify' | 'regress' | 'feedback';
}

function parsePath(url: string): ParsedPath {
  const path = url.split('?')[0] ?? '';
  const m = PATH.exec(path);
  if (m === null) {
    throw new RuntimeError(
      'NOT_FOUND',
      `malformed request path ${path}; expected /v1/models/{model}[/versions/{version}][/metadata|:predict|:feedback]`,
    );
  }
  const verb = m[5];
  if (
    verb !== undefined &&
    verb !== 'predict' &&
    verb !== 'classify' &&
    verb !== 'regress' &&
    verb !== 'feedback'
  ) {
    throw new RuntimeError('NOT_FOUND', `unknown method ":${verb}"; use :predict or :feedback`);
  }
  const model = decodeURIComponent(m[1] ?? '');
  const ref: VersionRef =
    m[2] !== undefined
      ? { version: decodeURIComponent(m[2]) }
      : m[3] !== undefined
        ? { label: decodeURIComponent(m[3]) }
        : undefined;
  return { model, ref, action: m[4] !== undefined ? 'metadata' : (verb ?? 'status') };
}

/**
 * The methods a TF Serving path takes (for 405 and OPTIONS), or undefined
 * when the path is not one of TF Serving's: status and metadata are read,
 * the verbs are posted.
 */
export function tfServingMethods(url: string): string[] | undefined {
  try {
    const { action } = parsePath(url);
    return action === 'status' || action === 'metadata' ? ['GET', 'HEAD'] : ['POST'];
  } catch {
    return undefined;
  }
}

function tensorInfo(s: TensorSpec): Record<string, unknown> {
  return {
    dtype: s.tfDtype,
    tensor_shape: { dim: s.shape.map((d) => ({ size: String(d), name: '' })), unknown_rank: false },
    name: s.tensorName,
  };
}

function statusEntry(s: VersionStatus): Record<string, unknown> {
  return {
    version: s.version,
    state: s.state,
    status: { error_code: s.errorCode, error_message: s.errorMessage },
  };
}

function status(models: ServedModels, model: string, ref: VersionRef): string {
  const versions = models.statuses(model, ref);
  return JSON.stringify({
    // KServe's v1 protocol reads these two (its SDK's is_model_ready); TF Serving's clients ignore them.
    name: model,
    ready: versions.some((v) => v.state === 'AVAILABLE'),
    model_version_status: versions.map(statusEntry),
  });
}

function metadata(service: ModelService): string {
  const info = service.loadedModel();
  const sig = info.signature;
  return JSON.stringify({
    model_spec: { name: info.name, signature_name: '', version: info.version },
    metadata: {
      signature_def: {
        signature_def: {
          [sig.name]: {
            inputs: Object.fromEntries(sig.inputs.map((s) => [s.name, tensorInfo(s)])),
            outputs: Object.fromEntries(sig.outputs.map((s) => [s.name, tensorInfo(s)])),
            method_name: sig.methodName,
          },
        },
      },
      tensorfleet: {
        backend: info.backend,
        tfjs_backend: info.tfjsBackend,
        device: info.device,
        format: info.format,
      },
    },
  });
}

export const tfServingRoutes: FastifyPluginCallback<ProtocolOptions> = (
  app,
  { models, quality },
  done,
) => {
  async function predict(
    service: ModelService,
    req: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply> {
    requireJson(req, 'send the predict request as application/json');
    // With quality tracking, the prediction is kept under the request's id (x-request-id).
    const id = quality?.requestId(undefined, req.headers[REQUEST_ID_HEADER]);
    return tracked(service, async () => {
      const { format, inputs, rows } = await service.decode({
        protocol: 'tfserving',
        body: bodyBytes(req),
      });
      const { outputs, model } = await service.infer(inputs, rows);
      if (id !== undefined) {
        quality?.record(id, model, outputs);
        reply.header(REQUEST_ID_HEADER, id);
      }
      return sendJson(reply, encodePredict(model.signature, format, outputs));
    });
  }

  app.get('/v1/models/*', async (req, reply) => {
    const p = parsePath(req.url);
    if (p.action === 'status') return sendJson(reply, status(models, p.model, p.ref));
    const service = versionFor(models, req, p.model, p.ref);
    if (p.action === 'metadata') return sendJson(reply, metadata(service));
    throw new RuntimeError('METHOD_NOT_ALLOWED', `:${p.action} needs POST`);
  });

  app.post('/v1/models/*', { config: { protocol: 'tfserving' } }, async (req, reply) => {
    const p = parsePath(req.url);
    if (p.action === 'feedback') {
      markNotInference(req);
      return answerFeedback(req, reply, { models, quality }, p.model, p.ref);
    }
    const service = versionFor(models, req, p.model, p.ref);
    if (p.action === 'predict') return predict(service, req, reply);
    if (p.action === 'classify' || p.action === 'regress') {
      throw new RuntimeError(
        'NOT_IMPLEMENTED',
        `:${p.action} is not supported: it needs tf.Example parsing signatures, which TF.js models do not have; use :predict`,
      );
    }
    throw new RuntimeError(
      'METHOD_NOT_ALLOWED',
      `${p.action === 'status' ? 'model status' : 'metadata'} needs GET`,
    );
  });
  done();
};
