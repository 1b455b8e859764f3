import { describe, expect, it } from 'vitest';
import {
  buildHorizontalPodAutoscaler,
  hpaMetric,
  toQuantity,
} from '../../../src/operator/builders/horizontal-pod-autoscaler.js';
import { buildPodDisruptionBudget } from '../../../src/operator/builders/pod-disruption-budget.js';
import { buildService, serviceURL } from '../../../src/operator/builders/service.js';
import {
  buildServiceMonitor,
  wantsServiceMonitor,
} from '../../../src/operator/builders/service-monitor.js';
import { buildTrackService } from '../../../src/operator/builders/http-route.js';
import { modelDeployment } from '../fixtures.js';

describe('Service', () => {
  it('selects every track of the model on the named http and grpc ports', () => {
    const s = buildService(modelDeployment({}));
    expect(s.spec!.selector).toEqual({ 'tensorfleet.dev/model': 'mnist' });
    expect(s.spec!.ports).toEqual([
      { name: 'http', port: 8501, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' },
      { name: 'grpc', port: 8500, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'grpc' },
    ]);
    expect(serviceURL(modelDeployment({}))).toBe('http://mnist.ml.svc.cluster.local:8501');
  });

  it('has no grpc port when the model serves no gRPC', () => {
    const s = buildService(modelDeployment({ runtime: { grpc: { enabled: false } } }));
    expect(s.spec!.ports!.map((p) => p.name)).toEqual(['http']);
  });
});

describe('PodDisruptionBudget', () => {
  it('exists only with more than one replica', () => {
    expect(buildPodDisruptionBudget(modelDeployment({ replicas: 1 }))).toBeUndefined();
    const pdb = buildPodDisruptionBudget(modelDeployment({ replicas: 3 }))!;
    expect(pdb.spec).toMatchObject({
      maxUnavailable: 1,
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    });
  });
});

describe('HorizontalPodAutoscaler', () => {
  it('exists only for engine hpa and scales the ModelDeployment itself', () => {
    expect(buildHorizontalPodAutoscaler(modelDeployment({}))).toBeUndefined();
    const hpa = buildHorizontalPodAutoscaler(
      modelDeployment({
        autoscaling: {
          engine: 'hpa',
          minReplicas: 2,
          maxReplicas: 6,
          behavior: { scaleDown: { stabilizationWindowSeconds: 120 } },
        },
      }),
    )!;
    expect(hpa.spec).toMatchObject({
      scaleTargetRef: {
        apiVersion: 'tensorfleet.dev/v1alpha1',
        kind: 'ModelDeployment',
        name: 'mnist',
      },
      minReplicas: 2,
      maxReplicas: 6,
      behavior: {
        scaleUp: { stabilizationWindowSeconds: 0 },
        scaleDown: { stabilizationWindowSeconds: 120 },
      },
    });
    expect(hpa.spec!.metrics).toEqual([
      {
        type: 'Pods',
        pods: {
          metric: { name: 'tensorfleet_runtime_inflight_requests' },
          target: { type: 'AverageValue', averageValue: '8' },
        },
      },
    ]);
  });

  it('maps cpu to resource utilization and fractions to milli-quantities', () => {
    expect(hpaMetric({ type: 'cpu', target: 70 })).toEqual({
      type: 'Resource',
      resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
    });
    expect(toQuantity(0.5)).toBe('500m');
    expect(toQuantity(12)).toBe('12');
    expect(() => hpaMetric({ type: 'prometheus', target: 1, query: 'up' })).toThrow(
      /cannot drive an HPA/,
    );
  });
});

describe('ServiceMonitor', () => {
  it('follows enabled auto/true/false and the CRD presence', () => {
    const md = (enabled: string) =>
      modelDeployment({ monitoring: { serviceMonitor: { enabled } } });
    expect(wantsServiceMonitor(md('auto'), true)).toBe(true);
    expect(wantsServiceMonitor(md('auto'), false)).toBe(false);
    expect(wantsServiceMonitor(md('true'), false)).toBe(true);
    expect(wantsServiceMonitor(md('false'), true)).toBe(false);
  });

  it('scrapes /metrics with version and track labels, carrying the user labels', () => {
    const sm = buildServiceMonitor(
      modelDeployment({
        monitoring: { serviceMonitor: { interval: '30s', labels: { release: 'prometheus' } } },
      }),
    );
    expect(sm.metadata.labels).toMatchObject({
      release: 'prometheus',
      'tensorfleet.dev/model': 'mnist',
    });
    expect(sm.spec.endpoints).toEqual([
      { port: 'http', path: '/metrics', interval: '30s', scheme: 'http' },
    ]);
    expect(sm.spec.podTargetLabels).toEqual(['tensorfleet.dev/version', 'tensorfleet.dev/track']);
    expect(sm.spec.namespaceSelector).toEqual({ matchNames: ['ml'] });
  });

  it("selects the model's Service and not the track Services of a Gateway API canary", () => {
    const md = modelDeployment({});
    const { matchLabels, matchExpressions } = buildServiceMonitor(md).spec.selector;
    const selects = (labels: Record<string, string> = {}) =>
      Object.entries(matchLabels).every(([k, v]) => labels[k] === v) &&
      matchExpressions.every((e) => !(e.key in labels));
    expect(selects(buildService(md).metadata.labels)).toBe(true);
    expect(selects(buildTrackService(md, 'stable').metadata.labels)).toBe(false);
    expect(selects(buildTrackService(md, 'canary').metadata.labels)).toBe(false);
  });
});
