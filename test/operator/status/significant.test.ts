import { describe, expect, it } from 'vitest';
import { significant } from '../../../src/operator/reconciler.js';
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
