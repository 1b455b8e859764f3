// Feedback on predictions (model quality, docs/runtime.md): labels for a
// prediction recorded under its request id, or sent inline.
//   POST /v2/models/{m}[/versions/{v}]/feedback      (Open Inference Protocol style)
//   POST /v1/models/{m}[/versions/{v}]:feedback      (TF Serving style: tfserving-routes.ts
//                                                     routes it here)
// Not inference: not admitted, batched or counted in the request metrics.

import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { versionFor } from '../admission.js';
import type { VersionRef } from '../model-versions.js';
import { parseJson } from '../codec/parse-json.js';
import { RuntimeError } from '../errors.js';
import type { FeedbackResult } from '../quality/tracker.js';
import type { ProtocolOptions } from './protocol-routes.js';
import { bodyBytes, requireJson } from './protocol-routes.js';
import { sendJson } from './reply.js';

/** What a feedback request is answered with: the rows labelled and how they fared. */
function resultJson({ id, judgement }: FeedbackResult): string {
  const head = id === undefined ? {} : { id };
  if (judgement.kind === 'classification') {
    const correct = judgement.hits.filter(Boolean).length;
    return JSON.stringify({ ...head, labelled: judgement.hits.length, correct });
  }
  const finite = judgement.errors.filter(Number.isFinite);
  const mean = finite.length === 0 ? null : finite.reduce((a, e) => a + e, 0) / finite.length;
  return JSON.stringify({
    ...head,
    labelled: judgement.errors.length,
    mean_absolute_error: mean,
  });
}

/** Answers one feedback request for the model and version of its path. */
export async function answerFeedback(
  req: FastifyRequest,
  reply: FastifyReply,
  { models, quality }: Pick<ProtocolOptions, 'models' | 'quality'>,
  model: string,
  ref: VersionRef,
): Promise<FastifyReply> {
  const service = versionFor(models, req, model, ref);
  if (quality === undefined) {
    throw new RuntimeError(
      'NOT_IMPLEMENTED',
      'model quality tracking is off, so no feedback is taken: start the runtime with --quality-tracking (or --quality-output)',
    );
  }
  requireJson(req, 'send the feedback as application/json');
  const loaded = service.loadedModel();
  const body = parseJson(bodyBytes(req), 'feedback body');
  return sendJson(reply, resultJson(quality.feedback(body, loaded)));
}

interface ModelParams {
  model: string;
  version?: string;
}

export const feedbackRoutes: FastifyPluginCallback<ProtocolOptions> = (app, opts, done) => {
  for (const prefix of ['/v2/models/:model', '/v2/models/:model/versions/:version']) {
    app.post<{ Params: ModelParams }>(`${prefix}/feedback`, async (req, reply) =>
      answerFeedback(
        req,
        reply,
        opts,
        req.params.model,
        req.params.version === undefined ? undefined : { version: req.params.version },
      ),
    );
  }
  done();
};
