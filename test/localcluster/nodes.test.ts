import { describe, expect, it } from 'vitest';

import {
  A100,
  DEFAULT_NODES,
  GPU_PRODUCT_LABEL,
  GPU_RESOURCE,
  GPU_TAINT,
  H100,
  KWOK_NODE_ANNOTATION,
  MIG_1G_10GB,
  nodeManifest,
} from '../../src/localcluster/nodes.js';

const byName = new Map(DEFAULT_NODES.map((node) => [node.name, nodeManifest(node)]));

describe('the default simulated fleet', () => {
  it('has two 8-GPU nodes of different products, a MIG node and a CPU-only node', () => {
    expect([...byName.keys()]).toEqual(['gpu-h100-0', 'gpu-a100-0', 'gpu-h100-mig-0', 'cpu-0']);
    const h100 = byName.get('gpu-h100-0');
    const a100 = byName.get('gpu-a100-0');
    expect(h100?.metadata?.labels?.[GPU_PRODUCT_LABEL]).toBe(H100);
    expect(a100?.metadata?.labels?.[GPU_PRODUCT_LABEL]).toBe(A100);
    expect(h100?.status?.allocatable?.[GPU_RESOURCE]).toBe('8');
    expect(a100?.status?.allocatable?.[GPU_RESOURCE]).toBe('8');
    expect(byName.get('gpu-h100-mig-0')?.status?.allocatable?.[MIG_1G_10GB]).toBe('7');
    expect(byName.get('cpu-0')?.status?.allocatable?.[GPU_RESOURCE]).toBeUndefined();
  });

  it('taints exactly the GPU nodes with nvidia.com/gpu:NoSchedule', () => {
    for (const [name, node] of byName) {
      const expected = name.startsWith('gpu-') ? [GPU_TAINT] : [];
      expect(node.spec?.taints, name).toEqual(expected);
    }
  });
});

describe('nodeManifest', () => {
  const node = nodeManifest({
    name: 'gpu-x-0',
    resources: { cpu: '8', memory: '64Gi', pods: '110', [GPU_RESOURCE]: '2' },
    labels: { 'topology.kubernetes.io/zone': 'a' },
  });

  it('marks the node for kwok and labels it like a kubelet would', () => {
    expect(node.metadata?.annotations?.[KWOK_NODE_ANNOTATION]).toBe('fake');
    expect(node.metadata?.labels).toMatchObject({
      'kubernetes.io/hostname': 'gpu-x-0',
      'kubernetes.io/os': 'linux',
      'topology.kubernetes.io/zone': 'a',
    });
  });

  it('advertises the same capacity and allocatable, as separate objects', () => {
    expect(node.status?.capacity).toEqual(node.status?.allocatable);
    expect(node.status?.capacity).not.toBe(node.status?.allocatable);
    expect(node.status?.allocatable).toMatchObject({ cpu: '8', [GPU_RESOURCE]: '2' });
  });

  it('rejects names that are not DNS labels and nodes missing cpu, memory or pods', () => {
    expect(() =>
      nodeManifest({ name: 'GPU_0', resources: { cpu: '1', memory: '1Gi', pods: '1' } }),
    ).toThrow(/DNS label/);
    expect(() => nodeManifest({ name: 'n', resources: { cpu: '1', memory: '1Gi' } })).toThrow(
      /must declare pods/,
    );
  });
});
