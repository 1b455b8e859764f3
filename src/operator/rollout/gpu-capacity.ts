// Free GPU room for surge pods, counted before a rollout starts: allocatable
// GPUs of the resource on the nodes a model's pod could land on, minus what
// running pods there request. An approximation of the scheduler (node
// selector, GPU product, taints, cordons), which is why the reactive check in
// gpu-aware.ts (a surge pod the scheduler refused) stays as the backstop.
import type { V1Node, V1Pod, V1Toleration } from '@kubernetes/client-node';
import type { KubeClient } from '../kube/client.js';
import { GPU_PRODUCT_LABEL } from '../../api/v1alpha1/index.js';

/** Where a model's pod may run, as far as the capacity count checks it. */
export interface NodePlacement {
  product?: string;
  nodeSelector?: Record<string, string>;
  tolerations: V1Toleration[];
}

export interface GpuPodShape extends NodePlacement {
  resource: string;
  count: number;
}

function tolerated(taint: { key: string; value?: string; effect: string }, t: V1Toleration[]) {
  return t.some(
    (x) =>
      (x.key === undefined || x.key === taint.key) &&
      (x.operator === 'Exists' || (x.value ?? '') === (taint.value ?? '')) &&
      (x.effect === undefined || x.effect === '' || x.effect === taint.effect),
  );
}

/** True when a pod placed so may run on the node, by what the scheduler would check first. */
export function placementAllows(n: V1Node, placement: NodePlacement): boolean {
  const labels = n.metadata?.labels ?? {};
  if (n.spec?.unschedulable) return false;
  if (!n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return false;
  if (placement.product && labels[GPU_PRODUCT_LABEL] !== placement.product) return false;
  for (const [k, v] of Object.entries(placement.nodeSelector ?? {}))
    if (labels[k] !== v) return false;
  return (n.spec?.taints ?? [])
    .filter((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute')
    .every((t) => tolerated(t, placement.tolerations));
}

/** Nodes where a pod of this shape may run: enough allocatable GPUs, and the placement allows it. */
export function eligibleNodes(nodes: V1Node[], shape: GpuPodShape): V1Node[] {
  return nodes.filter(
    (n) =>
      Number(n.status?.allocatable?.[shape.resource] ?? 0) >= shape.count &&
      placementAllows(n, shape),
  );
}

/** GPUs of `resource` a pod holds: the larger of request and limit over its containers. */
function gpusHeld(pod: V1Pod, resource: string): number {
  return (pod.spec?.containers ?? []).reduce((sum, c) => {
    const r = c.resources;
    return sum + Math.max(Number(r?.requests?.[resource] ?? 0), Number(r?.limits?.[resource] ?? 0));
  }, 0);
}

/** How many more pods of the shape fit on `nodes`, given the pods (by node) already there. */
export function surgeSlots(
  nodes: V1Node[],
  podsByNode: Map<string, V1Pod[]>,
  shape: GpuPodShape,
): number {
  let slots = 0;
  for (const n of nodes) {
    const allocatable = Number(n.status?.allocatable?.[shape.resource] ?? 0);
    const used = (podsByNode.get(n.metadata?.name ?? '') ?? [])
      .filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed')
      .reduce((s, p) => s + gpusHeld(p, shape.resource), 0);
    slots += Math.max(0, Math.floor((allocatable - used) / shape.count));
  }
  return slots;
}

/**
 * Reads nodes and the pods on the eligible ones and counts the free slots;
 * undefined when it cannot tell (e.g. no permission to list nodes or pods).
 */
export async function readSurgeSlots(
  client: KubeClient,
  shape: GpuPodShape,
): Promise<number | undefined> {
  try {
    const nodes = eligibleNodes(
      (await client.request<{ items: V1Node[] }>('GET', '/api/v1/nodes')).items,
      shape,
    );
    const podsByNode = new Map<string, V1Pod[]>();
    await Promise.all(
      nodes.map(async (n) => {
        const name = n.metadata?.name ?? '';
        const list = await client.request<{ items: V1Pod[] }>('GET', '/api/v1/pods', {
          query: { fieldSelector: `spec.nodeName=${name}` },
        });
        podsByNode.set(name, list.items);
      }),
    );
    return surgeSlots(nodes, podsByNode, shape);
  } catch {
    return undefined;
  }
}
