import { describe, expect, it } from 'vitest';
import { significant, transitionEvents } from '../../../src/operator/status/transitions.js';
import type { ModelDeploymentStatus } from '../../../src/api/v1alpha1/index.js';

const T = '2026-01-01T00:00:00Z';
const status = (ready: number, reason: string, message: string): ModelDeploymentStatus => ({
  observedGeneration: 1,
  replicas: 1,
  readyReplicas: ready,
  conditions: [
    { type: 'Ready', status: ready ? 'True' : 'False', reason, message, lastTransitionTime: T },
  ],
});

describe('significant status changes', () => {
  it('ignores counters and messages (they are coalesced)', () => {
    expect(significant(status(0, 'RollingOut', '0/2 ready'))).toEqual(
      significant({
        ...status(0, 'RollingOut', '1/2 ready'),
        updatedReplicas: 1,
        currentVersion: '3',
      }),
    );
  });

  it('sees a condition status or reason change (written at once)', () => {
    expect(significant(status(0, 'RollingOut', 'x'))).not.toEqual(
      significant(status(1, 'ModelServing', 'x')),
    );
    expect(significant(status(0, 'RollingOut', 'x'))).not.toEqual(
      significant(status(0, 'Unschedulable', 'x')),
    );
  });
});

describe('transition events', () => {
  const entry = (version: string) => ({
    version,
    uri: `s3://m/${version}/`,
    startedAt: T,
    outcome: 'Succeeded' as const,
  });
  const stalled = (reason: string): ModelDeploymentStatus => ({
    conditions: [
      { type: 'Ready', status: 'False', reason, message: 'm', lastTransitionTime: T },
      { type: 'Stalled', status: 'True', reason, message: 'm', lastTransitionTime: T },
    ],
  });
  const reasons = (before: ModelDeploymentStatus, after: ModelDeploymentStatus) =>
    transitionEvents(before, after).map((e) => `${e.type} ${e.reason}`);

  it('marks a new version rolling out and serving, not a first rollout', () => {
    const v1 = { ...status(1, 'ModelServing', '1/1'), history: [entry('1')] };
    expect(reasons({}, v1)).toEqual([]);
    const rolling = { ...status(0, 'RollingOut', '0/1'), history: [entry('2'), entry('1')] };
    expect(transitionEvents(v1, rolling)).toEqual([
      {
        type: 'Normal',
        reason: 'RolloutStarted',
        message: 'rolling out version 2 from s3://m/2/',
        action: 'Rollout',
      },
    ]);
    const v2 = { ...status(1, 'ModelServing', '1/1'), history: rolling.history };
    expect(reasons(rolling, v2)).toEqual(['Normal ModelReady']);
    expect(reasons(v2, v2)).toEqual([]);
  });

  it('warns once per stall reason, and once on turning unschedulable', () => {
    expect(reasons({}, stalled('ImagePullBackOff'))).toEqual(['Warning ImagePullBackOff']);
    expect(reasons(stalled('ImagePullBackOff'), stalled('ImagePullBackOff'))).toEqual([]);
    expect(reasons(stalled('ImagePullBackOff'), stalled('ModelLoadFailed'))).toEqual([
      'Warning ModelLoadFailed',
    ]);
    const unschedulable = status(0, 'Unschedulable', 'no GPU');
    expect(reasons(status(0, 'RollingOut', ''), unschedulable)).toEqual(['Warning Unschedulable']);
    expect(reasons(unschedulable, unschedulable)).toEqual([]);
  });

  it('marks recovery from a stall as ModelReady, even on the first rollout', () => {
    const ready = { ...status(1, 'ModelServing', '1/1'), history: [entry('1')] };
    expect(reasons({ ...stalled('CrashLoopBackOff'), history: [entry('1')] }, ready)).toEqual([
      'Normal ModelReady',
    ]);
  });
});
