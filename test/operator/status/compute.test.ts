import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { computeStatus, failedStatus } from '../../../src/operator/status/compute.js';
import { podFailure, worstFailure } from '../../../src/operator/status/pod-failures.js';
import type { ModelDeploymentObject } from '../../../src/operator/kube/types.js';
import { modelDeployment } from '../fixtures.js';

const T0 = '2026-01-01T00:00:00Z';
const T1 = '2026-01-01T00:05:00Z';

function deployment(
  replicas: number,
  s: Partial<NonNullable<V1Deployment['status']>> = {},
  generation = 1,
): V1Deployment {
  return {
    metadata: { generation },
    spec: { replicas, selector: {}, template: {} },
    status: {
      observedGeneration: generation,
      replicas,
      updatedReplicas: replicas,
      readyReplicas: replicas,
      availableReplicas: replicas,
      ...s,
    },
  };
}

function pod(name: string, version: string, status: V1Pod['status']): V1Pod {
  return { metadata: { name, labels: { 'tensorfleet.dev/version': version } }, status };
}

const readyPod = (name: string, version = '3') =>
  pod(name, version, { conditions: [{ type: 'Ready', status: 'True' }] });

const cond = (md: { status?: ModelDeploymentObject['status'] }, type: string) =>
  md.status?.conditions?.find((c) => c.type === type);

