// Desired Prometheus Operator ServiceMonitor for the runtime pods. Pod labels
// for version and track are copied onto every series, so canary analysis and
// dashboards can tell versions apart. Only the model's own Service is
// selected: the per-track Services of a Gateway API canary front the same
// pods, and selecting them too would scrape every pod twice.
import type { ModelDeployment } from '../../api/v1alpha1/index.js';
import {
  LABEL_TRACK,
  LABEL_VERSION,
  RUNTIME_PORT_NAME,
  modelSelector,
  objectMeta,
} from './labels.js';

export interface ServiceMonitorObject {
  apiVersion: 'monitoring.coreos.com/v1';
  kind: 'ServiceMonitor';
  metadata: ReturnType<typeof objectMeta>;
  spec: {
    selector: {
      matchLabels: Record<string, string>;
      matchExpressions: { key: string; operator: 'DoesNotExist' }[];
    };
    namespaceSelector: { matchNames: string[] };
    podTargetLabels: string[];
    endpoints: { port: string; path: string; interval: string; scheme: string }[];
  };
}

/** Whether the spec wants a ServiceMonitor, given whether the cluster has the CRD. */
export function wantsServiceMonitor(md: ModelDeployment, crdInstalled: boolean): boolean {
  const mode = md.spec.monitoring.serviceMonitor.enabled;
  return mode === 'true' || (mode === 'auto' && crdInstalled);
}

export function buildServiceMonitor(md: ModelDeployment): ServiceMonitorObject {
  const sm = md.spec.monitoring.serviceMonitor;
  const meta = objectMeta(md, md.metadata.name!);
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: { ...meta, labels: { ...(sm.labels ?? {}), ...meta.labels } },
    spec: {
      selector: {
        matchLabels: modelSelector(md),
        matchExpressions: [{ key: LABEL_TRACK, operator: 'DoesNotExist' }],
      },
      namespaceSelector: { matchNames: [md.metadata.namespace!] },
      podTargetLabels: [LABEL_VERSION, LABEL_TRACK],
      endpoints: [
        { port: RUNTIME_PORT_NAME, path: '/metrics', interval: sm.interval, scheme: 'http' },
      ],
    },
  };
}
