import { describe, expect, it } from 'vitest';
import { buildScaledObject, signalQuery } from '../../../src/operator/builders/scaled-object.js';
import type { ScaledObjectObject } from '../../../src/operator/builders/scaled-object.js';
import { modelDeployment } from '../fixtures.js';

const keda = (metric: Record<string, unknown>) =>
  modelDeployment({ autoscaling: { engine: 'keda', minReplicas: 0, maxReplicas: 5, metric } });

describe('ScaledObject', () => {
  it('scales the ModelDeployment on a Prometheus trigger per replica', () => {
    const so = buildScaledObject(
      keda({ type: 'concurrency', target: 4 }),
      'http://prom:9090',
    ) as ScaledObjectObject;
    expect(so.spec).toMatchObject({
      scaleTargetRef: {
        apiVersion: 'tensorfleet.dev/v1alpha1',
        kind: 'ModelDeployment',
        name: 'mnist',
      },
      minReplicaCount: 0,
      maxReplicaCount: 5,
      cooldownPeriod: 300,
    });
    expect(so.spec.triggers).toEqual([
      {
        type: 'prometheus',
        metricType: 'AverageValue',
        metadata: {
          serverAddress: 'http://prom:9090',
          query: 'sum(tensorfleet_runtime_inflight_requests{namespace="ml",model="mnist"})',
          threshold: '4',
        },
      },
    ]);
  });

  it('uses the user query for metric type prometheus, and rates for rps', () => {
    const md = keda({ type: 'prometheus', target: 10, query: 'sum(my_signal)' });
    expect(signalQuery(md, md.spec.autoscaling.metric)).toBe('sum(my_signal)');
    const rps = keda({ type: 'rps', target: 50 });
    expect(signalQuery(rps, rps.spec.autoscaling.metric)).toContain(
      'rate(tensorfleet_runtime_requests_total',
    );
  });

  it('needs no Prometheus for cpu, and says so when one is needed but not configured', () => {
    const cpu = buildScaledObject(keda({ type: 'cpu', target: 70 }), '') as ScaledObjectObject;
    expect(cpu.spec.triggers).toEqual([
      { type: 'cpu', metricType: 'Utilization', metadata: { value: '70' } },
    ]);
    expect(buildScaledObject(keda({ type: 'queueDepth', target: 8 }), '')).toEqual({
      problem: expect.objectContaining({ reason: 'PrometheusNotConfigured' }) as unknown,
    });
  });
});
