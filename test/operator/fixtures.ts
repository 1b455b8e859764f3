// ModelDeployments as the API server would serve them: defaults applied by
// the CRD's own schema, so builder tests see what the operator sees.
import { makeValidator } from '../../src/api/json-schema.js';
import { openAPISchema } from '../../src/api/v1alpha1/index.js';
import type { ModelDeploymentObject } from '../../src/operator/kube/types.js';
import type { BuilderConfig } from '../../src/operator/builders/deployment.js';

const applyDefaults = makeValidator(openAPISchema());

export const CONFIG: BuilderConfig = {
  runtimeImage: 'example.com/runtime:1',
  runtimeGpuImage: 'example.com/runtime-gpu:1',
  gpuResourceName: 'nvidia.com/gpu',
};

export function modelDeployment(
  spec: Record<string, unknown>,
  name = 'mnist',
  namespace = 'ml',
): ModelDeploymentObject {
  const md = {
    apiVersion: 'tensorfleet.dev/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name, namespace, uid: `uid-${name}`, generation: 1 },
    spec: { model: { uri: 's3://models/mnist/3/', version: '3' }, ...spec },
  };
  const errors = applyDefaults(md);
  if (errors.length) throw new Error(`fixture invalid: ${JSON.stringify(errors)}`);
  return md as unknown as ModelDeploymentObject;
}
