// Desired Service of a ModelDeployment: one stable address for every track.
import type { V1Service } from '@kubernetes/client-node';
import type { ModelDeployment } from '../../api/v1alpha1/index.js';
import { RUNTIME_PORT } from '../../contract/runtime.js';
import { RUNTIME_PORT_NAME, modelSelector, objectMeta } from './labels.js';

export type ServiceObject = V1Service & {
  apiVersion: 'v1';
  kind: 'Service';
  metadata: { name: string; namespace: string };
};

export function buildService(md: ModelDeployment): ServiceObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(md, md.metadata.name!),
    spec: {
      type: 'ClusterIP',
      selector: modelSelector(md),
      ports: [
        {
          name: RUNTIME_PORT_NAME,
          port: RUNTIME_PORT,
          targetPort: RUNTIME_PORT_NAME,
          protocol: 'TCP',
          appProtocol: 'http',
        },
      ],
    },
  };
}

/** The in-cluster URL users call (TF Serving REST and OIP v2 on one port). */
export function serviceURL(md: ModelDeployment, clusterDomain = 'cluster.local'): string {
  return `http://${md.metadata.name!}.${md.metadata.namespace!}.svc.${clusterDomain}:${RUNTIME_PORT}`;
}
