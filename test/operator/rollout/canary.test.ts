import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { CanaryAnalysisResult, CanaryStatus } from '../../../src/api/v1alpha1/index.js';
import { buildDeployment } from '../../../src/operator/builders/deployment.js';
import type { CanaryObserved } from '../../../src/operator/rollout/canary.js';
import {
  ABORT_ANNOTATION,
  PROMOTE_ANNOTATION,
  decideCanary,
  deployedModel,
  trackReplicas,
} from '../../../src/operator/rollout/canary.js';
import { judgeAnalysis } from '../../../src/operator/rollout/analysis.js';
import type { ModelDeploymentObject } from '../../../src/operator/kube/types.js';
import { CONFIG, modelDeployment } from '../fixtures.js';

const V1 = { uri: 's3://models/mnist/1/', version: '1' };
const V2 = { uri: 's3://models/mnist/2/', version: '2' };
const T0 = new Date('2026-11-28T10:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

function canaryModel(
  opts: { status?: CanaryStatus; paused?: boolean; annotations?: Record<string, string> } = {},
): ModelDeploymentObject {
  const md = modelDeployment({
    model: { ...V2 },
    replicas: 4,
    rollout: {
      strategy: 'Canary',
      canary: {
        steps: [
          { weight: 25, pauseSeconds: 60 },
          { weight: 50, pauseSeconds: 60 },
        ],
        analysis: { maxErrorRate: 0.05, minRequests: 10 },
        ...(opts.paused ? { paused: true } : {}),
      },
    },
  });
  if (opts.annotations) md.metadata.annotations = opts.annotations;
  if (opts.status) md.status = { canary: opts.status };
  return md;
}

/** A Deployment of a track as the controller would report it after rolling out. */
function rolledOut(
  md: ModelDeploymentObject,
  track: 'stable' | 'canary',
  model: { uri: string; version: string },
  replicas: number,
  ready = replicas,
): V1Deployment {
  const d = buildDeployment(md, CONFIG, { track, model, replicas });
  d.metadata.generation = 1;
  d.status = {
    observedGeneration: 1,
    replicas,
    updatedReplicas: replicas,
    readyReplicas: ready,
    availableReplicas: ready,
  };
  return d;
}

const observe = (o: Partial<CanaryObserved> & { now?: Date }): CanaryObserved => ({
  pods: [],
  now: T0,
  ...o,
});

const passed: CanaryAnalysisResult = {
  time: '2026-11-28T10:01:00Z',
  passed: 'True',
  message: 'error rate 0 <= 0.05 over 100 requests',
};

describe('trackReplicas', () => {
  it('gives the canary its share, at least one pod, and keeps one stable pod until 100%', () => {
    expect(trackReplicas(4, 25)).toEqual({ canary: 1, stable: 3 });
    expect(trackReplicas(4, 50)).toEqual({ canary: 2, stable: 2 });
    expect(trackReplicas(1, 10)).toEqual({ canary: 1, stable: 1 });
    expect(trackReplicas(4, 99)).toEqual({ canary: 4, stable: 1 });
    expect(trackReplicas(4, 100)).toEqual({ canary: 4, stable: 0 });
    expect(trackReplicas(0, 50)).toEqual({ canary: 0, stable: 0 });
  });
});

describe('decideCanary', () => {
  it('rolls out directly when there is no stable version yet (first rollout)', () => {
    const d = decideCanary(canaryModel(), observe({}));
    expect(d.active).toBe(false);
    expect(d.stable).toEqual({ model: V2, replicas: 4 });
    expect(d.canary).toBe('delete');
    expect(d.status).toBeUndefined();
  });

  it('starts at step 0 beside the stable version, waiting for the canary pods', () => {
    const md = canaryModel();
    const d = decideCanary(md, observe({ stable: rolledOut(md, 'stable', V1, 4) }));
    expect(d.active).toBe(true);
    expect(d.stable).toEqual({ model: V1, replicas: 3 });
    expect(d.canary).toEqual({ model: V2, replicas: 1 });
    expect(d.status).toMatchObject({
      phase: 'Progressing',
      version: '2',
      stableVersion: '1',
      step: 0,
      stepProgress: '1/2',
      weight: 25,
      canaryReplicas: 1,
      stableReplicas: 3,
    });
    // People read the step counted from 1, in the STEP column and in messages alike.
    expect(d.verdict!.message).toContain('step 1/2');
    expect(d.status!.stepStartedAt).toBeUndefined();
    expect(d.verdict).toMatchObject({ reason: 'CanaryProgressing', stalled: false });
  });

  it('starts the step clock when the canary pods are ready and waits out the pause', () => {
    const md = canaryModel();
    const stable = rolledOut(md, 'stable', V1, 3);
    const canary = rolledOut(md, 'canary', V2, 1);
    const d = decideCanary(md, observe({ stable, canary }));
    expect(d.status!.stepStartedAt).toBe('2026-11-28T10:00:00Z');
    expect(d.requeueAfterMs).toBe(60_000);
    expect(d.analysisSince).toBeUndefined();

    md.status = { canary: d.status! };
    const later = decideCanary(md, observe({ stable, canary, now: at(30) }));
    expect(later.status!.stepStartedAt).toBe('2026-11-28T10:00:00Z');
    expect(later.requeueAfterMs).toBe(30_000);
  });

  it('asks for an analysis once the pause is over, then advances on a pass', () => {
    const md = canaryModel();
    const stable = rolledOut(md, 'stable', V1, 3);
    const canary = rolledOut(md, 'canary', V2, 1);
    md.status = { canary: decideCanary(md, observe({ stable, canary })).status! };
    const due = decideCanary(md, observe({ stable, canary, now: at(61) }));
    expect(due.analysisSince).toEqual(T0);

    const next = decideCanary(md, observe({ stable, canary, now: at(61) }), passed);
    expect(next.status).toMatchObject({
      phase: 'Progressing',
      step: 1,
      stepProgress: '2/2',
      weight: 50,
      canaryReplicas: 2,
      stableReplicas: 2,
      lastAnalysis: passed,
    });
    expect(next.verdict!.message).toContain('step 2/2');
    expect(next.status!.stepStartedAt).toBeUndefined();
    expect(next.stable.replicas).toBe(2);
    expect(next.canary).toEqual({ model: V2, replicas: 2 });
    expect(next.events.map((e) => e.reason)).toEqual(['CanaryStepPassed']);
  });

  it('waits and retries while the figures are not there yet', () => {
    const md = canaryModel();
    const stable = rolledOut(md, 'stable', V1, 3);
    const canary = rolledOut(md, 'canary', V2, 1);
    md.status = { canary: decideCanary(md, observe({ stable, canary })).status! };
    const unknown = { ...passed, passed: 'Unknown' as const, message: 'waiting for traffic' };
    const d = decideCanary(md, observe({ stable, canary, now: at(61) }), unknown);
    expect(d.status).toMatchObject({ step: 0, phase: 'Progressing', lastAnalysis: unknown });
    expect(d.requeueAfterMs).toBe(10_000);
    expect(d.events).toEqual([]);
  });

  it('promotes after the last step passes, keeping the canary until stable catches up', () => {
    const md = canaryModel({
      status: {
        phase: 'Progressing',
        version: '2',
        uri: V2.uri,
        stableVersion: '1',
        step: 1,
        weight: 50,
        stepStartedAt: '2026-11-28T10:00:00Z',
      },
    });
    const stable = rolledOut(md, 'stable', V1, 2);
    const canary = rolledOut(md, 'canary', V2, 2);
    const d = decideCanary(md, observe({ stable, canary, now: at(61) }), passed);
    expect(d.active).toBe(false);
    expect(d.stable).toEqual({ model: V2, replicas: 4 });
    expect(d.canary).toBe('keep');
    expect(d.status!.phase).toBe('Promoting');
    expect(d.events.map((e) => e.reason)).toEqual(['CanaryPromoted']);

    // Next pass: the stable Deployment runs V2 but has not rolled out yet.
    md.status = { canary: d.status! };
    const rolling = rolledOut(md, 'stable', V2, 4, 2);
    rolling.status!.updatedReplicas = 2;
    const promoting = decideCanary(md, observe({ stable: rolling, canary, now: at(70) }));
    expect(promoting.canary).toBe('keep');
    expect(promoting.status!.phase).toBe('Promoting');

    // Stable done: the canary goes, and so does status.canary.
    const done = decideCanary(
      md,
      observe({ stable: rolledOut(md, 'stable', V2, 4), canary, now: at(90) }),
    );
    expect(done.canary).toBe('delete');
    expect(done.status).toBeUndefined();
  });

  it('rolls back on a failed analysis, and stays rolled back for that version', () => {
    const md = canaryModel();
    const stable = rolledOut(md, 'stable', V1, 3);
    const canary = rolledOut(md, 'canary', V2, 1);
    md.status = { canary: decideCanary(md, observe({ stable, canary })).status! };
    const failed = { ...passed, passed: 'False' as const, message: 'error rate 0.5 > 0.05' };
    const d = decideCanary(md, observe({ stable, canary, now: at(61) }), failed);
    expect(d.active).toBe(true);
    expect(d.stable).toEqual({ model: V1, replicas: 4 });
    expect(d.canary).toBe('delete');
    expect(d.status).toMatchObject({ phase: 'RolledBack', weight: 0, lastAnalysis: failed });
    expect(d.status!.message).toContain('error rate 0.5 > 0.05');
    expect(d.verdict).toMatchObject({ reason: 'CanaryRolledBack', stalled: true });
    expect(d.verdict!.rolledBack).toContain('analysis failed at step 1/2 (25%)');
    expect(d.events).toEqual([
      expect.objectContaining({ type: 'Warning', reason: 'CanaryRolledBack' }),
    ]);

    md.status = { canary: d.status! };
    const again = decideCanary(
      md,
      observe({ stable: rolledOut(md, 'stable', V1, 4), now: at(200) }),
    );
    expect(again.status!.phase).toBe('RolledBack');
    expect(again.canary).toBe('delete');
    expect(again.stable).toEqual({ model: V1, replicas: 4 });
    expect(again.events).toEqual([]);
  });

  it('rolls back on an accuracy drop judged from figures, naming both accuracies in status and Event', () => {
    const md = modelDeployment({
      model: { ...V2 },
      replicas: 4,
      monitoring: { quality: { kind: 'classification' } },
      rollout: {
        strategy: 'Canary',
        canary: {
          steps: [{ weight: 25, pauseSeconds: 60 }],
          analysis: { maxErrorRate: 0.05, minRequests: 10, maxAccuracyDrop: 0.05, minLabelled: 50 },
        },
      },
    });
    const stable = rolledOut(md, 'stable', V1, 3);
    const canary = rolledOut(md, 'canary', V2, 1);
    md.status = { canary: decideCanary(md, observe({ stable, canary })).status! };
    const figures = {
      canary: { requests: 100, errors: 0, labelled: 100, correct: 70 },
      stable: { requests: 300, errors: 0, labelled: 300, correct: 270 },
    };
    const analysis = judgeAnalysis(md, figures, '2026-11-28T10:01:01Z');
    const d = decideCanary(md, observe({ stable, canary, now: at(61) }), analysis);
    const why =
      'accuracy 0.7 against stable 0.9 over 100 and 300 labelled predictions: a drop of 0.2 > 0.05';
    expect(d.canary).toBe('delete');
    expect(d.status).toMatchObject({
      phase: 'RolledBack',
      lastAnalysis: { passed: 'False', canaryAccuracy: 0.7, stableAccuracy: 0.9 },
    });
    expect(d.verdict).toMatchObject({ reason: 'CanaryRolledBack', stalled: true });
    expect(d.verdict!.rolledBack).toBe(`analysis failed at step 1/1 (25%): ${why}`);
    expect(d.events).toEqual([
      expect.objectContaining({
        type: 'Warning',
        reason: 'CanaryRolledBack',
        message: expect.stringContaining(why) as string,
      }),
    ]);
  });

  it('starts over when the spec names yet another version', () => {
    const md = canaryModel({
      status: {
        phase: 'RolledBack',
        version: '3',
        uri: 's3://models/mnist/3/',
        stableVersion: '1',
        step: 0,
        weight: 0,
        message: 'analysis failed',
      },
    });
    const d = decideCanary(md, observe({ stable: rolledOut(md, 'stable', V1, 4) }));
    expect(d.status).toMatchObject({ phase: 'Progressing', version: '2', step: 0, weight: 25 });
    expect(d.status!.lastAnalysis).toBeUndefined();
  });

  it('rolls back when canary pods fail for good', () => {
    const md = canaryModel();
    const pod: V1Pod = {
      metadata: {
        name: 'mnist-canary-x',
        labels: { 'tensorfleet.dev/track': 'canary', 'tensorfleet.dev/version': '2' },
      },
      status: {
        containerStatuses: [
          {
            name: 'runtime',
            image: 'i',
            imageID: '',
            ready: false,
            restartCount: 3,
            state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off' } },
            lastState: {
              terminated: { exitCode: 1, message: 'MODEL_LOAD_FAILED: bad weights' },
            },
          },
        ],
      },
    };
    const d = decideCanary(md, observe({ stable: rolledOut(md, 'stable', V1, 3), pods: [pod] }));
    expect(d.status!.phase).toBe('RolledBack');
    expect(d.status!.message).toMatch(/canary pods failed: ModelLoadFailed: .*bad weights/);
  });

  it('obeys the promote and abort annotations only for the version they name', () => {
    const stableOf = (md: ModelDeploymentObject) => rolledOut(md, 'stable', V1, 4);
    const stale = canaryModel({ annotations: { [PROMOTE_ANNOTATION]: '1' } });
    expect(decideCanary(stale, observe({ stable: stableOf(stale) })).status!.phase).toBe(
      'Progressing',
    );
    const promote = canaryModel({ annotations: { [PROMOTE_ANNOTATION]: '2' } });
    const p = decideCanary(promote, observe({ stable: stableOf(promote) }));
    expect(p.status!.phase).toBe('Promoting');
    expect(p.stable.model).toEqual(V2);
    const abort = canaryModel({ annotations: { [ABORT_ANNOTATION]: '2' } });
    const a = decideCanary(abort, observe({ stable: stableOf(abort) }));
    expect(a.status!.phase).toBe('RolledBack');
    expect(a.status!.message).toContain(ABORT_ANNOTATION);
  });

  it('holds a paused canary at its step even when the analysis passes', () => {
    const md = canaryModel({ paused: true });
    const stable = rolledOut(md, 'stable', V1, 3);
    const canary = rolledOut(md, 'canary', V2, 1);
    md.status = { canary: decideCanary(md, observe({ stable, canary })).status! };
    expect(md.status.canary!.phase).toBe('Paused');
    const d = decideCanary(md, observe({ stable, canary, now: at(61) }), passed);
    expect(d.status).toMatchObject({ phase: 'Paused', step: 0 });
    expect(d.verdict!.reason).toBe('CanaryPaused');
    // Still rolled back when the analysis fails.
    const failed = { ...passed, passed: 'False' as const };
    expect(decideCanary(md, observe({ stable, canary, now: at(61) }), failed).status!.phase).toBe(
      'RolledBack',
    );
  });

  it('reads the model a Deployment serves from its label and annotation', () => {
    const md = canaryModel();
    expect(deployedModel(rolledOut(md, 'stable', V1, 1))).toEqual(V1);
    expect(deployedModel(undefined)).toBeUndefined();
  });
});
