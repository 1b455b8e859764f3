// Minimal shapes for objects read and written generically, and the resources
// the operator touches.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { ModelDeployment } from '../../api/v1alpha1/index.js';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: V1ObjectMeta & { name: string };
}

/** A ModelDeployment as the API server serves it (name always set). */
export type ModelDeploymentObject = ModelDeployment & KubeObject;

export interface KubeList<T> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

export interface ResourceRef {
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

const ref = (apiVersion: string, kind: string, plural: string, namespaced = true): ResourceRef => ({
  apiVersion,
  kind,
  plural,
  namespaced,
});

export const RESOURCES = {
  modelDeployment: ref('tensorfleet.dev/v1alpha1', 'ModelDeployment', 'modeldeployments'),
  deployment: ref('apps/v1', 'Deployment', 'deployments'),
  service: ref('v1', 'Service', 'services'),
  pod: ref('v1', 'Pod', 'pods'),
  endpointSlice: ref('discovery.k8s.io/v1', 'EndpointSlice', 'endpointslices'),
  event: ref('events.k8s.io/v1', 'Event', 'events'),
  configMap: ref('v1', 'ConfigMap', 'configmaps'),
  node: ref('v1', 'Node', 'nodes', false),
  namespace: ref('v1', 'Namespace', 'namespaces', false),
  podDisruptionBudget: ref('policy/v1', 'PodDisruptionBudget', 'poddisruptionbudgets'),
  horizontalPodAutoscaler: ref(
    'autoscaling/v2',
    'HorizontalPodAutoscaler',
    'horizontalpodautoscalers',
  ),
  serviceMonitor: ref('monitoring.coreos.com/v1', 'ServiceMonitor', 'servicemonitors'),
  prometheusRule: ref('monitoring.coreos.com/v1', 'PrometheusRule', 'prometheusrules'),
  scaledObject: ref('keda.sh/v1alpha1', 'ScaledObject', 'scaledobjects'),
  httpRoute: ref('gateway.networking.k8s.io/v1', 'HTTPRoute', 'httproutes'),
  // Dynamic Resource Allocation (Kubernetes 1.34+): the template the operator
  // owns, and what GPU-aware rollouts read to count free devices.
  resourceClaimTemplate: ref(
    'resource.k8s.io/v1',
    'ResourceClaimTemplate',
    'resourceclaimtemplates',
  ),
  resourceClaim: ref('resource.k8s.io/v1', 'ResourceClaim', 'resourceclaims'),
  resourceSlice: ref('resource.k8s.io/v1', 'ResourceSlice', 'resourceslices', false),
  deviceClass: ref('resource.k8s.io/v1', 'DeviceClass', 'deviceclasses', false),
  lease: ref('coordination.k8s.io/v1', 'Lease', 'leases'),
  customResourceDefinition: ref(
    'apiextensions.k8s.io/v1',
    'CustomResourceDefinition',
    'customresourcedefinitions',
    false,
  ),
} as const;

/** REST path of a collection, an object, or an object's subresource. */
export function resourcePath(
  r: ResourceRef,
  namespace?: string,
  name?: string,
  subresource?: string,
): string {
  const base = r.apiVersion.includes('/') ? `/apis/${r.apiVersion}` : `/api/${r.apiVersion}`;
  const ns = r.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const obj = name ? `/${encodeURIComponent(name)}` : '';
  const sub = name && subresource ? `/${subresource}` : '';
  return `${base}${ns}/${r.plural}${obj}${sub}`;
}

/** The cache and work-queue key of an object: namespace/name (or name when cluster-scoped). */
export function objectKey(o: { metadata?: { namespace?: string; name?: string } }): string {
  const ns = o.metadata?.namespace;
  return ns ? `${ns}/${o.metadata?.name ?? ''}` : (o.metadata?.name ?? '');
}

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return i < 0
    ? { namespace: '', name: key }
    : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
