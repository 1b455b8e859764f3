// The ModelDeployment object as the API server serves it (defaults applied).
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { ModelDeploymentSpec } from './spec.js';
import type { ModelDeploymentStatus } from './status.js';

export interface ModelDeployment {
  apiVersion: 'tensorfleet.dev/v1alpha1';
  kind: 'ModelDeployment';
  metadata: V1ObjectMeta;
  spec: ModelDeploymentSpec;
  status?: ModelDeploymentStatus;
}
