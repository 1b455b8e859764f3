// Desired Gateway API objects for a canary split by exact weights: one
// Service per track (stable, canary) and an HTTPRoute sending `weight` percent
// of the Gateway's traffic to the canary's Service and the rest to stable's.
import type { CanaryStatus, ModelDeployment } from '../../api/v1alpha1/index.js';
import type { Track } from './labels.js';
import { RUNTIME_PORT } from '../../contract/runtime.js';
import { LABEL_MODEL, LABEL_TRACK, deploymentName, objectMeta } from './labels.js';
import type { ServiceObject } from './service.js';
import { buildService } from './service.js';

export interface HTTPRouteObject {
  apiVersion: 'gateway.networking.k8s.io/v1';
  kind: 'HTTPRoute';
  metadata: ReturnType<typeof objectMeta>;
  spec: {
    parentRefs: {
      group: string;
      kind: string;
      name: string;
      namespace?: string;
      sectionName?: string;
    }[];
    hostnames?: string[];
    rules: {
      backendRefs: { group: ''; kind: 'Service'; name: string; port: number; weight: number }[];
    }[];
  };
}

/** The Service of one track: `<name>-stable` or `<name>-canary`. */
export function trackServiceName(md: ModelDeployment, track: Track): string {
  return track === 'stable' ? `${md.metadata.name!}-stable` : deploymentName(md, 'canary');
}

export function buildTrackService(md: ModelDeployment, track: Track): ServiceObject {
  const base = buildService(md);
  return {
    ...base,
    metadata: objectMeta(md, trackServiceName(md, track), { [LABEL_TRACK]: track }),
    spec: {
      ...base.spec,
      selector: { [LABEL_MODEL]: md.metadata.name!, [LABEL_TRACK]: track },
    },
  };
}

/**
 * The canary's share of the route: its step weight while it serves (stepping,
 * paused, or promoted and kept until the stable pods run the new version), and
 * only once one of its pods is available, so the Gateway never sends requests
 * to a Service without endpoints; 0 otherwise.
 */
export function routeWeight(canary: CanaryStatus | undefined, canaryAvailable: number): number {
  const serving =
    canary?.phase === 'Progressing' || canary?.phase === 'Paused' || canary?.phase === 'Promoting';
  return serving && canaryAvailable > 0 ? canary.weight : 0;
}

/** The route, with `canaryWeight` percent to the canary (0 between rollouts). */
export function buildHTTPRoute(
  md: ModelDeployment,
  canaryWeight: number,
): HTTPRouteObject | undefined {
  const routing = md.spec.rollout.canary?.trafficRouting?.gatewayAPI;
  if (!routing) return undefined;
  const weight = Math.min(100, Math.max(0, Math.round(canaryWeight)));
  const backend = (track: Track, w: number) => ({
    group: '' as const,
    kind: 'Service' as const,
    name: trackServiceName(md, track),
    port: RUNTIME_PORT,
    weight: w,
  });
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: objectMeta(md, md.metadata.name!),
    spec: {
      parentRefs: routing.parentRefs.map((p) => ({
        group: 'gateway.networking.k8s.io',
        kind: 'Gateway',
        name: p.name,
        ...(p.namespace ? { namespace: p.namespace } : {}),
        ...(p.sectionName ? { sectionName: p.sectionName } : {}),
      })),
      ...(routing.hostnames?.length ? { hostnames: routing.hostnames } : {}),
      rules: [{ backendRefs: [backend('stable', 100 - weight), backend('canary', weight)] }],
    },
  };
}
