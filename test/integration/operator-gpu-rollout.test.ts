// A rollout never deadlocks on GPU capacity: with every GPU of the product
// taken, a version change replaces pods in place instead of waiting for a
// surge pod that can never schedule.
import { randomBytes } from 'node:crypto';
import type { V1Deployment } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GPU_TAINT, gpuLabels, nodeManifest } from '../../src/localcluster/nodes.js';
import type { Operator } from '../../src/operator/operator.js';
import { createNamespace, deleteNamespace, eventually, kubectlOk, watchLines } from './context.js';
import {
  apply,
  getJson,
  modelDeploymentManifest,
  startOperator,
  waitForCondition,
} from './operator-support.js';

// A node of its own, so that other test files cannot take its GPUs.
const suffix = randomBytes(3).toString('hex');
const PRODUCT = `NVIDIA-L4-TEST-${suffix}`;
const NODE = `gpu-l4-${suffix}`;
let ns: string;
let operator: Operator;

const spec = (version: string) => ({
  model: { uri: `s3://models/full/${version}/`, version },
  resources: { gpu: { count: 2, product: PRODUCT } },
});

beforeAll(async () => {
  const node = nodeManifest({
    name: NODE,
    resources: { cpu: '16', memory: '64Gi', pods: '110', 'nvidia.com/gpu': '2' },
    labels: gpuLabels(PRODUCT, 2, 23034),
    taints: [GPU_TAINT],
  });
  await kubectlOk(['apply', '-f', '-'], JSON.stringify(node));
  await eventually('node Ready', async () => {
    const n = await getJson<{ status?: { conditions?: { type: string; status: string }[] } }>(
      '',
      'node',
      NODE,
    );
    return n?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
      ? true
      : undefined;
  });
  ns = await createNamespace('gpu-rollout');
  operator = await startOperator(ns);
});

afterAll(async () => {
  await operator?.stop();
  await deleteNamespace(ns);
  await kubectlOk(['delete', 'node', NODE, '--ignore-not-found', '--wait=false']);
});

describe('GPU-aware rollout', () => {
  it('counts free GPUs before surging, replaces in place when there are none, then returns to the spec strategy', async () => {
    await apply(ns, modelDeploymentManifest('full', spec('1')));
    await waitForCondition(ns, 'full', 'Ready', 'True');

    // Every stored version's Progressing condition: the in-place phase can be brief.
    const progressing = watchLines([
      '-n',
      ns,
      'md/full',
      '-o',
      'jsonpath={.status.conditions[?(@.type=="Progressing")].reason}: {.status.conditions[?(@.type=="Progressing")].message}{"\\n"}',
    ]);
    await apply(ns, modelDeploymentManifest('full', spec('2')));
    const md = await eventually(
      'version 2 serving',
      async () => {
        const m = await waitForCondition(ns, 'full', 'Ready', 'True');
        return m.status?.currentVersion === '2' ? m : undefined;
      },
      90_000,
    );
    expect(md.status?.history?.map((h) => [h.version, h.outcome])).toEqual([
      ['2', 'Succeeded'],
      ['1', 'Succeeded'],
    ]);
    const events = await kubectlOk(['get', 'events.events.k8s.io', '-n', ns, '-o', 'json']);
    expect(events).toContain('ReplacingInPlace');
    expect(progressing.stop()).toContainEqual(
      // Counted before surging: the node's 2 GPUs are both held by the old pod.
      expect.stringMatching(
        /^ReplacingInPlace: no free nvidia.com\/gpu for 1 surge pod\(s\) \(room for 0\)/,
      ),
    );

    const d = await eventually('strategy back to the spec', async () => {
      const dep = await getJson<V1Deployment>(ns, 'deployment', 'full');
      return dep?.spec?.strategy?.rollingUpdate?.maxSurge === 1 ? dep : undefined;
    });
    expect(d.metadata?.annotations?.['tensorfleet.dev/rollout-mode']).toBeUndefined();
    expect(d.spec?.strategy?.rollingUpdate?.maxUnavailable).toBe(0);
  });
});
