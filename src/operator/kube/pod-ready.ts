// Whether a pod is Ready: its kubelet says its readiness probe passes.
import type { V1Pod } from '@kubernetes/client-node';

export function podReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}
