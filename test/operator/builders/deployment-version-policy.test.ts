// The runtime's flags for spec.model.versionPolicy: the base path, the policy
// and the poll interval instead of one model and its version.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { VersionPolicy } from '../../../src/api/v1alpha1/index.js';
import { buildDeployment, versionPolicyArg } from '../../../src/operator/builders/deployment.js';
import { modelVersion } from '../../../src/operator/builders/labels.js';
import { parseVersionPolicy } from '../../../src/runtime/versions/version-policy.js';
import { CONFIG, modelDeployment } from '../fixtures.js';

const followed = (model: Record<string, unknown>) =>
  buildDeployment(modelDeployment({ model }), CONFIG);
const runtime = (d: ReturnType<typeof buildDeployment>) => d.spec!.template.spec!.containers[0]!;
const modelFlags = (d: ReturnType<typeof buildDeployment>) =>
  runtime(d).args!.filter((a) =>
    /^--(model-uri|model-version|model-base-path|model-version-policy|file-system-poll-wait-seconds)=/.test(
      a,
    ),
  );

describe('buildDeployment with model.versionPolicy', () => {
  it('hands a remote base path to the runtime, which lists and downloads it with the credentials', () => {
    const d = followed({
      uri: 's3://models/mnist/',
      credentialsSecret: 's3-creds',
      versionPolicy: { latest: { numVersions: 2 }, pollIntervalSeconds: 30 },
    });
    expect(modelFlags(d)).toEqual([
      '--model-base-path=s3://models/mnist/',
      '--model-version-policy=latest:2',
      '--file-system-poll-wait-seconds=30',
    ]);
    // No one-off download: new versions appear while the pod runs.
    expect(d.spec!.template.spec!.initContainers).toBeUndefined();
    expect(runtime(d).envFrom).toEqual([{ secretRef: { name: 's3-creds' } }]);
  });

  it('polls every second by default, as TF Serving', () => {
    expect(modelFlags(followed({ uri: 'gs://b/m', versionPolicy: { all: {} } }))).toEqual([
      '--model-base-path=gs://b/m',
      '--model-version-policy=all',
      '--file-system-poll-wait-seconds=1',
    ]);
  });

  it('mounts a pvc:// base path and follows it inside the volume', () => {
    const d = followed({
      uri: 'pvc://store/sentiment',
      versionPolicy: { specific: { versions: [3, 4] } },
    });
    expect(modelFlags(d)).toEqual([
      '--model-base-path=file:///mnt/model-store/sentiment',
      '--model-version-policy=specific:3,4',
      '--file-system-poll-wait-seconds=1',
    ]);
    expect(d.spec!.template.spec!.volumes).toContainEqual({
      name: 'model-store',
      persistentVolumeClaim: { claimName: 'store', readOnly: true },
    });
    expect(runtime(d).envFrom).toBeUndefined();
  });

  it('keeps one model at model.uri and model.version without a policy', () => {
    const d = followed({ uri: 's3://models/mnist/3/', version: '3', credentialsSecret: 'c' });
    expect(modelFlags(d)).toEqual(['--model-uri=file:///models/model', '--model-version=3']);
    expect(runtime(d).envFrom).toBeUndefined();
    expect(d.spec!.template.spec!.initContainers![0]!.envFrom).toEqual([
      { secretRef: { name: 'c' } },
    ]);
  });

  it('labels pods with a version that changes with the selection, not with the poll interval', () => {
    const md = (versionPolicy: Record<string, unknown>) =>
      modelDeployment({ model: { uri: 's3://models/mnist/', versionPolicy } });
    const latest1 = modelVersion(md({ latest: {} }));
    expect(latest1).toMatch(/^[0-9a-f]{10}$/);
    expect(modelVersion(md({ latest: { numVersions: 1 }, pollIntervalSeconds: 60 }))).toBe(latest1);
    expect(modelVersion(md({ latest: { numVersions: 2 } }))).not.toBe(latest1);
    expect(modelVersion(md({ all: {} }))).not.toBe(latest1);
    expect(modelVersion(modelDeployment({ model: { uri: 's3://models/mnist/' } }))).not.toBe(
      latest1,
    );
  });
});

describe('versionPolicyArg', () => {
  const policy: fc.Arbitrary<VersionPolicy> = fc.oneof(
    fc
      .integer({ min: 1, max: 1000 })
      .map((n) => ({ latest: { numVersions: n }, pollIntervalSeconds: 1 })),
    fc.constant({ all: {}, pollIntervalSeconds: 1 }),
    fc
      .uniqueArray(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), {
        minLength: 1,
        maxLength: 64,
      })
      .map((versions) => ({ specific: { versions }, pollIntervalSeconds: 1 })),
  );

  it('writes what the runtime parses back to the same selection', () => {
    fc.assert(
      fc.property(policy, (p) => {
        const parsed = parseVersionPolicy(versionPolicyArg(p));
        if (p.latest) expect(parsed).toEqual({ kind: 'latest', count: p.latest.numVersions });
        else if (p.specific)
          expect(parsed).toEqual({ kind: 'specific', versions: p.specific.versions });
        else expect(parsed).toEqual({ kind: 'all' });
      }),
    );
  });
});
