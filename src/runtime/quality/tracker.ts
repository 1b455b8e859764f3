// Model quality tracking, what the transports call: ids for requests,
// predictions recorded under them, and feedback that labels them and feeds
// the quality metrics. Made only when tracking is on (qualityOn), so that
// serving without it does nothing more per request.

import type { Registry } from 'prom-client';
import type { ServeConfig } from '../../contract/runtime.js';
import { RuntimeError } from '../errors.js';
import type { ModelSignature } from '../models/signature.js';
import type { TensorMap } from '../tensors.js';
import type { Judgement } from './feedback.js';
import { inlinePrediction, judge, readFeedbackBody } from './feedback.js';
import type { Prediction } from './prediction.js';
import { predictionOf, sizeOf } from './prediction.js';
import { PredictionLog } from './prediction-log.js';
import { QualityMetrics } from './quality-metrics.js';
import { requestId } from './request-id.js';
import type { QualityTarget } from './target.js';
import { qualityTarget } from './target.js';

/** The model as the tracker needs it: what predicted, with which signature. */
export interface TrackedModel {
  version: string;
  signature: ModelSignature;
}

export interface FeedbackResult {
  id: string | undefined;
  judgement: Judgement;
}

export type QualityConfig = Pick<
  ServeConfig,
  | 'modelName'
  | 'modelVersion'
  | 'qualityTracking'
  | 'qualityOutput'
  | 'qualityKind'
  | 'qualityWindow'
  | 'qualityLogMaxEntries'
  | 'qualityLogMaxValues'
  | 'qualityLogTtlSeconds'
>;

export class QualityTracker {
  private readonly config: QualityConfig;
  private readonly log: PredictionLog<Prediction>;
  private readonly metrics: QualityMetrics;
  /** The target of the signature last seen (a model's signature does not change once loaded). */
  private resolved: { signature: ModelSignature; target: QualityTarget } | undefined;

  constructor(opts: { config: QualityConfig; registry: Registry; now?: () => number }) {
    const { config } = opts;
    this.config = config;
    this.log = new PredictionLog<Prediction>({
      maxEntries: config.qualityLogMaxEntries,
      maxWeight: config.qualityLogMaxValues,
      ttlMs: config.qualityLogTtlSeconds * 1000,
      weight: sizeOf,
      ...(opts.now === undefined ? {} : { now: opts.now }),
    });
    this.metrics = new QualityMetrics({
      registry: opts.registry,
      model: config.modelName,
      version: config.modelVersion,
      window: config.qualityWindow,
      logEntries: () => {
        this.log.dropExpired();
        return this.log.size;
      },
    });
    this.log.onDrop = (p, why) => this.metrics.countDropped(p.version, p.rows, why);
    this.metrics.start(config.modelVersion);
  }

  /** What quality is measured on for this signature (CONFIG_INVALID when the flags do not fit it). */
  target(signature: ModelSignature): QualityTarget {
    if (this.resolved?.signature !== signature) {
      const target = qualityTarget(this.config, signature);
      this.resolved = { signature, target };
      this.metrics.start(this.config.modelVersion, target.kind);
    }
    return this.resolved.target;
  }

  /** The id a request's prediction is recorded under (see request-id.ts). */
  requestId(bodyId: string | undefined, header: string | string[] | undefined): string {
    return requestId(bodyId, header);
  }

  /** Records the prediction a request got, under its id. */
  record(id: string, model: TrackedModel, outputs: TensorMap): void {
    const target = this.target(model.signature);
    const out = outputs[target.output];
    if (out === undefined) return;
    const prediction = predictionOf(target, model.version, out);
    if (this.log.set(id, prediction)) this.metrics.countRecorded(model.version, prediction.rows);
  }

  /**
   * Labels a prediction (by id, or sent inline) and counts it in the
   * metrics. Throws INVALID_INPUT for a body that does not fit the
   * prediction, NOT_FOUND for an id not (or no longer) recorded.
   */
  feedback(body: unknown, model: TrackedModel): FeedbackResult {
    const target = this.target(model.signature);
    const request = readFeedbackBody(body);
    let prediction: Prediction;
    let id: string | undefined;
    if ('id' in request) {
      id = request.id;
      // Looked up first and taken only once the labels fit, so a bad body can be sent again fixed.
      const found = this.log.get(id);
      if (found === undefined) throw this.notFound(id);
      prediction = found;
    } else {
      prediction = inlinePrediction(target, model.version, request.prediction);
    }
    const judgement = judge(prediction, request.label, target.output);
    if (id !== undefined) this.log.take(id);
    if (judgement.kind === 'classification')
      this.metrics.observeClassification(prediction.version, judgement.hits);
    else this.metrics.observeRegression(prediction.version, judgement.errors);
    return { id, judgement };
  }

  private notFound(id: string): RuntimeError {
    const { qualityLogTtlSeconds: ttl, qualityLogMaxEntries: max } = this.config;
    return new RuntimeError(
      'NOT_FOUND',
      `no prediction is recorded under id ${JSON.stringify(id)}: it may have expired (predictions wait ${ttl} s for feedback, at most ${max} of them), been labelled already, or been served by another replica (send its feedback inline: {"prediction": ..., "label": ...})`,
    );
  }
}
