// A cluster without the Prometheus Operator: `enabled: auto` quietly skips the
// ServiceMonitor and the SLO's PrometheusRule, `enabled: "true"` says why it
// cannot have one, and the model serves either way.
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
  operator = await startOperator(
    ns,
    {},
    { missingCRDs: ['servicemonitors', 'prometheusrules', 'scaledobjects'] },
  );
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
    const stalled = await waitForCondition(
      ns,
      'wanted',
      'Stalled',
      'True',
      'ServiceMonitorCRDMissing',
    );
    expect(condition(stalled, 'Stalled')?.message).toContain('monitoring.coreos.com');
    const md = await waitForCondition(ns, 'wanted', 'Available', 'True');
    expect(condition(md, 'Stalled')?.reason).toBe('ServiceMonitorCRDMissing');
    expect(md.status?.readyReplicas).toBe(1);
    expect(await getJson(ns, 'servicemonitor', 'wanted')).toBeUndefined();
  });
});

describe('without the PrometheusRule CRD', () => {
  const slo = { availability: { objective: 99.9 } };

  it('slo auto: serves and creates no PrometheusRule', async () => {
    await apply(ns, modelDeploymentManifest('slo-auto', { monitoring: { slo } }));
    const md = await waitForCondition(ns, 'slo-auto', 'Ready', 'True');
    expect(condition(md, 'Stalled')?.status).toBe('False');
    expect(await getJson(ns, 'prometheusrule', 'slo-auto')).toBeUndefined();
  });

  it('slo "true": reports PrometheusRuleCRDMissing as Stalled, and the model still serves', async () => {
    await apply(
      ns,
      modelDeploymentManifest('slo-wanted', {
        monitoring: { slo: { ...slo, enabled: 'true' } },
      }),
    );
    const md = await waitForCondition(
      ns,
      'slo-wanted',
      'Stalled',
      'True',
      'PrometheusRuleCRDMissing',
    );
    expect(condition(md, 'Stalled')?.message).toContain(
      'PrometheusRule CRD (monitoring.coreos.com/v1)',
    );
    const available = await waitForCondition(ns, 'slo-wanted', 'Available', 'True');
    expect(available.status?.readyReplicas).toBe(1);
    expect(await getJson(ns, 'prometheusrule', 'slo-wanted')).toBeUndefined();
  });
});

describe('without KEDA', () => {
  it('engine keda: reports KEDANotInstalled and keeps serving', async () => {
    await apply(
      ns,
      modelDeploymentManifest('kedaless', { autoscaling: { engine: 'keda', maxReplicas: 3 } }),
    );
    await waitForCondition(ns, 'kedaless', 'Stalled', 'True', 'KEDANotInstalled');
    const md = await waitForCondition(ns, 'kedaless', 'Available', 'True');
    expect(condition(md, 'Stalled')?.reason).toBe('KEDANotInstalled');
  });
});
