// What every protocol does around a model call, over HTTP and gRPC alike:
// which version of the served model a request goes to (model-versions.ts),
// remembered per request so that its metrics count under that version, and
// admission (refused once stopped) with the in-flight gauge and drain accounting.

import type { RuntimeMetrics } from './metrics.js';
import type { VersionRef } from './model-versions.js';
import type { ServedModels } from './served-models.js';
import type { ModelService } from './service.js';

/** The version's metrics each request was answered by (HTTP request or gRPC call). */
const answeredBy = new WeakMap<object, RuntimeMetrics>();

/**
 * The version of `model` that `request` goes to (or the error it gets). Call
 * it and tracked() in the same tick: an unloading version leaves routing
 * first and is closed only once every request it admitted has finished.
 */
export function versionFor(
  models: ServedModels,
  request: object,
  model: string,
  ref: VersionRef,
): ModelService {
  // An unknown model is not counted; a known one without the version asked
  // for counts under the model's own series.
  const served = models.model(model);
  answeredBy.set(request, served.metrics);
  const service = served.resolve(model, ref);
  answeredBy.set(request, service.metrics);
  return service;
}

/** The metrics to count `request` under: its version's, else the model's. */
export function metricsOf(request: object, models: ServedModels): RuntimeMetrics {
  return answeredBy.get(request) ?? models.metrics;
}

/**
 * Wraps an inference handler: admission (refused once stopped), the
 * in-flight gauge from decode to response, and drain accounting.
 */
export async function tracked<T>(service: ModelService, fn: () => Promise<T>): Promise<T> {
  const metrics = service.metrics;
  return service.handle(async () => {
    metrics.addInflight(1);
    try {
      return await fn();
    } finally {
      metrics.addInflight(-1);
    }
  });
}