describe('computeStatus', () => {
  it('is Ready when every replica serves the target version', () => {
    const md = modelDeployment({ replicas: 2 });
    const status = computeStatus(md, {
      deployment: deployment(2),
      pods: [readyPod('a'), readyPod('b')],
      problems: [],
      now: T0,
    });
    expect(cond({ status }, 'Ready')).toMatchObject({
      status: 'True',
      reason: 'ModelServing',
      observedGeneration: 1,
    });
    expect(cond({ status }, 'Reconciling')!.status).toBe('False');
    expect(cond({ status }, 'Stalled')!.status).toBe('False');
    expect(status).toMatchObject({
      observedGeneration: 1,
      replicas: 2,
      readyReplicas: 2,
      selector: 'tensorfleet.dev/model=mnist',
      url: 'http://mnist.ml.svc.cluster.local:8501',
      currentVersion: '3',
      targetVersion: '3',
    });
    expect(status.history![0]).toMatchObject({
      version: '3',
      outcome: 'Succeeded',
      finishedAt: T0,
    });
  });

  it('waits for the Service to route to every ready pod before Ready', () => {
    const md = modelDeployment({ replicas: 2 });
    const observed = {
      deployment: deployment(2),
      pods: [readyPod('a'), readyPod('b')],
      problems: [],
      now: T0,
    };
    const waiting = computeStatus(md, { ...observed, routed: new Set(['a']) });
    expect(cond({ status: waiting }, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'WaitingForEndpoints',
      message: "1 ready pod is not yet in the Service's endpoints",
    });
    expect(cond({ status: waiting }, 'Available')!.status).toBe('True');
    expect(cond({ status: waiting }, 'Reconciling')!.status).toBe('True');
    expect(cond({ status: waiting }, 'Stalled')!.status).toBe('False');
    const routed = computeStatus(md, { ...observed, routed: new Set(['a', 'b']) });
    expect(cond({ status: routed }, 'Ready')).toMatchObject({
      status: 'True',
      reason: 'ModelServing',
    });
  });

  it('does not wait for endpoints no Service can hold (a simulated pod on loopback)', () => {
    const simulated = pod('sim', '3', {
      podIP: '127.244.0.5',
      conditions: [{ type: 'Ready', status: 'True' }],
    });
    const status = computeStatus(modelDeployment({ replicas: 2 }), {
      deployment: deployment(2),
      pods: [readyPod('a'), simulated],
      routed: new Set(['a']),
      problems: [],
      now: T0,
    });
    expect(cond({ status }, 'Ready')!.status).toBe('True');
  });

  it('is never Ready while a ready, live pod of the target version is not routed (property)', () => {
    const podArb = fc.record({
      ready: fc.boolean(),
      deleting: fc.boolean(),
      routed: fc.boolean(),
      target: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(podArb, { minLength: 1, maxLength: 6 }), (specs) => {
        const pods = specs.map((p, i): V1Pod => {
          const made = pod(`p${i}`, p.target ? '3' : '2', {
            conditions: [{ type: 'Ready', status: p.ready ? 'True' : 'False' }],
          });
          if (p.deleting) made.metadata!.deletionTimestamp = new Date(T0);
          return made;
        });
        const routed = new Set(specs.flatMap((p, i) => (p.routed ? [`p${i}`] : [])));
        const status = computeStatus(modelDeployment({ replicas: specs.length }), {
          deployment: deployment(specs.length),
          pods,
          routed,
          problems: [],
          now: T0,
        });
        const unroutedServing = specs.some((p) => p.target && p.ready && !p.deleting && !p.routed);
        const ready = cond({ status }, 'Ready')!;
        expect(ready.status === 'True').toBe(!unroutedServing);
        if (unroutedServing) expect(ready.reason).toBe('WaitingForEndpoints');
      }),
    );
  });

  it('is Reconciling while a rollout runs, with target and current versions apart', () => {
    const md = modelDeployment({ model: { uri: 's3://m/4/', version: '4' } });
    md.status = {
      currentVersion: '3',
      history: [
        { version: '3', uri: 's3://m/3/', startedAt: T0, finishedAt: T0, outcome: 'Succeeded' },
      ],
    };
    const status = computeStatus(md, {
      deployment: deployment(1, { updatedReplicas: 1, replicas: 2, readyReplicas: 1 }),
      pods: [
        readyPod('old', '3'),
        pod('new', '4', { conditions: [{ type: 'Ready', status: 'False' }] }),
      ],
      problems: [],
      now: T1,
    });
    expect(cond({ status }, 'Ready')).toMatchObject({ status: 'False', reason: 'RollingOut' });
    expect(cond({ status }, 'Reconciling')!.status).toBe('True');
    expect(cond({ status }, 'Progressing')).toMatchObject({
      status: 'True',
      reason: 'RolloutInProgress',
    });
    expect(status.currentVersion).toBe('3');
    expect(status.targetVersion).toBe('4');
    expect(status.history!.map((h) => [h.version, h.outcome])).toEqual([
      ['4', 'Progressing'],
      ['3', 'Succeeded'],
    ]);
  });

  it('names the scheduler message when pods cannot be placed', () => {
    const md = modelDeployment({ resources: { gpu: { count: 100 } } });
    const status = computeStatus(md, {
      deployment: deployment(1, { readyReplicas: 0, availableReplicas: 0 }),
      pods: [
        pod('p', '3', {
          conditions: [
            {
              type: 'PodScheduled',
              status: 'False',
              reason: 'Unschedulable',
              message: '0/4 nodes are available: 4 Insufficient nvidia.com/gpu.',
            },
          ],
        }),
      ],
      problems: [],
      now: T0,
    });
    expect(cond({ status }, 'Ready')).toMatchObject({ status: 'False', reason: 'Unschedulable' });
    expect(cond({ status }, 'Ready')!.message).toContain('nvidia.com/gpu');
    // Capacity may still arrive (cluster autoscaler): not stalled yet.
    expect(cond({ status }, 'Stalled')!.status).toBe('False');
    expect(cond({ status }, 'Reconciling')!.status).toBe('True');
  });

  it('stalls with the runtime termination message when the model cannot load', () => {
    const md = modelDeployment({});
    const status = computeStatus(md, {
      deployment: deployment(1, { readyReplicas: 0, availableReplicas: 0 }),
      pods: [
        pod('p', '3', {
          containerStatuses: [
            {
              name: 'runtime',
              image: 'i',
              imageID: '',
              ready: false,
              restartCount: 4,
              state: { waiting: { reason: 'CrashLoopBackOff' } },
              lastState: {
                terminated: { exitCode: 1, message: 'MODEL_LOAD_FAILED: model.json: no such file' },
              },
            },
          ],
        }),
      ],
      problems: [],
      now: T0,
    });
    expect(cond({ status }, 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'ModelLoadFailed',
    });
    expect(cond({ status }, 'Stalled')!.message).toContain('model.json: no such file');
    expect(cond({ status }, 'Progressing')).toMatchObject({
      status: 'False',
      reason: 'ModelLoadFailed',
    });
    expect(status.history![0]).toMatchObject({ outcome: 'Failed' });
  });

  it('stalls on ProgressDeadlineExceeded', () => {
    const status = computeStatus(modelDeployment({}), {
      deployment: deployment(1, {
        readyReplicas: 0,
        availableReplicas: 0,
        conditions: [
          {
            type: 'Progressing',
            status: 'False',
            reason: 'ProgressDeadlineExceeded',
            message: 'ReplicaSet "x" has timed out progressing.',
          },
        ],
      }),
      pods: [],
      problems: [],
      now: T0,
    });
    expect(cond({ status }, 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'ProgressDeadlineExceeded',
    });
  });

  it('reports operator problems such as a missing ServiceMonitor CRD as Stalled', () => {
    const status = computeStatus(modelDeployment({}), {
      deployment: deployment(1),
      pods: [readyPod('a')],
      problems: [{ reason: 'ServiceMonitorCRDMissing', message: 'CRD missing' }],
      now: T0,
    });
    expect(cond({ status }, 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'ServiceMonitorCRDMissing',
    });
  });

  it('keeps lastTransitionTime and history when nothing changed (no spurious writes)', () => {
    const md = modelDeployment({});
    const observed = { deployment: deployment(1), pods: [readyPod('a')], problems: [], now: T0 };
    md.status = computeStatus(md, observed);
    const again = computeStatus(md, { ...observed, now: T1 });
    expect(again).toEqual(md.status);
  });

  it('marks a superseded rollout when the version changes mid-way', () => {
    const md = modelDeployment({ model: { uri: 's3://m/5/', version: '5' } });
    md.status = {
      history: [{ version: '4', uri: 's3://m/4/', startedAt: T0, outcome: 'Progressing' }],
    };
    const status = computeStatus(md, {
      deployment: deployment(1, { readyReplicas: 0 }),
      pods: [],
      problems: [],
      now: T1,
    });
    expect(status.history![1]).toMatchObject({
      version: '4',
      outcome: 'Superseded',
      finishedAt: T1,
    });
  });
  it('takes status.canary and status.autoscaling as given, and drops them when not given', () => {
    const md = modelDeployment({ replicas: 2 });
    const observed = { deployment: deployment(2), pods: [], problems: [], now: T0 };
    const canary = {
      phase: 'Progressing' as const,
      version: '3',
      uri: 's3://m/3/',
      stableVersion: '2',
      step: 0,
      stepProgress: '1/2',
      weight: 25,
    };
    md.status = computeStatus(md, {
      ...observed,
      canaryStatus: canary,
      autoscaling: { engine: 'hpa', desiredReplicas: 2 },
    });
    expect(md.status).toMatchObject({ canary, autoscaling: { engine: 'hpa', desiredReplicas: 2 } });
    const after = computeStatus(md, observed);
    expect(after).not.toHaveProperty('canary');
    expect(after).not.toHaveProperty('autoscaling');
  });
});

