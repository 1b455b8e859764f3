// Desired KEDA ScaledObject (autoscaling.engine: keda). Like the HPA it scales
// the ModelDeployment's /scale subresource, so spec.replicas has one writer.
// Signals come from Prometheus, which scrapes the runtime through the
// ServiceMonitor (the namespace label is Prometheus'; model is the runtime's).
import type { Metric, ModelDeployment } from '../../api/v1alpha1/index.js';
import { API_VERSION, KIND } from '../../api/group.js';
import type { Problem } from '../status/compute.js';
import { REASON } from '../status/reasons.js';
import { hpaBehavior } from './horizontal-pod-autoscaler.js';
import { RUNTIME_METRICS } from '../../contract/runtime.js';
import { objectMeta } from './labels.js';

export interface ScaledObjectObject {
  apiVersion: 'keda.sh/v1alpha1';
  kind: 'ScaledObject';
  metadata: ReturnType<typeof objectMeta>;
  spec: {
    scaleTargetRef: { apiVersion: string; kind: string; name: string };
    minReplicaCount: number;
    maxReplicaCount: number;
    pollingInterval: number;
    cooldownPeriod: number;
    advanced: {
      horizontalPodAutoscalerConfig: { behavior: ReturnType<typeof hpaBehavior> };
    };
    triggers: { type: string; metricType?: string; metadata: Record<string, string> }[];
  };
}

/** The PromQL whose value, divided by replicas, is held at metric.target. */
export function signalQuery(md: ModelDeployment, metric: Metric): string {
  const sel = `namespace="${md.metadata.namespace!}",model="${md.metadata.name!}"`;
  switch (metric.type) {
    case 'concurrency':
      return `sum(${RUNTIME_METRICS.inflightRequests}{${sel}})`;
    case 'rps':
      return `sum(rate(${RUNTIME_METRICS.requests}{${sel}}[1m]))`;
    case 'queueDepth':
      return `sum(${RUNTIME_METRICS.queueDepth}{${sel}})`;
    case 'gpuUtilization':
      return `sum(DCGM_FI_DEV_GPU_UTIL{namespace="${md.metadata.namespace!}",pod=~"${md.metadata.name!}-.*"})`;
    case 'prometheus':
      return metric.query ?? '';
    case 'cpu':
      return '';
  }
}

export function buildScaledObject(
  md: ModelDeployment,
  prometheusUrl: string,
): ScaledObjectObject | { problem: Problem } {
  const a = md.spec.autoscaling;
  const metric = a.metric;
  let trigger: ScaledObjectObject['spec']['triggers'][number];
  if (metric.type === 'cpu') {
    trigger = {
      type: 'cpu',
      metricType: 'Utilization',
      metadata: { value: String(Math.round(metric.target)) },
    };
  } else if (!prometheusUrl) {
    return {
      problem: {
        reason: REASON.PrometheusNotConfigured,
        message: `autoscaling.engine keda with metric ${metric.type} needs a Prometheus: set the operator's --prometheus-url`,
      },
    };
  } else {
    trigger = {
      type: 'prometheus',
      metricType: 'AverageValue',
      metadata: {
        serverAddress: prometheusUrl,
        query: signalQuery(md, metric),
        threshold: String(metric.target),
      },
    };
  }
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: objectMeta(md, md.metadata.name!),
    spec: {
      scaleTargetRef: { apiVersion: API_VERSION, kind: KIND, name: md.metadata.name! },
      minReplicaCount: a.minReplicas,
      maxReplicaCount: a.maxReplicas ?? Math.max(1, a.minReplicas),
      pollingInterval: 15,
      cooldownPeriod: a.behavior.scaleDown.stabilizationWindowSeconds,
      advanced: {
        horizontalPodAutoscalerConfig: { behavior: hpaBehavior(a) },
      },
      triggers: [trigger],
    },
  };
}
