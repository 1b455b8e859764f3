import { describe, expect, it } from 'vitest';
import { hpaStatus, scaledObjectStatus } from '../../../src/operator/autoscaling/engine-status.js';

describe('hpaStatus', () => {
  it('reports the metric, desired replicas and why the controller cannot scale', () => {
    const s = hpaStatus({
      spec: { maxReplicas: 4, scaleTargetRef: { kind: 'ModelDeployment', name: 'm' } },
      status: {
        desiredReplicas: 3,
        lastScaleTime: new Date('2026-11-28T10:00:00.123Z'),
        currentMetrics: [
          {
            type: 'Pods',
            pods: {
              metric: { name: 'tensorfleet_runtime_inflight_requests' },
              current: { averageValue: '7500m' },
            },
          },
        ],
        conditions: [
          { type: 'AbleToScale', status: 'True', reason: 'ReadyForNewScale', message: 'ok' },
          {
            type: 'ScalingActive',
            status: 'False',
            reason: 'FailedGetPodsMetric',
            message: 'unable to get metric tensorfleet_runtime_inflight_requests',
          },
        ],
      },
    });
    expect(s).toEqual({
      engine: 'hpa',
      currentValue: 7.5,
      desiredReplicas: 3,
      lastScaleTime: '2026-11-28T10:00:00Z',
      lastDecision:
        'FailedGetPodsMetric: unable to get metric tensorfleet_runtime_inflight_requests',
    });
  });

  it('says when it is limited by min/max, and when the controller has not run yet', () => {
    const limited = hpaStatus({
      spec: { maxReplicas: 4, scaleTargetRef: { kind: 'ModelDeployment', name: 'm' } },
      status: {
        desiredReplicas: 4,
        currentMetrics: [
          { type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 180 } } },
        ],
        conditions: [
          { type: 'ScalingActive', status: 'True', reason: 'ValidMetricFound', message: 'ok' },
          {
            type: 'ScalingLimited',
            status: 'True',
            reason: 'TooManyReplicas',
            message: 'the desired replica count is more than the maximum replica count',
          },
        ],
      },
    });
    expect(limited.currentValue).toBe(180);
    expect(limited.lastDecision).toMatch(/^TooManyReplicas: /);
    expect(hpaStatus(undefined).lastDecision).toMatch(/waiting/);
  });
});

describe('scaledObjectStatus', () => {
  it('reads KEDA conditions: not ready first, else active', () => {
    expect(
      scaledObjectStatus({
        status: {
          conditions: [
            {
              type: 'Ready',
              status: 'False',
              reason: 'ScaledObjectCheckFailed',
              message: 'no Prometheus',
            },
            { type: 'Active', status: 'False', message: 'inactive' },
          ],
        },
      }),
    ).toEqual({ engine: 'keda', lastDecision: 'ScaledObjectCheckFailed: no Prometheus' });
    expect(scaledObjectStatus(undefined).lastDecision).toMatch(/waiting for KEDA/);
  });
});
