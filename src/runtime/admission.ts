// What every protocol does around a model call, over HTTP and gRPC alike:
// is the model (and version) asked for the one served here, and admission
// (refused while draining) with the in-flight gauge and drain accounting.

import { RuntimeError } from './errors.js';
import type { RuntimeMetrics } from './metrics.js';
import type { ModelService } from './service.js';

export function checkModel(
  service: ModelService,
  model: string,
  version: string | undefined,
): void {
  const { modelName, modelVersion } = service.config;
  if (model !== modelName) {
    throw new RuntimeError(
      'MODEL_NOT_FOUND',
      `model "${model}" is not served here; this runtime serves "${modelName}"`,
    );
  }
  if (version !== undefined && version !== modelVersion) {
    throw new RuntimeError(
      'VERSION_NOT_FOUND',
      `model "${model}" has no version "${version}"; this runtime serves version "${modelVersion}"`,
    );
  }
}

/**
 * Wraps an inference handler: admission (refused while draining), the
 * in-flight gauge from decode to response, and drain accounting.
 */
export async function tracked<T>(
  service: ModelService,
  metrics: RuntimeMetrics,
  fn: () => Promise<T>,
): Promise<T> {
  return service.handle(async () => {
    metrics.addInflight(1);
    try {
      return await fn();
    } finally {
      metrics.addInflight(-1);
    }
  });
}
