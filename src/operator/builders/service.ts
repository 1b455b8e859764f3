// Desired Service of a ModelDeployment: one stable address for every track.
import type { V1Service } from '@kubernetes/client-node';
import type { ModelDeployment } from '../../api/v1alpha1/index.js';
import { RUNTIME_GRPC_PORT, RUNTIME_PORT } from '../../contract/runtime.js';
import { GRPC_PORT_NAME, RUNTIME_PORT_NAME, modelSelector, objectMeta } from './labels.js';

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
        // Plain-text HTTP/2: meshes and Gateways route it as gRPC by its appProtocol.
        ...(md.spec.runtime.grpc.enabled
          ? [
              {
                name: GRPC_PORT_NAME,
                port: RUNTIME_GRPC_PORT,
                targetPort: GRPC_PORT_NAME,
                protocol: 'TCP',
                appProtocol: 'grpc',
              },
            ]
          : []),
      ],
    },
  };
}

/** The in-cluster URL users call over REST (TF Serving and OIP v2 on one port; gRPC is on RUNTIME_GRPC_PORT). */
export function serviceURL(md: ModelDeployment, clusterDomain = 'cluster.local'): string {
  return `http://${md.metadata.name!}.${md.metadata.namespace!}.svc.${clusterDomain}:${RUNTIME_PORT}`;
}
