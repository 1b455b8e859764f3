// GPU-capacity-aware rolling updates. A surge pod that asks for GPUs no node
// has free stays Pending forever, and with maxUnavailable 0 the rollout
// deadlocks. When that happens, and the old pods hold GPUs the new ones can
// use (same resource, at least as many, same product), the rollout switches to
// replacing pods in place (maxSurge 0, maxUnavailable 1) until it completes.
// A rollout that needs more than the old pods free (e.g. 100 GPUs) is left to
// stall with its reason, keeping the old version serving.
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import type { ModelDeployment } from '../../api/v1alpha1/index.js';
import { GPU_PRODUCT_LABEL } from '../../api/v1alpha1/index.js';
import type { BuilderConfig } from '../builders/deployment.js';
import { IN_PLACE, ROLLOUT_MODE_ANNOTATION, gpuRequest } from '../builders/deployment.js';
import { LABEL_VERSION, modelVersion } from '../builders/labels.js';
import { rolloutPending } from './deployment-progress.js';

export interface RolloutDecision {
  inPlace: boolean;
  /** Why, for status and events. */
  message?: string;
}

/** GPUs of `resource` a pod requests, and the product it requires. */
function podGpus(pod: V1Pod, resource: string): { count: number; product?: string } {
  const spec = pod.spec;
  const count = Number(spec?.containers[0]?.resources?.limits?.[resource] ?? 0);
  const terms =
    spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
      ?.nodeSelectorTerms ?? [];
  const product = terms
    .flatMap((t) => t.matchExpressions ?? [])
    .find((e) => e.key === GPU_PRODUCT_LABEL && e.operator === 'In')?.values?.[0];
  return product ? { count, product } : { count };
}

export function decideRollout(
  md: ModelDeployment,
  config: Pick<BuilderConfig, 'gpuResourceName'>,
  observed: V1Deployment | undefined,
  pods: V1Pod[],
): RolloutDecision {
  const gpu = gpuRequest(md, config);
  if (!gpu || !observed || !rolloutPending(observed, md.spec.replicas)) return { inPlace: false };
  const message = `no free ${gpu.resource} to surge a new pod: replacing pods one at a time`;
  // Once chosen, in-place holds until the rollout completes (no flapping as GPUs free up).
  if (observed.metadata?.annotations?.[ROLLOUT_MODE_ANNOTATION] === IN_PLACE)
    return { inPlace: true, message };

  const target = modelVersion(md);
  const starved = pods.some((p) => {
    if (p.metadata?.labels?.[LABEL_VERSION] !== target) return false;
    const c = p.status?.conditions?.find((x) => x.type === 'PodScheduled');
    return (
      c?.status === 'False' &&
      c.reason === 'Unschedulable' &&
      (c.message ?? '').includes(gpu.resource)
    );
  });
  if (!starved) return { inPlace: false };

  // Removing one old pod must free what one new pod needs, where it needs it.
  const product = md.spec.resources.gpu?.product;
  const oldPodFreesEnough = pods
    .filter((p) => p.metadata?.labels?.[LABEL_VERSION] !== target)
    .some((p) => {
      const old = podGpus(p, gpu.resource);
      return old.count >= gpu.count && old.product === product;
    });
  return oldPodFreesEnough ? { inPlace: true, message } : { inPlace: false };
}
