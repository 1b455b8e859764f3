/**
 * Simulated DRA GPUs. kwok runs no DRA driver, so the harness publishes what
 * NVIDIA's (k8s-dra-driver-gpu) would: the gpu.nvidia.com DeviceClass and, per
 * node, a ResourceSlice of its GPUs with the attributes and capacity the
 * driver sets. The real scheduler then allocates claims from them.
 */
import type { V1Node } from '@kubernetes/client-node';
import { GPU_TAINT, gpuLabels, nodeManifest } from './nodes.js';

export const DRA_GPU_DRIVER = 'gpu.nvidia.com';

/** The DeviceClass NVIDIA's driver installs for whole GPUs. */
export function draGpuDeviceClass(): Record<string, unknown> {
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'DeviceClass',
    metadata: { name: DRA_GPU_DRIVER },
    spec: {
      selectors: [
        {
          cel: {
            expression: `device.driver == "${DRA_GPU_DRIVER}" && device.attributes["${DRA_GPU_DRIVER}"].type == "gpu"`,
          },
        },
      ],
    },
  };
}

export interface SimulatedDraGpus {
  /** The node the GPUs are in (the pool is named after it). */
  readonly node: string;
  /** As the driver reports it, e.g. "NVIDIA H100 80GB HBM3". */
  readonly productName: string;
  readonly count: number;
  /** Memory of each GPU, a quantity such as 80Gi. */
  readonly memory: string;
}

/** The ResourceSlice a driver publishes for the GPUs of one node (one slice, pool generation 1). */
export function draGpuSlice(gpus: SimulatedDraGpus): Record<string, unknown> {
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceSlice',
    metadata: { name: `${gpus.node}-${DRA_GPU_DRIVER}` },
    spec: {
      driver: DRA_GPU_DRIVER,
      nodeName: gpus.node,
      pool: { name: gpus.node, generation: 1, resourceSliceCount: 1 },
      devices: Array.from({ length: gpus.count }, (_, i) => ({
        name: `gpu-${i}`,
        attributes: {
          type: { string: 'gpu' },
          index: { int: i },
          productName: { string: gpus.productName },
          brand: { string: 'Nvidia' },
          architecture: { string: 'Hopper' },
          cudaComputeCapability: { version: '9.0.0' },
          // The standard attribute for topology constraints (matchAttribute): four GPUs a root.
          'resource.kubernetes.io/pcieRoot': {
            string: `pci0000:${(i >> 2).toString(16).padStart(2, '0')}`,
          },
        },
        capacity: { memory: { value: gpus.memory } },
      })),
    },
  };
}

/**
 * A simulated node whose GPUs come through DRA, and the slice that publishes
 * them: it advertises no nvidia.com/gpu, carries the GPU taint and labels.
 */
export function draGpuNode(gpus: SimulatedDraGpus): [V1Node, Record<string, unknown>] {
  const node = nodeManifest({
    name: gpus.node,
    resources: { cpu: '96', memory: '1000Gi', pods: '110', 'ephemeral-storage': '1Ti' },
    labels: gpuLabels(gpus.productName.replaceAll(' ', '-'), gpus.count, 0),
    taints: [GPU_TAINT],
  });
  return [node, draGpuSlice(gpus)];
}
