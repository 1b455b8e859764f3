// Hand edits of what the operator owns, against the real API server: each is
// repaired within seconds, whenever it happens, and nothing else is written.
import type { V1Deployment } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Operator } from '../../src/operator/operator.js';
import { createNamespace, deleteNamespace, eventually, kubectlOk } from './context.js';
import {
  apply,
  getJson,
  modelDeploymentManifest,
  startOperator,
  waitForCondition,
} from './operator-support.js';

const IMAGE = 'registry.example.com/tensorfleet/runtime:test';
let ns: string;
let operator: Operator;

beforeAll(async () => {
  ns = await createNamespace('drift');
  operator = await startOperator(ns);
});

afterAll(async () => {
  await operator?.stop();
  await deleteNamespace(ns);
});

const runtimeImage = async (name: string): Promise<string | undefined> =>
  (await getJson<V1Deployment>(ns, 'deployment', name))?.spec?.template.spec?.containers.find(
    (c) => c.name === 'runtime',
  )?.image;

describe('drift', () => {
  it('is repaired when the edit comes moments after the operator wrote the object', async () => {
    await apply(
      ns,
      modelDeploymentManifest('soon', {
        resources: { requests: { cpu: '100m', memory: '128Mi' } },
      }),
    );
    await waitForCondition(ns, 'soon', 'Ready', 'True');
    // The operator writes the Deployment for the scale; the edit follows at once.
    await kubectlOk(['scale', '-n', ns, 'md/soon', '--replicas=2']);
    await eventually('the Deployment at 2 replicas', async () =>
      (await getJson<V1Deployment>(ns, 'deployment', 'soon'))?.spec?.replicas === 2
        ? true
        : undefined,
    );
    await kubectlOk(['set', 'image', '-n', ns, 'deploy/soon', 'runtime=other:3']);
    const repaired = await eventually(
      'the image taken back',
      async () => ((await runtimeImage('soon')) === IMAGE ? true : undefined),
      10_000,
    );
    expect(repaired).toBe(true);
  });
});
