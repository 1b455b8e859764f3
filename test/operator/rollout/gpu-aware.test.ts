import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  IN_PLACE,
  ROLLOUT_MODE_ANNOTATION,
  buildDeployment,
} from '../../../src/operator/builders/deployment.js';
import { rolloutPending } from '../../../src/operator/rollout/deployment-progress.js';
import { decideRollout } from '../../../src/operator/rollout/gpu-aware.js';
import { CONFIG, modelDeployment } from '../fixtures.js';

const gpuSpec = (version: string, count = 2) => ({
  model: { uri: `s3://m/${version}/`, version },
  resources: { gpu: { count, product: 'L4' } },
});

/** A pod as the Deployment of `version` would create it. */
function podOf(
  version: string,
  count: number,
  scheduled: 'yes' | 'no-gpu' | 'no-other' = 'yes',
): V1Pod {
  const d = buildDeployment(modelDeployment(gpuSpec(version, count)), CONFIG);
  const unschedulable = {
    type: 'PodScheduled',
    status: 'False',
    reason: 'Unschedulable',
    message:
      scheduled === 'no-gpu'
        ? '0/5 nodes are available: 1 Insufficient nvidia.com/gpu.'
        : '0/5 nodes are available: 1 node(s) had untolerated taint.',
  };
  return {
    metadata: { labels: d.spec!.template.metadata!.labels! },
    spec: d.spec!.template.spec!,
    status: {
      conditions:
        scheduled === 'yes' ? [{ type: 'PodScheduled', status: 'True' }] : [unschedulable],
    },
  };
}

function rollingDeployment(annotations: Record<string, string> = {}): V1Deployment {
  return {
    metadata: { generation: 2, annotations },
    spec: { replicas: 1, selector: {}, template: {} },
    status: { observedGeneration: 2, replicas: 2, updatedReplicas: 1, readyReplicas: 1 },
  };
}

describe('decideRollout', () => {
  const md = modelDeployment(gpuSpec('2'));

  it('replaces in place when the surge pod cannot get a GPU the old pod holds', () => {
    const decision = decideRollout(md, CONFIG, rollingDeployment(), [
      podOf('1', 2),
      podOf('2', 2, 'no-gpu'),
    ]);
    expect(decision).toEqual({
      inPlace: true,
      message: expect.stringContaining('nvidia.com/gpu') as string,
    });
  });

  it('surges as the spec says when the new pod is scheduled', () => {
    expect(
      decideRollout(md, CONFIG, rollingDeployment(), [podOf('1', 2), podOf('2', 2)]).inPlace,
    ).toBe(false);
  });

  it('does not replace in place when the new pod needs more GPUs than an old one frees', () => {
    const bigger = modelDeployment(gpuSpec('2', 4));
    expect(
      decideRollout(bigger, CONFIG, rollingDeployment(), [podOf('1', 2), podOf('2', 4, 'no-gpu')])
        .inPlace,
    ).toBe(false);
  });

  it('does not act on pods unschedulable for other reasons', () => {
    expect(
      decideRollout(md, CONFIG, rollingDeployment(), [podOf('1', 2), podOf('2', 2, 'no-other')])
        .inPlace,
    ).toBe(false);
  });

  it('holds in place until the rollout completes, then returns to the spec strategy', () => {
    const inPlace = rollingDeployment({ [ROLLOUT_MODE_ANNOTATION]: IN_PLACE });
    expect(decideRollout(md, CONFIG, inPlace, [podOf('2', 2)]).inPlace).toBe(true);
    const done: V1Deployment = {
      ...inPlace,
      status: { observedGeneration: 2, replicas: 1, updatedReplicas: 1 },
    };
    expect(rolloutPending(done, 1)).toBe(false);
    expect(decideRollout(md, CONFIG, done, [podOf('2', 2)]).inPlace).toBe(false);
  });

  it('leaves CPU models alone', () => {
    const cpu = modelDeployment({ model: { uri: 's3://m/2/', version: '2' } });
    expect(decideRollout(cpu, CONFIG, rollingDeployment(), []).inPlace).toBe(false);
  });
});
