import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  IN_PLACE,
  ROLLOUT_MODE_ANNOTATION,
  buildDeployment,
} from '../../../src/operator/builders/deployment.js';
import { rolloutPending } from '../../../src/operator/rollout/deployment-progress.js';
import {
  decideRollout,
  surgeCheckNeeded,
  surgePods,
} from '../../../src/operator/rollout/gpu-aware.js';
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

  describe('before the rollout starts', () => {
    /** The Deployment of version 1, rolled out: the operator is about to move it to 2. */
    const settled = (): V1Deployment => {
      const d = buildDeployment(modelDeployment(gpuSpec('1')), CONFIG);
      d.metadata.generation = 1;
      d.status = { observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1 };
      return d;
    };

    it('asks for a capacity count only when a GPU model moves to a new version with surge', () => {
      expect(surgeCheckNeeded(md, CONFIG, settled())).toBe(true);
      expect(surgeCheckNeeded(modelDeployment(gpuSpec('1')), CONFIG, settled())).toBe(false);
      expect(surgeCheckNeeded(md, CONFIG, rollingDeployment())).toBe(false);
      expect(surgeCheckNeeded(md, CONFIG, undefined)).toBe(false);
      const noSurge = modelDeployment({
        ...gpuSpec('2'),
        rollout: { maxSurge: 0, maxUnavailable: 1 },
      });
      expect(surgeCheckNeeded(noSurge, CONFIG, settled())).toBe(false);
      const cpu = modelDeployment({ model: { uri: 's3://m/2/', version: '2' } });
      expect(surgeCheckNeeded(cpu, CONFIG, settled())).toBe(false);
    });

    it('starts in place when no surge pod fits, and surges when one does', () => {
      const pods = [podOf('1', 2)];
      expect(decideRollout(md, CONFIG, settled(), pods, 0)).toEqual({
        inPlace: true,
        message:
          'no free nvidia.com/gpu for 1 surge pod(s) (room for 0): replacing pods one at a time',
      });
      expect(decideRollout(md, CONFIG, settled(), pods, 1)).toEqual({ inPlace: false });
      // Unknown capacity (e.g. no permission to list nodes): the reactive check decides later.
      expect(decideRollout(md, CONFIG, settled(), pods, undefined)).toEqual({ inPlace: false });
      // In place would not help a version that needs more than an old pod holds.
      const bigger = modelDeployment(gpuSpec('2', 4));
      expect(decideRollout(bigger, CONFIG, settled(), pods, 0)).toEqual({ inPlace: false });
    });

    it('counts surge pods from a percent the way Deployments round it', () => {
      const pct = modelDeployment({ ...gpuSpec('2'), replicas: 5, rollout: { maxSurge: '25%' } });
      expect(surgePods(pct)).toBe(2);
      expect(surgePods(md)).toBe(1);
    });
  });
});

describe('decideRollout with DRA GPUs', () => {
  const draSpec = (version: string, count = 2) => ({
    model: { uri: `s3://m/${version}/`, version },
    resources: { gpu: { count, dra: {} } },
  });
  const refused = {
    type: 'PodScheduled',
    status: 'False',
    reason: 'Unschedulable',
    message:
      '0/5 nodes are available: 1 cannot allocate all claims, 4 node(s) had untolerated taint. preemption: not eligible due to preemptionPolicy=Never.',
  };
  const draPod = (version: string, count: number, scheduled: boolean): V1Pod => {
    const d = buildDeployment(modelDeployment(draSpec(version, count)), CONFIG);
    return {
      metadata: { labels: d.spec!.template.metadata!.labels! },
      spec: d.spec!.template.spec!,
      status: { conditions: [scheduled ? { type: 'PodScheduled', status: 'True' } : refused] },
    };
  };

  it('replaces in place when the surge pod’s claim cannot be allocated and an old pod holds the same request', () => {
    const md = modelDeployment(draSpec('2'));
    expect(
      decideRollout(md, CONFIG, rollingDeployment(), [draPod('1', 2, true), draPod('2', 2, false)]),
    ).toEqual({
      inPlace: true,
      message: 'no free gpu.nvidia.com devices to surge a new pod: replacing pods one at a time',
    });
  });

  it('does not when the old pods’ claims come from another request', () => {
    const md = modelDeployment(draSpec('2', 4));
    expect(
      decideRollout(md, CONFIG, rollingDeployment(), [draPod('1', 2, true), draPod('2', 4, false)])
        .inPlace,
    ).toBe(false);
  });

  it('counts before surging, like device-plugin GPUs', () => {
    const md = modelDeployment(draSpec('2'));
    const settled = buildDeployment(modelDeployment(draSpec('1')), CONFIG);
    settled.metadata.generation = 1;
    settled.status = { observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1 };
    expect(surgeCheckNeeded(md, CONFIG, settled)).toBe(true);
    expect(decideRollout(md, CONFIG, settled, [draPod('1', 2, true)], 0)).toEqual({
      inPlace: true,
      message:
        'no free gpu.nvidia.com devices for 1 surge pod(s) (room for 0): replacing pods one at a time',
    });
    expect(decideRollout(md, CONFIG, settled, [draPod('1', 2, true)], 1).inPlace).toBe(false);
  });
});
