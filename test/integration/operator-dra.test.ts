// GPUs through Dynamic Resource Allocation on the real control plane: the
// harness publishes ResourceSlices for simulated GPU nodes as NVIDIA's DRA
// driver would (kwok runs no driver), the operator writes the model's
// ResourceClaimTemplate, kube-controller-manager makes each pod's claim, and
// the real scheduler allocates devices to it.
import { randomBytes } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { draGpuDeviceClass, draGpuNode } from '../../src/localcluster/dra.js';
import type { Operator } from '../../src/operator/operator.js';
import { createNamespace, deleteNamespace, eventually, kubectlOk, watchLines } from './context.js';
import {
  apply,
  condition,
  getJson,
  modelDeploymentManifest,
  startOperator,
  waitForCondition,
} from './operator-support.js';

interface Claim {
  metadata: { name: string };
  status?: {
    allocation?: { devices?: { results?: { driver: string; pool: string; device: string }[] } };
    reservedFor?: { name: string }[];
  };
}

// Nodes and products of this file's own, so no other file's pods take the devices.
const suffix = randomBytes(3).toString('hex');
const H100 = `NVIDIA H100 80GB HBM3 ${suffix}`;
const L4 = `NVIDIA L4 ${suffix}`;
const NODES = [
  { node: `dra-h100-${suffix}`, productName: H100, count: 2, memory: '80Gi' },
  { node: `dra-l4-${suffix}`, productName: L4, count: 2, memory: '24Gi' },
];
const product = (name: string) => ({
  cel: { expression: `device.attributes["gpu.nvidia.com"].productName == "${name}"` },
});

let ns: string;
let operator: Operator;

beforeAll(async () => {
  await kubectlOk(['apply', '-f', '-'], JSON.stringify(draGpuDeviceClass()));
  for (const gpus of NODES)
    for (const object of draGpuNode(gpus))
      await kubectlOk(['apply', '-f', '-'], JSON.stringify(object));
  ns = await createNamespace('dra');
  operator = await startOperator(ns);
});

afterAll(async () => {
  await operator?.stop();
  if (ns) await deleteNamespace(ns);
  for (const { node } of NODES) {
    await kubectlOk(['delete', 'resourceslice', `${node}-gpu.nvidia.com`, '--ignore-not-found']);
    await kubectlOk(['delete', 'node', node, '--ignore-not-found', '--wait=false']);
  }
});

async function modelPods(model: string): Promise<V1Pod[]> {
  const list = JSON.parse(
    await kubectlOk([
      'get',
      'pods',
      '-n',
      ns,
      '-l',
      `tensorfleet.dev/model=${model}`,
      '-o',
      'json',
    ]),
  ) as { items: V1Pod[] };
  return list.items;
}

async function claimOf(pod: V1Pod): Promise<Claim | undefined> {
  const name = pod.status?.resourceClaimStatuses?.[0]?.resourceClaimName;
  return name ? getJson<Claim>(ns, 'resourceclaim', name) : undefined;
}