describe('failedStatus', () => {
  it('stalls with the reason, neither Ready nor Reconciling, and keeps the rest', () => {
    const md = modelDeployment({});
    md.status = computeStatus(md, {
      deployment: deployment(1),
      pods: [readyPod('a')],
      problems: [],
      now: T0,
    });
    md.metadata.generation = 2;
    const failed = failedStatus(md, 'InvalidSpec', 'spec.replicas: must be >= 0', T1);
    expect(failed).toMatchObject({ observedGeneration: 2, history: md.status.history });
    // A condition's time moves only where its status changed (Reconciling was False already).
    for (const [type, status, since] of [
      ['Ready', 'False', T1],
      ['Reconciling', 'False', T0],
      ['Stalled', 'True', T1],
    ]) {
      expect(cond({ status: failed }, type!)).toMatchObject({
        status,
        reason: 'InvalidSpec',
        message: 'spec.replicas: must be >= 0',
        lastTransitionTime: since,
        observedGeneration: 2,
      });
    }
    // Available stays as it was: the replicas still serve.
    expect(cond({ status: failed }, 'Available')).toEqual(cond(md, 'Available'));
  });
});

describe('pod failures', () => {
  it('reads the runtime error code from the logs when the termination log is empty', () => {
    const p = pod('p', '3', {
      initContainerStatuses: [
        {
          name: 'fetch-model',
          image: 'i',
          imageID: '',
          ready: false,
          restartCount: 2,
          state: { waiting: { reason: 'CrashLoopBackOff' } },
          lastState: {
            terminated: {
              exitCode: 1,
              message:
                '{"level":30}\ntensorfleet-runtime: FETCH_UNAUTHORIZED: s3://b/m/: 403 Forbidden\n',
            },
          },
        },
      ],
    });
    expect(podFailure(p)).toMatchObject({
      reason: 'ModelLoadFailed',
      message: 'init container fetch-model: FETCH_UNAUTHORIZED: s3://b/m/: 403 Forbidden',
    });
  });

  const waiting = (reason: string, message = 'x') =>
    pod('p', '3', {
      containerStatuses: [
        {
          name: 'runtime',
          image: 'img:1',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: { waiting: { reason, message } },
        },
      ],
    });

  it('recognises image pull and config errors as needing a person', () => {
    expect(podFailure(waiting('ErrImagePull'))).toMatchObject({
      reason: 'ImagePullBackOff',
      persistent: true,
    });
    expect(
      podFailure(waiting('CreateContainerConfigError', 'secret "s3" not found')),
    ).toMatchObject({
      reason: 'CreateContainerConfigError',
      message: 'container runtime: secret "s3" not found',
    });
  });

  it('picks the most severe failure and counts the pods that share it', () => {
    const w = worstFailure([
      waiting('CrashLoopBackOff'),
      waiting('ImagePullBackOff'),
      waiting('ImagePullBackOff'),
      readyPod('ok'),
    ]);
    expect(w).toMatchObject({ reason: 'ImagePullBackOff', count: 2 });
    expect(worstFailure([readyPod('ok')])).toBeUndefined();
  });

  it('during a canary: not Ready, stable version current, both tracks counted', () => {
    const md = modelDeployment({ replicas: 4 });
    md.status = {
      history: [{ version: '2', uri: 's3://m/2/', startedAt: T0, outcome: 'Succeeded' }],
    };
    const observed = {
      deployment: deployment(3),
      canaryDeployment: deployment(1),
      pods: [readyPod('a', '2'), readyPod('b', '3')],
      problems: [],
      now: T1,
    };
    const running = computeStatus(md, {
      ...observed,
      canary: {
        reason: 'CanaryProgressing',
        message: 'canary 3 at step 1/2 (25%)',
        stalled: false,
        stableVersion: '2',
      },
    });
    expect(cond({ status: running }, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'CanaryProgressing',
    });
    expect(cond({ status: running }, 'Progressing')).toMatchObject({
      status: 'True',
      reason: 'CanaryProgressing',
    });
    expect(cond({ status: running }, 'Available')!.status).toBe('True');
    expect(running).toMatchObject({
      currentVersion: '2',
      replicas: 4,
      readyReplicas: 4,
      updatedReplicas: 1,
    });
    expect(running.history![0]).toMatchObject({ version: '3', outcome: 'Progressing' });
    const withProblem = computeStatus(md, {
      ...observed,
      problems: [{ reason: 'GatewayAPINotInstalled', message: 'no HTTPRoute CRD' }],
      canary: {
        reason: 'CanaryProgressing',
        message: 'canary 3 at step 1/2 (25%)',
        stalled: false,
        stableVersion: '2',
      },
    });
    expect(cond({ status: withProblem }, 'Ready')!.message).toBe(
      'canary 3 at step 1/2 (25%); GatewayAPINotInstalled: no HTTPRoute CRD',
    );

    md.status = running;
    const rolledBack = computeStatus(md, {
      ...observed,
      canary: {
        reason: 'CanaryRolledBack',
        message: 'version 3 rolled back',
        stalled: true,
        rolledBack: 'analysis failed: error rate 0.5 > 0.01',
        stableVersion: '2',
      },
    });
    expect(cond({ status: rolledBack }, 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'CanaryRolledBack',
    });
    expect(rolledBack.history![0]).toMatchObject({
      version: '3',
      outcome: 'RolledBack',
      reason: 'analysis failed: error rate 0.5 > 0.01',
      finishedAt: T1,
    });
  });
});
