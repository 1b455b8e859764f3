// Where a Deployment's rollout stands, read from its status the way
// `kubectl rollout status` does. Shared by status, GPU-aware rollouts and
// canary steps.
import type { V1Deployment } from '@kubernetes/client-node';

/** True when the controller has seen the latest spec and `desired` pods of it are available. */
export function deploymentComplete(d: V1Deployment | undefined, desired: number): boolean {
  if (!d?.status) return false;
  const s = d.status;
  return (
    (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
    (d.spec?.replicas ?? 0) === desired &&
    (s.updatedReplicas ?? 0) === desired &&
    (s.replicas ?? 0) === desired &&
    (s.availableReplicas ?? 0) === desired &&
    (s.readyReplicas ?? 0) >= desired
  );
}

/** True while the Deployment has not finished rolling out its current template. */
export function rolloutPending(d: V1Deployment, desired: number): boolean {
  const s = d.status ?? {};
  return (
    (s.observedGeneration ?? 0) < (d.metadata?.generation ?? 0) ||
    (s.updatedReplicas ?? 0) < desired ||
    (s.replicas ?? 0) > (s.updatedReplicas ?? 0)
  );
}
