import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { podFailure } from '../../../src/operator/status/pod-failures.js';

const unschedulable = (message: string) => ({
  type: 'PodScheduled',
  status: 'False',
  reason: 'Unschedulable',
  message,
});

const draPod = (message: string, claimName?: string): V1Pod => ({
  metadata: { name: 'mnist-7d9-abcde' },
  spec: {
    containers: [],
    resourceClaims: [{ name: 'gpu', resourceClaimTemplateName: 'mnist-gpu-0123456789' }],
  },
  status: {
    phase: 'Pending',
    conditions: [unschedulable(message)],
    ...(claimName
      ? { resourceClaimStatuses: [{ name: 'gpu', resourceClaimName: claimName }] }
      : {}),
  },
});

describe('podFailure of a pod with DRA claims', () => {
  const CANNOT =
    '0/5 nodes are available: 1 cannot allocate all claims, 4 node(s) had untolerated taint.';

  it("names the pod's ResourceClaim after the scheduler's message", () => {
    expect(podFailure(draPod(CANNOT, 'mnist-7d9-abcde-gpu-x2v9q'))).toEqual({
      reason: 'Unschedulable',
      message: `${CANNOT} (ResourceClaim mnist-7d9-abcde-gpu-x2v9q)`,
      pod: 'mnist-7d9-abcde',
      persistent: false,
    });
  });

  it('names the template while the claim is not made yet', () => {
    const message =
      '0/5 nodes are available: request gpu: device class gpu.nvidia.com does not exist.';
    expect(podFailure(draPod(message))?.message).toBe(
      `${message} (ResourceClaim from ResourceClaimTemplate mnist-gpu-0123456789)`,
    );
  });

  it('leaves messages about other things as the scheduler wrote them', () => {
    const message = '0/5 nodes are available: 5 Insufficient cpu.';
    expect(podFailure(draPod(message, 'c'))?.message).toBe(message);
    const plain: V1Pod = { ...draPod(CANNOT), spec: { containers: [] } };
    expect(podFailure(plain)?.message).toBe(CANNOT);
  });
});