describe('GPUs through DRA', () => {
  it('schedules the pods with allocated claims on the node whose devices match the selector', async () => {
    await apply(
      ns,
      modelDeploymentManifest('hopper', {
        replicas: 2,
        resources: { gpu: { count: 1, dra: { selectors: [product(H100)] } } },
      }),
    );
    await waitForCondition(ns, 'hopper', 'Ready', 'True', undefined, 90_000);

    const templates = JSON.parse(
      await kubectlOk(['get', 'resourceclaimtemplates', '-n', ns, '-o', 'json']),
    ) as { items: { metadata: { name: string; ownerReferences: { kind: string }[] } }[] };
    const [template] = templates.items;
    expect(template?.metadata.name).toMatch(/^hopper-gpu-[0-9a-f]{10}$/);
    expect(template?.metadata.ownerReferences[0]?.kind).toBe('ModelDeployment');

    const pods = await modelPods('hopper');
    expect(pods).toHaveLength(2);
    const devices = new Set<string>();
    for (const pod of pods) {
      expect(pod.spec?.nodeName).toBe(NODES[0]!.node);
      expect(pod.spec?.resourceClaims).toEqual([
        { name: 'gpu', resourceClaimTemplateName: template!.metadata.name },
      ]);
      expect(JSON.stringify(pod.spec?.containers[0]?.resources)).not.toContain('nvidia.com/gpu');
      const claim = await claimOf(pod);
      expect(claim?.status?.reservedFor?.map((r) => r.name)).toEqual([pod.metadata?.name]);
      const results = claim?.status?.allocation?.devices?.results ?? [];
      expect(results).toHaveLength(1);
      expect(results[0]).toMatchObject({ driver: 'gpu.nvidia.com', pool: NODES[0]!.node });
      devices.add(results[0]!.device);
    }
    // Two pods, two distinct devices.
    expect(devices.size).toBe(2);
  });

  it('leaves pods asking for more devices than a node has Pending, and says so in status with the claim', async () => {
    await apply(
      ns,
      modelDeploymentManifest('too-many', {
        resources: { gpu: { count: 3, dra: { selectors: [product(L4)] } } },
      }),
    );
    const md = await waitForCondition(ns, 'too-many', 'Ready', 'False', 'Unschedulable', 90_000);
    const message = condition(md, 'Ready')?.message ?? '';
    expect(message).toContain('cannot allocate all claims');
    const [pod] = await modelPods('too-many');
    expect(pod?.status?.phase).toBe('Pending');
    const claim = pod?.status?.resourceClaimStatuses?.[0]?.resourceClaimName;
    expect(claim).toBeDefined();
    expect(message).toContain(`ResourceClaim ${claim}`);
    expect((await claimOf(pod!))?.status?.allocation).toBeUndefined();
    await kubectlOk(['delete', 'md', 'too-many', '-n', ns, '--wait=true']);
  });

  it('reports a selector the API server cannot compile, in its words', async () => {
    await apply(
      ns,
      modelDeploymentManifest('bad-cel', {
        resources: {
          gpu: { count: 1, dra: { selectors: [{ cel: { expression: 'device.attributes[' } }] } },
        },
      }),
    );
    const md = await waitForCondition(ns, 'bad-cel', 'Ready', 'False', 'ApplyFailed');
    expect(condition(md, 'Ready')?.message).toMatch(/ResourceClaimTemplate.*selectors.*cel/is);
    await kubectlOk(['delete', 'md', 'bad-cel', '-n', ns, '--wait=true']);
  });

  it('counts free DRA devices before surging a rollout, and replaces in place when none is free', async () => {
    const spec = (version: string) => ({
      model: { uri: `s3://models/lovelace/${version}/`, version },
      resources: { gpu: { count: 2, dra: { selectors: [product(L4)] } } },
    });
    await apply(ns, modelDeploymentManifest('lovelace', spec('1')));
    await waitForCondition(ns, 'lovelace', 'Ready', 'True', undefined, 90_000);

    const progressing = watchLines([
      '-n',
      ns,
      'md/lovelace',
      '-o',
      'jsonpath={.status.conditions[?(@.type=="Progressing")].reason}: {.status.conditions[?(@.type=="Progressing")].message}{"\\n"}',
    ]);
    await apply(ns, modelDeploymentManifest('lovelace', spec('2')));
    const md = await eventually(
      'version 2 serving',
      async () => {
        const m = await waitForCondition(ns, 'lovelace', 'Ready', 'True', undefined, 90_000);
        return m.status?.currentVersion === '2' ? m : undefined;
      },
      120_000,
    );
    expect(md.status?.history?.map((h) => [h.version, h.outcome])).toEqual([
      ['2', 'Succeeded'],
      ['1', 'Succeeded'],
    ]);
    expect(progressing.stop()).toContainEqual(
      // Counted before surging: the node's two L4s are both claimed by the old pod.
      expect.stringMatching(
        /^ReplacingInPlace: no free gpu.nvidia.com devices for 1 surge pod\(s\) \(room for 0\)/,
      ),
    );
    const [pod] = await modelPods('lovelace');
    const results = (await claimOf(pod!))?.status?.allocation?.devices?.results ?? [];
    expect(results.map((r) => r.pool)).toEqual([NODES[1]!.node, NODES[1]!.node]);
  });
});
