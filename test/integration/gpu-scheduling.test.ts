/**
 * The simulated fleet behaves like GPU nodes to the real scheduler: extended
 * resources, product labels and the GPU taint decide placement, kwok makes the
 * bound pods Running and Ready, and an impossible request stays Pending with
 * the reason the operator will surface (GPUUnschedulable).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  A100,
  GPU_PRODUCT_LABEL,
  GPU_RESOURCE,
  H100,
  MIG_1G_10GB,
} from '../../src/localcluster/index.js';
import { createNamespace, deleteNamespace, eventually, kubectlOk } from './context.js';

interface Pod {
  metadata: { name: string };
  spec: { nodeName?: string };
  status: {
    phase?: string;
    podIP?: string;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
  };
}

const GPU_TOLERATION = { key: GPU_RESOURCE, operator: 'Exists', effect: 'NoSchedule' };

function deployment(
  name: string,
  options: {
    replicas?: number;
    limits?: Record<string, string>;
    nodeSelector?: Record<string, string>;
    tolerateGpu?: boolean;
  },
): string {
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas: options.replicas ?? 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          nodeSelector: options.nodeSelector,
          tolerations: options.tolerateGpu === true ? [GPU_TOLERATION] : undefined,
          containers: [
            {
              name: 'server',
              image: 'registry.example.com/tensorfleet/runtime:test',
              resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: options.limits },
            },
          ],
        },
      },
    },
  });
}

let namespace = '';
beforeAll(async () => {
  namespace = await createNamespace('gpu');
});
afterAll(async () => {
  if (namespace !== '') await deleteNamespace(namespace);
});

async function pods(app: string): Promise<Pod[]> {
  const list = JSON.parse(
    await kubectlOk(['get', 'pods', '-n', namespace, '-l', `app=${app}`, '-o', 'json']),
  ) as { items: Pod[] };
  return list.items;
}

async function createAndWaitReady(
  name: string,
  spec: Parameters<typeof deployment>[1],
): Promise<Pod[]> {
  await kubectlOk(['apply', '-n', namespace, '-f', '-'], deployment(name, spec));
  await kubectlOk(['rollout', 'status', '-n', namespace, `deployment/${name}`, '--timeout=60s']);
  await kubectlOk([
    'wait',
    '-n',
    namespace,
    '--for=condition=Available',
    `deployment/${name}`,
    '--timeout=60s',
  ]);
  return pods(name);
}

const isReady = (pod: Pod): boolean =>
  pod.status.phase === 'Running' &&
  (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

describe('simulated GPU nodes', () => {
  it('are registered, Ready, labelled and advertise their GPUs', async () => {
    const list = JSON.parse(await kubectlOk(['get', 'nodes', '-o', 'json'])) as {
      items: Array<{
        metadata: { name: string; labels: Record<string, string> };
        spec: { taints?: Array<{ key: string; effect: string }> };
        status: {
          allocatable: Record<string, string>;
          conditions: Array<{ type: string; status: string }>;
        };
      }>;
    };
    const byName = new Map(list.items.map((node) => [node.metadata.name, node]));
    for (const node of list.items) {
      expect(
        node.status.conditions.find((c) => c.type === 'Ready')?.status,
        node.metadata.name,
      ).toBe('True');
    }
    expect(byName.get('gpu-h100-0')?.metadata.labels[GPU_PRODUCT_LABEL]).toBe(H100);
    expect(byName.get('gpu-h100-0')?.status.allocatable[GPU_RESOURCE]).toBe('8');
    expect(byName.get('gpu-a100-0')?.metadata.labels[GPU_PRODUCT_LABEL]).toBe(A100);
    expect(byName.get('gpu-a100-0')?.status.allocatable[GPU_RESOURCE]).toBe('8');
    expect(byName.get('gpu-h100-mig-0')?.status.allocatable[MIG_1G_10GB]).toBe('7');
    expect(byName.get('gpu-a100-0')?.spec.taints).toContainEqual({
      key: GPU_RESOURCE,
      effect: 'NoSchedule',
    });
    expect(byName.get('cpu-0')?.status.allocatable[GPU_RESOURCE]).toBeUndefined();
    expect(byName.get('cpu-0')?.spec.taints ?? []).toEqual([]);
  });
});

describe('scheduling onto the simulated fleet', () => {
  it.each([
    ['h100', H100, 'gpu-h100-0'],
    ['a100', A100, 'gpu-a100-0'],
  ])(
    'a Deployment asking for one GPU of %s lands on %s and becomes Ready',
    async (label, product, node) => {
      const name = `one-gpu-${label}`;
      const created = await createAndWaitReady(name, {
        limits: { [GPU_RESOURCE]: '1' },
        nodeSelector: { [GPU_PRODUCT_LABEL]: product },
        tolerateGpu: true,
      });
      expect(created).toHaveLength(1);
      const [pod] = created;
      expect(pod?.spec.nodeName).toBe(node);
      expect(pod !== undefined && isReady(pod)).toBe(true);
      expect(pod?.status.podIP).toMatch(/^127\.244\./);
    },
  );

  it('a MIG slice request lands on the MIG node', async () => {
    const created = await createAndWaitReady('mig-slice', {
      limits: { [MIG_1G_10GB]: '1' },
      tolerateGpu: true,
    });
    expect(created.map((pod) => pod.spec.nodeName)).toEqual(['gpu-h100-mig-0']);
  });

  it('a pod without the GPU toleration and no GPU request lands on the CPU-only node', async () => {
    const created = await createAndWaitReady('cpu-only', { replicas: 2 });
    expect(created.map((pod) => pod.spec.nodeName)).toEqual(['cpu-0', 'cpu-0']);
    expect(created.every(isReady)).toBe(true);
  });

  it('deleted pods go away (kwok finalizes them), so rollouts and scale-downs complete', async () => {
    const name = 'scale-down';
    const created = await createAndWaitReady(name, { replicas: 3 });
    expect(created).toHaveLength(3);
    await kubectlOk(['scale', '-n', namespace, `deployment/${name}`, '--replicas=0']);
    await eventually('the pods to be deleted', async () =>
      (await pods(name)).length === 0 ? true : undefined,
    );
  });

  it('a Deployment asking for 100 GPUs stays Pending, Unschedulable for lack of nvidia.com/gpu', async () => {
    const name = 'hundred-gpus';
    await kubectlOk(
      ['apply', '-n', namespace, '-f', '-'],
      deployment(name, {
        limits: { [GPU_RESOURCE]: '100' },
        nodeSelector: { [GPU_PRODUCT_LABEL]: H100 },
        tolerateGpu: true,
      }),
    );
    const condition = await eventually('the scheduler to give up on the pod', async () => {
      const [pod] = await pods(name);
      return pod?.status.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    });
    expect(condition.reason).toBe('Unschedulable');
    expect(condition.message).toContain(`Insufficient ${GPU_RESOURCE}`);
    const [pod] = await pods(name);
    expect(pod?.status.phase).toBe('Pending');
    expect(pod?.spec.nodeName).toBeUndefined();
  });
});
