// Which pods a Service sends traffic to, from its EndpointSlices: a pod is
// routed once an endpoint for it is ready there. Between a pod turning Ready
// and this, callers of the Service cannot reach it yet, so Ready waits for it.
import type { V1EndpointSlice, V1Pod } from '@kubernetes/client-node';

/** The label the EndpointSlice controller puts on each slice of a Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/**
 * Whether a Service can route to the pod at all: endpoints may not hold
 * loopback addresses (the API refuses them), which simulated pods have.
 */
export function routable(pod: V1Pod): boolean {
  const ip = pod.status?.podIP;
  return ip === undefined || !(ip.startsWith('127.') || ip === '::1');
}

/** Names of the pods with a ready endpoint in the slices of Service `service`. */
export function routedPods(slices: readonly V1EndpointSlice[], service: string): Set<string> {
  const names = new Set<string>();
  for (const slice of slices) {
    if (slice.metadata?.labels?.[SERVICE_NAME_LABEL] !== service) continue;
    for (const endpoint of slice.endpoints ?? []) {
      // Unset means ready (the API's own default reading of the field).
      if (endpoint.conditions?.ready === false) continue;
      if (endpoint.targetRef?.kind === 'Pod' && endpoint.targetRef.name)
        names.add(endpoint.targetRef.name);
    }
  }
  return names;
}
