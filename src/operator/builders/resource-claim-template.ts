// Desired ResourceClaimTemplate of a model that asks for its GPUs through
// Dynamic Resource Allocation (spec.resources.gpu.dra). Pure: ModelDeployment
// in, object out. Each pod of the model gets its own ResourceClaim made from
// the template, which the scheduler allocates from the devices drivers publish
// in ResourceSlices.
import { createHash } from 'node:crypto';
import type { V1ResourceClaimTemplate } from '@kubernetes/client-node';
import type { GpuDra, ModelDeployment } from '../../api/v1alpha1/index.js';
import { objectMeta } from './labels.js';

/** The claim's name in the pod (spec.resourceClaims, the container's resources.claims) and its one request's name. */
export const GPU_CLAIM = 'gpu';

export type ResourceClaimTemplateObject = V1ResourceClaimTemplate & {
  apiVersion: 'resource.k8s.io/v1';
  kind: 'ResourceClaimTemplate';
  metadata: { name: string; namespace: string };
};

/** What a replica asks DRA for, or undefined when the model's GPUs (if any) come from the device plugin. */
export interface DraRequest {
  deviceClassName: string;
  count: number;
  selectors: string[];
  matchAttribute?: string;
}

export function draRequest(md: ModelDeployment): DraRequest | undefined {
  const gpu = md.spec.resources.gpu;
  const dra: GpuDra | undefined = gpu?.dra;
  if (!gpu || !dra || gpu.count <= 0) return undefined;
  return {
    deviceClassName: dra.deviceClassName,
    count: gpu.count,
    selectors: (dra.selectors ?? []).map((s) => s.cel.expression),
    ...(dra.matchAttribute ? { matchAttribute: dra.matchAttribute } : {}),
  };
}

/**
 * The template's name: the model's, then a hash of the request. A template's
 * spec cannot change once created, so a changed request gets a new template
 * (and the pods, which name it, roll out onto it).
 */
export function resourceClaimTemplateName(md: ModelDeployment, request: DraRequest): string {
  const hash = createHash('sha256').update(JSON.stringify(request)).digest('hex').slice(0, 10);
  return `${md.metadata.name!}-gpu-${hash}`;
}

export function buildResourceClaimTemplate(
  md: ModelDeployment,
): ResourceClaimTemplateObject | undefined {
  const request = draRequest(md);
  if (!request) return undefined;
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceClaimTemplate',
    metadata: objectMeta(md, resourceClaimTemplateName(md, request)),
    spec: {
      spec: {
        devices: {
          requests: [
            {
              name: GPU_CLAIM,
              exactly: {
                deviceClassName: request.deviceClassName,
                allocationMode: 'ExactCount',
                count: request.count,
                ...(request.selectors.length
                  ? { selectors: request.selectors.map((expression) => ({ cel: { expression } })) }
                  : {}),
              },
            },
          ],
          ...(request.matchAttribute
            ? { constraints: [{ requests: [GPU_CLAIM], matchAttribute: request.matchAttribute }] }
            : {}),
        },
      },
    },
  };
}
