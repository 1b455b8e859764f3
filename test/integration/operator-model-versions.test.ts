/**
 * spec.model.versionPolicy end to end: the operator on the real control plane
 * builds the Deployment; for its kwok pod, a real runtime process runs the
 * pod's own command line, listening at the pod's loopback IP, over a base
 * path on disk with versions 1 and 2. The operator reads the pod's /metrics
 * and status.model lists both versions AVAILABLE; a version 3 directory
 * dropped in is loaded by that same process and shows in status, with no pod
 * replaced and no new Deployment revision. A change of the policy itself
 * rolls out new pods.
 */
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Operator } from '../../src/operator/operator.js';
import { writeHalfPlusTwo } from '../support/models.js';
import { startCommand, type RuntimeProcess } from '../runtime/process.js';
import { createNamespace, deleteNamespace, eventually, kubectlOk } from './context.js';
import { apply, getJson, startOperator, type ModelDeploymentJson } from './operator-support.js';

const NAME = 'versioned';
let ns = '';
let base = '';
let operator: Operator | undefined;
let runtime: RuntimeProcess | undefined;

/** Version v answers 0.5 x + v; written aside and renamed in whole, as a publisher should. */
async function addVersion(v: number): Promise<void> {
  const staging = join(base, `.staging-${v}`);
  await writeHalfPlusTwo(staging, v);
  await rename(staging, join(base, String(v)));
}

const md = () => getJson<ModelDeploymentJson>(ns, 'md', NAME);

async function pods(): Promise<V1Pod[]> {
  const out = await kubectlOk([
    'get',
    'pods',
    '-n',
    ns,
    '-l',
    `tensorfleet.dev/model=${NAME}`,
    '-o',
    'json',
  ]);
  return (JSON.parse(out) as { items: V1Pod[] }).items;
}

async function replicaSets(): Promise<string[]> {
  const out = await kubectlOk([
    'get',
    'replicasets',
    '-n',
    ns,
    '-l',
    `tensorfleet.dev/model=${NAME}`,
    '-o',
    'jsonpath={.items[*].metadata.name}',
  ]);
  return out.split(' ').filter(Boolean);
}

/** status.model once it lists `available` (newest first) with one pod each. */
function availableInStatus(available: string) {
  return eventually(
    `status.model.available ${available}`,
    async () => {
      const m = (await md())?.status?.model;
      return m?.available === available ? m : undefined;
    },
    60_000,
  );
}

beforeAll(async () => {
  ns = await createNamespace('versions');
  base = await mkdtemp(join(tmpdir(), 'tensorfleet-md-versions-'));
  await addVersion(1);
  await addVersion(2);
  operator = await startOperator(ns, {}, { scrapePods: true, versionsIntervalMs: 500 });
});

afterAll(async () => {
  await operator?.stop();
  runtime?.child.kill('SIGTERM');
  await runtime?.exited;
  await deleteNamespace(ns);
  await rm(base, { recursive: true, force: true });
});

describe('a ModelDeployment with model.versionPolicy', { timeout: 180_000 }, () => {
  it('runs the runtime over the base path, and status lists the versions its pod loaded', async () => {
    await apply(
      ns,
      JSON.stringify({
        apiVersion: 'tensorfleet.dev/v1alpha1',
        kind: 'ModelDeployment',
        metadata: { name: NAME },
        spec: {
          model: { uri: `file://${base}`, versionPolicy: { all: {}, pollIntervalSeconds: 1 } },
          runtime: { backend: 'cpu', warmup: { iterations: 0 } },
        },
      }),
    );
    const pod = await eventually(
      'a running pod with an IP',
      async () =>
        (await pods()).find((p) => p.status?.phase === 'Running' && p.status.podIP !== undefined),
      60_000,
    );
    const args = pod.spec!.containers[0]!.args!;
    expect(args).toEqual(
      expect.arrayContaining([
        'serve',
        `--model-base-path=file://${base}`,
        '--model-version-policy=all',
        '--file-system-poll-wait-seconds=1',
      ]),
    );
    expect(args.some((a) => a.startsWith('--model-uri='))).toBe(false);
    expect(pod.spec!.initContainers).toBeUndefined();
    // The pod's own command line, at the pod's IP (gRPC on any free port: 8500 may be taken).
    runtime = await startCommand([...args, `--host=${pod.status!.podIP!}`, '--grpc-port=0']);

    const status = await availableInStatus('2,1');
    expect(status).toEqual({
      versions: [
        { version: 2, state: 'AVAILABLE', replicas: 1 },
        { version: 1, state: 'AVAILABLE', replicas: 1 },
      ],
      available: '2,1',
    });
    const wide = await kubectlOk(['get', 'md', NAME, '-n', ns, '-o', 'wide']);
    expect(wide.split('\n')[0]).toMatch(/\bLOADED\b/);
    expect(wide.split('\n')[1]).toMatch(/\s2,1\s/);
  });

  it('shows a version dropped into the base path without a pod rollout', async () => {
    const [podBefore] = await pods();
    const deploymentBefore = await getJson<V1Deployment>(ns, 'deployment', NAME);
    const replicaSetsBefore = await replicaSets();

    await addVersion(3);
    const status = await availableInStatus('3,2,1');
    expect(status.versions).toEqual([
      { version: 3, state: 'AVAILABLE', replicas: 1 },
      { version: 2, state: 'AVAILABLE', replicas: 1 },
      { version: 1, state: 'AVAILABLE', replicas: 1 },
    ]);
    // The same process serves it: version 3 answers 0.5 x + 3.
    const res = await fetch(
      `http://${podBefore!.status!.podIP!}:8501/v1/models/${NAME}/versions/3:predict`,
      { method: 'POST', body: JSON.stringify({ instances: [2] }) },
    );
    expect(await res.json()).toEqual({ predictions: [4] });

    const podsAfter = await pods();
    expect(podsAfter.map((p) => p.metadata!.uid)).toEqual([podBefore!.metadata!.uid]);
    const deploymentAfter = await getJson<V1Deployment>(ns, 'deployment', NAME);
    expect(deploymentAfter!.metadata!.generation).toBe(deploymentBefore!.metadata!.generation);
    expect(await replicaSets()).toEqual(replicaSetsBefore);
  });

  it('rolls out new pods when the policy itself changes, as any spec change', async () => {
    const before = await md();
    const replicaSetsBefore = await replicaSets();
    await kubectlOk([
      'patch',
      'md',
      NAME,
      '-n',
      ns,
      '--type=merge',
      '-p',
      JSON.stringify({
        spec: { model: { versionPolicy: { all: null, latest: { numVersions: 1 } } } },
      }),
    ]);
    const deployment = await eventually(
      'the Deployment with the new policy',
      async () => {
        const d = await getJson<V1Deployment>(ns, 'deployment', NAME);
        const args = d?.spec?.template.spec?.containers[0]?.args ?? [];
        return args.includes('--model-version-policy=latest:1') ? d : undefined;
      },
      30_000,
    );
    expect(deployment.spec!.template.metadata!.labels!['tensorfleet.dev/version']).not.toBe(
      before!.status!.targetVersion,
    );
    await eventually(
      'a new ReplicaSet',
      async () => ((await replicaSets()).length > replicaSetsBefore.length ? true : undefined),
      30_000,
    );
    const after = await eventually(
      'status.targetVersion moved',
      async () => {
        const m = await md();
        return m?.status?.targetVersion !== before!.status!.targetVersion ? m : undefined;
      },
      30_000,
    );
    expect(after.status!.targetVersion).toBe(
      deployment.spec!.template.metadata!.labels!['tensorfleet.dev/version'],
    );
  });
});
