// The gRPC services' definitions, loaded at startup from the .proto files
// vendored under proto/ (see proto/README.md): nothing is generated into the
// source tree. Field names stay as the .proto spells them (keepCase), int64s
// arrive as decimal strings, enums as their names, bytes as Buffers.

import { fileURLToPath } from 'node:url';
import type { PackageDefinition } from '@grpc/proto-loader';
import { loadSync } from '@grpc/proto-loader';

/** proto/ at the package root: three levels up from src/runtime/grpc and from dist/runtime/grpc. */
const PROTO_ROOT = fileURLToPath(new URL('../../../proto/', import.meta.url));

/** The services' files, each under its own project's include root. */
const FILES = [
  'tensorflow_serving/apis/prediction_service.proto',
  'tensorflow_serving/apis/model_service.proto',
  'grpc_predict_v2.proto',
  'grpc/health/v1/health.proto',
];
const INCLUDE_DIRS = ['tensorflow-serving', 'tensorflow', 'kserve', 'grpc'].map(
  (d) => `${PROTO_ROOT}${d}`,
);

export const SERVICE_NAMES = {
  prediction: 'tensorflow.serving.PredictionService',
  modelService: 'tensorflow.serving.ModelService',
  inference: 'inference.GRPCInferenceService',
  health: 'grpc.health.v1.Health',
} as const;

let cached: PackageDefinition | undefined;

export function packageDefinition(): PackageDefinition {
  cached ??= loadSync(FILES, {
    includeDirs: INCLUDE_DIRS,
    keepCase: true,
    longs: String,
    enums: String,
    defaults: false,
    arrays: true,
    oneofs: true,
  });
  return cached;
}
