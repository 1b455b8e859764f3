// GPU-capacity-aware rolling updates. A surge pod that asks for GPUs no node
// has free stays Pending forever, and with maxUnavailable 0 the rollout
// deadlocks. When that happens, and the old pods hold GPUs the new ones can
// use (same resource, at least as many, same product; with DRA, claims from
// the same ResourceClaimTemplate), the rollout switches to
// replacing pods in place (maxSurge 0, maxUnavailable 1) until it completes.
// A rollout that needs more than the old pods free (e.g. 100 GPUs) is left to
// stall with its reason, keeping the old version serving.
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import type { ModelDeployment } from '../../api/v1alpha1/index.js';
import { GPU_PRODUCT_LABEL } from '../../api/v1alpha1/index.js';
import type { BuilderConfig } from '../builders/deployment.js';
import { IN_PLACE, ROLLOUT_MODE_ANNOTATION, gpuRequest } from '../builders/deployment.js';
import { LABEL_VERSION, modelVersion } from '../builders/labels.js';
import { draRequest, resourceClaimTemplateName } from '../builders/resource-claim-template.js';
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

/** What a replica needs of GPUs, as the rollout decision compares pods by it. */
interface GpuNeed {
  /** Named in messages: the extended resource, or the DRA device class. */
  what: string;
  /** True when the scheduler's message says a pod did not fit for want of it. */
  refused(message: string): boolean;
  /** True when removing this (old) pod frees what one new pod needs, where it needs it. */
  freedBy(pod: V1Pod): boolean;
}

/** The scheduler's DRA plugin, when no node has the devices a pod's claims ask for. */
const DRA_REFUSAL = /cannot allocate all claims/;

/** The model's need of GPUs, from the device plugin or through DRA; undefined for a CPU-only model. */
function gpuNeed(
  md: ModelDeployment,
  config: Pick<BuilderConfig, 'gpuResourceName'>,
): GpuNeed | undefined {
  const gpu = gpuRequest(md, config);
  if (gpu) {
    const product = md.spec.resources.gpu?.product;
    return {
      what: gpu.resource,
      refused: (message) => message.includes(gpu.resource),
      freedBy: (pod) => {
        const old = podGpus(pod, gpu.resource);
        return old.count >= gpu.count && old.product === product;
      },
    };
  }
  const dra = draRequest(md);
  if (!dra) return undefined;
  // The template's name hashes the request: the same name is the same need.
  const template = resourceClaimTemplateName(md, dra);
  return {
    what: `${dra.deviceClassName} devices`,
    refused: (message) => DRA_REFUSAL.test(message),
    freedBy: (pod) =>
      (pod.spec?.resourceClaims ?? []).some((c) => c.resourceClaimTemplateName === template),
  };
}

/** Pods a rolling update may add at once (maxSurge, a percent rounded up as Deployments do). */
export function surgePods(md: ModelDeployment): number {
  const surge = md.spec.rollout.maxSurge;
  if (typeof surge === 'number') return surge;
  return Math.ceil((md.spec.replicas * Number(surge.replace('%', ''))) / 100);
}

/** True when a GPU model's Deployment is about to roll to a new version with surge pods. */
export function surgeCheckNeeded(
  md: ModelDeployment,
  config: Pick<BuilderConfig, 'gpuResourceName'>,
  observed: V1Deployment | undefined,
): boolean {
  return (
    gpuNeed(md, config) !== undefined &&
    observed !== undefined &&
    !rolloutPending(observed, md.spec.replicas) &&
    observed.spec?.template?.metadata?.labels?.[LABEL_VERSION] !== modelVersion(md) &&
    surgePods(md) > 0
  );
}

/**
 * `surgeSlots`: how many surge pods the cluster has free GPUs for, counted
 * before the rollout starts (undefined when unknown); without room the
 * rollout starts in place. Once started, a surge pod the scheduler refuses
 * for want of a GPU switches it too.
 */
export function decideRollout(
  md: ModelDeployment,
  config: Pick<BuilderConfig, 'gpuResourceName'>,
  observed: V1Deployment | undefined,
  pods: V1Pod[],
  surgeSlots?: number,
): RolloutDecision {
  const gpu = gpuNeed(md, config);
  if (!gpu || !observed) return { inPlace: false };
  const target = modelVersion(md);
  let message: string;
  if (!rolloutPending(observed, md.spec.replicas)) {
    const surge = surgePods(md);
    if (!surgeCheckNeeded(md, config, observed) || surgeSlots === undefined || surgeSlots >= surge)
      return { inPlace: false };
    message = `no free ${gpu.what} for ${surge} surge pod(s) (room for ${surgeSlots}): replacing pods one at a time`;
  } else {
    message = `no free ${gpu.what} to surge a new pod: replacing pods one at a time`;
    // Once chosen, in-place holds until the rollout completes (no flapping as GPUs free up).
    if (observed.metadata?.annotations?.[ROLLOUT_MODE_ANNOTATION] === IN_PLACE)
      return { inPlace: true, message };
    const starved = pods.some((p) => {
      if (p.metadata?.labels?.[LABEL_VERSION] !== target) return false;
      const c = p.status?.conditions?.find((x) => x.type === 'PodScheduled');
      return c?.status === 'False' && c.reason === 'Unschedulable' && gpu.refused(c.message ?? '');
    });
    if (!starved) return { inPlace: false };
  }

  // Removing one old pod must free what one new pod needs, where it needs it.
  const oldPodFreesEnough = pods
    .filter((p) => p.metadata?.labels?.[LABEL_VERSION] !== target)
    .some((p) => gpu.freedBy(p));
  return oldPodFreesEnough ? { inPlace: true, message } : { inPlace: false };
}
