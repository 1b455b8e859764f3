import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { GpuPodShape } from '../../../src/operator/rollout/gpu-capacity.js';
import { eligibleNodes, surgeSlots } from '../../../src/operator/rollout/gpu-capacity.js';

const GPU_TAINT = { key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' };

function node(
  name: string,
  gpus: number,
  opts: {
    product?: string;
    ready?: boolean;
    cordoned?: boolean;
    taints?: (typeof GPU_TAINT)[];
  } = {},
): V1Node {
  return {
    metadata: {
      name,
      labels: { 'nvidia.com/gpu.product': opts.product ?? 'L4', pool: 'a' },
    },
    spec: { unschedulable: opts.cordoned ?? false, taints: opts.taints ?? [GPU_TAINT] },
    status: {
      allocatable: { 'nvidia.com/gpu': String(gpus) },
      conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }],
    },
  };
}

function pod(gpus: number, phase = 'Running'): V1Pod {
  return {
    spec: {
      containers: [
        { name: 'a', resources: { limits: { 'nvidia.com/gpu': String(gpus) } } },
        { name: 'sidecar', resources: {} },
      ],
    },
    status: { phase },
  };
}

const shape: GpuPodShape = {
  resource: 'nvidia.com/gpu',
  count: 2,
  product: 'L4',
  tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
};

describe('eligibleNodes', () => {
  it('keeps Ready, schedulable nodes with the product, room for one pod and tolerated taints', () => {
    const nodes = [
      node('ok', 8),
      node('small', 1),
      node('other-product', 8, { product: 'H100' }),
      node('not-ready', 8, { ready: false }),
      node('cordoned', 8, { cordoned: true }),
      node('tainted', 8, {
        taints: [GPU_TAINT, { key: 'dedicated', value: 'x', effect: 'NoSchedule' }],
      }),
    ];
    expect(eligibleNodes(nodes, shape).map((n) => n.metadata!.name)).toEqual(['ok']);
    expect(eligibleNodes(nodes, { ...shape, nodeSelector: { pool: 'b' } })).toEqual([]);
  });
});

describe('surgeSlots', () => {
  it('counts whole pods of the shape in what running pods leave free', () => {
    const nodes = [node('a', 8), node('b', 4)];
    const pods = new Map([
      ['a', [pod(2), pod(3), pod(2, 'Succeeded')]],
      ['b', [pod(4)]],
    ]);
    // a: 8 - 5 = 3 free -> 1 pod of 2; b: full.
    expect(surgeSlots(nodes, pods, shape)).toBe(1);
    expect(surgeSlots(nodes, new Map(), shape)).toBe(6);
  });
});
