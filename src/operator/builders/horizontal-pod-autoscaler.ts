// Desired autoscaling/v2 HorizontalPodAutoscaler (autoscaling.engine: hpa). It
// scales the ModelDeployment through its scale subresource, so spec.replicas
// keeps one writer and the operator carries it to the Deployment.
import type { V2HorizontalPodAutoscaler, V2MetricSpec } from '@kubernetes/client-node';
import type { Autoscaling, Metric, ModelDeployment } from '../../api/v1alpha1/index.js';
import { API_VERSION, KIND } from '../../api/group.js';
import { RUNTIME_METRICS } from '../../contract/runtime.js';
import { objectMeta } from './labels.js';

export type HorizontalPodAutoscalerObject = V2HorizontalPodAutoscaler & {
  apiVersion: 'autoscaling/v2';
  kind: 'HorizontalPodAutoscaler';
  metadata: { name: string; namespace: string };
};

/**
 * Per-pod custom metrics, as the Prometheus Adapter exposes the runtime's
 * series (docs/progressive-delivery.md has the adapter rules).
 */
export const HPA_POD_METRICS: Partial<Record<Metric['type'], string>> = {
  concurrency: RUNTIME_METRICS.inflightRequests,
  rps: RUNTIME_METRICS.requestsPerSecond,
  queueDepth: RUNTIME_METRICS.queueDepth,
  gpuUtilization: 'DCGM_FI_DEV_GPU_UTIL',
};

/** A number as a Kubernetes quantity: integers as they are, fractions in milli-units. */
export function toQuantity(n: number): string {
  return Number.isInteger(n) ? String(n) : `${Math.round(n * 1000)}m`;
}

export function hpaMetric(metric: Metric): V2MetricSpec {
  if (metric.type === 'cpu') {
    return {
      type: 'Resource',
      resource: {
        name: 'cpu',
        target: { type: 'Utilization', averageUtilization: Math.round(metric.target) },
      },
    };
  }
  const name = HPA_POD_METRICS[metric.type];
  if (!name) throw new Error(`autoscaling.metric.type ${metric.type} cannot drive an HPA`);
  return {
    type: 'Pods',
    pods: {
      metric: { name },
      target: { type: 'AverageValue', averageValue: toQuantity(metric.target) },
    },
  };
}

/** autoscaling/v2 behavior from the spec (KEDA passes the same block to its HPA). */
export function hpaBehavior(a: Autoscaling) {
  return {
    scaleUp: { stabilizationWindowSeconds: a.behavior.scaleUp.stabilizationWindowSeconds },
    scaleDown: { stabilizationWindowSeconds: a.behavior.scaleDown.stabilizationWindowSeconds },
  };
}

export function buildHorizontalPodAutoscaler(
  md: ModelDeployment,
): HorizontalPodAutoscalerObject | undefined {
  const a = md.spec.autoscaling;
  if (a.engine !== 'hpa' || a.maxReplicas === undefined) return undefined;
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: objectMeta(md, md.metadata.name!),
    spec: {
      scaleTargetRef: { apiVersion: API_VERSION, kind: KIND, name: md.metadata.name! },
      minReplicas: Math.max(1, a.minReplicas),
      maxReplicas: a.maxReplicas,
      metrics: [hpaMetric(a.metric)],
      behavior: hpaBehavior(a),
    },
  };
}
