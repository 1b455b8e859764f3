// Deleting a namespace full of models: the operator does not try to recreate
// or repair what the namespace controller removes, nor write their status
// (no applies to objects being deleted, no writes at all once the namespace
// is read as being deleted).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Operator } from '../../src/operator/operator.js';
import { createNamespace, eventually, kubectl, kubectlOk } from './context.js';
import {
  apply,
  modelDeploymentManifest,
  startOperator,
  waitForCondition,
} from './operator-support.js';

const MODELS = Array.from({ length: 8 }, (_, i) => `m${i}`);
let ns: string;
let operator: Operator;

beforeAll(async () => {
  ns = await createNamespace('ns-deletion');
  operator = await startOperator(ns);
});

afterAll(async () => {
  await operator?.stop();
});

describe('a namespace deleted with its models', () => {
  it('costs no applies and no status writes from the operator', async () => {
    for (const name of MODELS)
      await apply(
        ns,
        modelDeploymentManifest(name, {
          replicas: 2,
          resources: { requests: { cpu: '100m', memory: '128Mi' } },
        }),
      );
    for (const name of MODELS) await waitForCondition(ns, name, 'Ready', 'True');
    await new Promise((r) => setTimeout(r, 3000));
    // Writes to owned objects (not status): what deleting the namespace made us send.
    const ownedWrites = async (): Promise<number> =>
      (await operator.metrics.apiWrites.get()).values
        .filter(
          (v) =>
            !String(v.labels['resource']).startsWith('modeldeployments') &&
            v.labels['resource'] !== 'leases',
        )
        .reduce((sum, v) => sum + v.value, 0);
    const statusWrites = async (): Promise<number> =>
      (await operator.metrics.apiWrites.get()).values
        .filter((v) => String(v.labels['resource']).startsWith('modeldeployments'))
        .reduce((sum, v) => sum + v.value, 0);
    const before = await ownedWrites();
    const statusBefore = await statusWrites();
    await kubectlOk(['delete', 'namespace', ns, '--wait=false']);
    await eventually(
      'the namespace gone',
      async () => ((await kubectl(['get', 'namespace', ns])).code !== 0 ? true : undefined),
      90_000,
    );
    // Objects being deleted are left alone; the first write the namespace
    // refuses (one per worker at most) stops every other for that namespace.
    expect((await ownedWrites()) - before).toBeLessThanOrEqual(2);
    // Nor status writes: the namespace is read as being deleted (11 for these 8 before).
    expect((await statusWrites()) - statusBefore).toBeLessThanOrEqual(1);
  }, 180_000);
});
