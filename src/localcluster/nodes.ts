import type { V1Node, V1Taint } from '@kubernetes/client-node';

/** The annotation kwok is told to select: nodes carrying it are simulated. */
export const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';
export const KWOK_NODE_ANNOTATION_VALUE = 'fake';
/** Label on every node this harness creates. */
export const SIMULATED_NODE_LABEL = 'tensorfleet.dev/simulated-node';

export const GPU_RESOURCE = 'nvidia.com/gpu';
export const GPU_PRODUCT_LABEL = 'nvidia.com/gpu.product';
export const H100 = 'NVIDIA-H100-80GB-HBM3';
export const A100 = 'NVIDIA-A100-SXM4-40GB';
export const MIG_1G_10GB = 'nvidia.com/mig-1g.10gb';

/** The taint the NVIDIA GPU operator's guidance puts on GPU nodes. */
export const GPU_TAINT: V1Taint = { key: GPU_RESOURCE, effect: 'NoSchedule' };

/** A node to simulate: what it is called, what it advertises, what it repels. */
export interface SimulatedNode {
  readonly name: string;
  /** Allocatable (and capacity) resources, e.g. `{ cpu: '96', 'nvidia.com/gpu': '8' }`. */
  readonly resources: Readonly<Record<string, string>>;
  readonly labels?: Readonly<Record<string, string>>;
  readonly taints?: readonly V1Taint[];
}

/** Labels gpu-feature-discovery sets for a node with `count` GPUs of `product`. */
export function gpuLabels(
  product: string,
  count: number,
  memoryMiB: number,
): Record<string, string> {
  return {
    'nvidia.com/gpu.present': 'true',
    [GPU_PRODUCT_LABEL]: product,
    'nvidia.com/gpu.count': String(count),
    'nvidia.com/gpu.memory': String(memoryMiB),
  };
}

const hostResources = (cpu: string, memory: string): Record<string, string> => ({
  cpu,
  memory,
  pods: '110',
  'ephemeral-storage': '1Ti',
});

/**
 * The default fleet: two 8-GPU nodes of different products, one H100 node
 * partitioned into seven 1g.10gb MIG slices (mixed strategy), one CPU-only node.
 */
export const DEFAULT_NODES: readonly SimulatedNode[] = [
  {
    name: 'gpu-h100-0',
    resources: { ...hostResources('96', '1000Gi'), [GPU_RESOURCE]: '8' },
    labels: gpuLabels(H100, 8, 81559),
    taints: [GPU_TAINT],
  },
  {
    name: 'gpu-a100-0',
    resources: { ...hostResources('96', '1000Gi'), [GPU_RESOURCE]: '8' },
    labels: gpuLabels(A100, 8, 40960),
    taints: [GPU_TAINT],
  },
  {
    name: 'gpu-h100-mig-0',
    resources: { ...hostResources('24', '240Gi'), [MIG_1G_10GB]: '7' },
    labels: {
      ...gpuLabels(H100, 1, 81559),
      'nvidia.com/mig.strategy': 'mixed',
      'nvidia.com/mig-1g.10gb.count': '7',
      'nvidia.com/mig-1g.10gb.memory': '9856',
    },
    taints: [GPU_TAINT],
  },
  {
    name: 'cpu-0',
    resources: hostResources('32', '128Gi'),
  },
];

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The Node object to create for `node`; kwok then marks it Ready and runs its pods. */
export function nodeManifest(node: SimulatedNode): V1Node {
  if (node.name.length > 63 || !DNS_LABEL.test(node.name)) {
    throw new Error(`node name ${JSON.stringify(node.name)} is not a DNS label`);
  }
  for (const required of ['cpu', 'memory', 'pods']) {
    if (node.resources[required] === undefined)
      throw new Error(`node ${node.name} must declare ${required}`);
  }
  const resources = { ...node.resources };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: node.name,
      annotations: {
        [KWOK_NODE_ANNOTATION]: KWOK_NODE_ANNOTATION_VALUE,
        'node.alpha.kubernetes.io/ttl': '0',
      },
      labels: {
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/os': 'linux',
        'kubernetes.io/hostname': node.name,
        type: 'kwok',
        [SIMULATED_NODE_LABEL]: 'true',
        ...node.labels,
      },
    },
    spec: { taints: node.taints === undefined ? [] : node.taints.map((taint) => ({ ...taint })) },
    status: {
      allocatable: resources,
      capacity: { ...resources },
      nodeInfo: {
        architecture: 'amd64',
        operatingSystem: 'linux',
        bootID: '',
        containerRuntimeVersion: '',
        kernelVersion: '',
        kubeProxyVersion: '',
        kubeletVersion: '',
        machineID: '',
        osImage: '',
        systemUUID: '',
      },
    },
  };
}
