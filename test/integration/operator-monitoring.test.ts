// A cluster without the Prometheus Operator: `enabled: auto` quietly skips the
// ServiceMonitor, `enabled: "true"` says why it cannot have one, and the model
// serves either way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Operator } from '../../src/operator/operator.js';
import { createNamespace, deleteNamespace } from './context.js';
import {
  apply,
  condition,
  getJson,
  modelDeploymentManifest,
  startOperator,
  waitForCondition,
} from './operator-support.js';

let ns: string;
let operator: Operator;

beforeAll(async () => {
  ns = await createNamespace('no-prometheus');
  operator = await startOperator(ns, {}, { serviceMonitorCRD: false });
});

afterAll(async () => {
  await operator?.stop();
  await deleteNamespace(ns);
});

describe('without the ServiceMonitor CRD', () => {
  it('auto: serves and creates no ServiceMonitor', async () => {
    await apply(ns, modelDeploymentManifest('auto', {}));
    await waitForCondition(ns, 'auto', 'Ready', 'True');
    expect(await getJson(ns, 'servicemonitor', 'auto')).toBeUndefined();
  });

  it('"true": reports ServiceMonitorCRDMissing as Stalled, and the model still serves', async () => {
    await apply(
      ns,
      modelDeploymentManifest('wanted', { monitoring: { serviceMonitor: { enabled: 'true' } } }),
    );
    const md = await waitForCondition(ns, 'wanted', 'Stalled', 'True', 'ServiceMonitorCRDMissing');
    expect(condition(md, 'Stalled')?.message).toContain('monitoring.coreos.com');
    expect(condition(md, 'Available')?.status).toBe('True');
    expect(md.status?.readyReplicas).toBe(1);
    expect(await getJson(ns, 'servicemonitor', 'wanted')).toBeUndefined();
  });
});
