// status.model from the pods' tensorfleet_runtime_model_version_state series:
// per version and state, the pods holding it so; unread pods named, never counted.
import type { V1Pod } from '@kubernetes/client-node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ModelVersionState } from '../../../src/api/v1alpha1/index.js';
import type { Sample } from '../../../src/operator/metrics-source/exposition.js';
import { parseExposition } from '../../../src/operator/metrics-source/exposition.js';
import {
  aggregateVersionStates,
  modelVersionsStatus,
  podVersionStates,
} from '../../../src/operator/status/model-versions.js';
import { computeStatus } from '../../../src/operator/status/compute.js';
import { readablePods } from '../../../src/operator/status/model-versions-reader.js';
import { modelDeployment } from '../fixtures.js';

const line = (model: string, version: string, state: string, errorCode = 'OK') =>
  `tensorfleet_runtime_model_version_state{model="${model}",version="${version}",state="${state}",error_code="${errorCode}"} 1`;

const exposition = (...lines: string[]): Sample[] =>
  parseExposition(
    [
      '# HELP tensorfleet_runtime_model_version_state 1 for the state each model version is in',
      '# TYPE tensorfleet_runtime_model_version_state gauge',
      ...lines,
      'tensorfleet_runtime_ready{model="m",version="4"} 1',
    ].join('\n'),
  );

const pod = (name: string): V1Pod => ({ metadata: { name } });

describe('podVersionStates', () => {
  it("reads one pod's versions of the model, a failed load as FAILED, an unloaded one not at all", () => {
    const samples = exposition(
      line('m', '4', 'AVAILABLE'),
      line('m', '5', 'LOADING'),
      line('m', '3', 'UNLOADING'),
      line('m', '2', 'END'),
      line('m', '6', 'END', 'UNKNOWN'),
      line('other', '9', 'AVAILABLE'),
      line('m', 'x', 'AVAILABLE'),
      line('m', '7', 'SOMETHING_NEW'),
    );
    expect(podVersionStates(samples, 'm')).toEqual(
      new Map<number, ModelVersionState>([
        [4, 'AVAILABLE'],
        [5, 'LOADING'],
        [3, 'UNLOADING'],
        [6, 'FAILED'],
      ]),
    );
  });
});

describe('aggregateVersionStates', () => {
  it('counts pods per version and state, newest version first, AVAILABLE before LOADING', () => {
    const a = new Map<number, ModelVersionState>([
      [3, 'AVAILABLE'],
      [4, 'LOADING'],
    ]);
    const b = new Map<number, ModelVersionState>([
      [3, 'AVAILABLE'],
      [4, 'AVAILABLE'],
    ]);
    expect(aggregateVersionStates([a, b])).toEqual([
      { version: 4, state: 'AVAILABLE', replicas: 1 },
      { version: 4, state: 'LOADING', replicas: 1 },
      { version: 3, state: 'AVAILABLE', replicas: 2 },
    ]);
  });

  it('accounts for every pod holding a version exactly once, in any order of pods', () => {
    const state = fc.constantFrom<ModelVersionState>('LOADING', 'AVAILABLE', 'UNLOADING', 'FAILED');
    const podStates = fc
      .array(fc.tuple(fc.integer({ min: 1, max: 6 }), state), { maxLength: 6 })
      .map((pairs) => new Map(pairs));
    fc.assert(
      fc.property(fc.array(podStates, { maxLength: 8 }), (pods) => {
        const out = aggregateVersionStates(pods);
        for (const version of new Set(pods.flatMap((p) => [...p.keys()]))) {
          const holding = pods.filter((p) => p.has(version)).length;
          const counted = out
            .filter((e) => e.version === version)
            .reduce((n, e) => n + e.replicas, 0);
          expect(counted).toBe(holding);
        }
        expect(aggregateVersionStates([...pods].reverse())).toEqual(out);
        const versions = out.map((e) => e.version);
        expect(versions).toEqual([...versions].sort((x, y) => y - x));
      }),
    );
  });
});

describe('modelVersionsStatus', () => {
  it('lists the versions, the available ones newest first, and no message when every pod answered', () => {
    const status = modelVersionsStatus('m', [
      {
        pod: pod('a'),
        samples: exposition(line('m', '3', 'AVAILABLE'), line('m', '4', 'AVAILABLE')),
      },
      {
        pod: pod('b'),
        samples: exposition(line('m', '3', 'AVAILABLE'), line('m', '4', 'LOADING')),
      },
    ]);
    expect(status).toEqual({
      versions: [
        { version: 4, state: 'AVAILABLE', replicas: 1 },
        { version: 4, state: 'LOADING', replicas: 1 },
        { version: 3, state: 'AVAILABLE', replicas: 2 },
      ],
      available: '4,3',
    });
  });

  it('leaves a pod that did not answer out of the counts and says which and why', () => {
    const status = modelVersionsStatus('m', [
      { pod: pod('a'), samples: exposition(line('m', '3', 'AVAILABLE')) },
      { pod: pod('b'), error: 'http://127.244.0.9:8501/metrics: HTTP 500' },
    ]);
    expect(status.versions).toEqual([{ version: 3, state: 'AVAILABLE', replicas: 1 }]);
    expect(status.message).toBe(
      'could not read the versions of 1 of 2 pods (b: http://127.244.0.9:8501/metrics: HTTP 500)',
    );
  });

  it('says so when no pod runs, and keeps a long error within the status field', () => {
    expect(modelVersionsStatus('m', [])).toEqual({
      versions: [],
      message: 'no running pod to read the versions from',
    });
    const long = modelVersionsStatus('m', [{ pod: pod('a'), error: 'x'.repeat(5000) }]);
    expect(long.message!.length).toBeLessThanOrEqual(1024);
  });
});

describe('readablePods', () => {
  const running = (name: string, extra: Partial<V1Pod> = {}): V1Pod => ({
    metadata: { name },
    status: {
      phase: 'Running',
      podIP: '127.244.0.1',
      containerStatuses: [
        {
          name: 'runtime',
          state: { running: {} },
          ready: false,
          restartCount: 0,
          image: 'i',
          imageID: '',
        },
      ],
    },
    ...extra,
  });

  it('reads pods whose runtime runs (loading ones too), not pending or terminating ones', () => {
    const pods = [
      running('loading'),
      running('terminating', {
        metadata: { name: 'terminating', deletionTimestamp: new Date() },
      }),
      { metadata: { name: 'pending' }, status: { phase: 'Pending' } },
    ];
    expect(readablePods(pods).map((p) => p.metadata!.name)).toEqual(['loading']);
  });
});

describe('computeStatus and status.model', () => {
  const read = {
    versions: [{ version: 3, state: 'AVAILABLE' as const, replicas: 1 }],
    available: '3',
  };
  const status = (model: Record<string, unknown>, modelVersions?: typeof read) =>
    computeStatus(modelDeployment({ model }), {
      pods: [],
      problems: [],
      now: '2026-01-01T00:00:00Z',
      ...(modelVersions ? { modelVersions } : {}),
    });

  it('writes status.model only with a version policy, and says when nothing was read yet', () => {
    const policy = { uri: 's3://models/m/', versionPolicy: { all: {} } };
    expect(status(policy, read).model).toEqual(read);
    expect(status(policy).model).toEqual({ message: 'the versions have not been read yet' });
    expect(status({ uri: 's3://models/m/3/', version: '3' }, read).model).toBeUndefined();
  });
});
