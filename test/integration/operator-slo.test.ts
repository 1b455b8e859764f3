// SLO alerts against the real control plane with the Prometheus Operator's
// PrometheusRule CRD installed: a ModelDeployment with monitoring.slo gets its
// PrometheusRule (accepted by the real CRD's schema, nothing pruned), changes
// to the SLO reach it, and it goes when the SLO does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Operator } from '../../src/operator/operator.js';
import { buildPrometheusRule } from '../../src/operator/builders/prometheus-rule.js';
import type { PrometheusRuleObject } from '../../src/operator/builders/prometheus-rule.js';
import { modelDeployment } from '../operator/fixtures.js';
import { createNamespace, deleteNamespace, eventually, kubectlOk } from './context.js';
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

const slo = {
  availability: { objective: 99.9 },
  latency: { thresholdSeconds: 0.25, objective: 99 },
  labels: { team: 'fraud' },
  ruleLabels: { release: 'prometheus' },
  runbookUrl: 'https://runbooks.example.com/fraud',
};

beforeAll(async () => {
  ns = await createNamespace('slo');
  operator = await startOperator(ns);
});

afterAll(async () => {
  await operator?.stop();
  await deleteNamespace(ns);
});

const rule = () => getJson<PrometheusRuleObject>(ns, 'prometheusrule', 'fraud');

describe('monitoring.slo', () => {
  it('writes the PrometheusRule the builder builds, and the real CRD keeps all of it', async () => {
    await apply(ns, modelDeploymentManifest('fraud', { monitoring: { slo } }));
    const md = await waitForCondition(ns, 'fraud', 'Ready', 'True');
    expect(condition(md, 'Stalled')?.status).toBe('False');
    const live = await eventually('PrometheusRule fraud', rule);
    const desired = buildPrometheusRule(
      modelDeployment({ model: { uri: 's3://models/fraud/1/' }, monitoring: { slo } }, 'fraud', ns),
    )!;
    expect(live.spec).toEqual(desired.spec);
    expect(live.metadata.labels).toMatchObject({ release: 'prometheus' });
    expect(live.metadata.ownerReferences[0]).toMatchObject({
      kind: 'ModelDeployment',
      name: 'fraud',
      uid: md.metadata.uid,
      controller: true,
    });
  });

  it('follows a change of objective', async () => {
    await kubectlOk([
      'patch',
      '-n',
      ns,
      'md/fraud',
      '--type=merge',
      '-p',
      '{"spec":{"monitoring":{"slo":{"availability":{"objective":99.5}}}}}',
    ]);
    await eventually('objective 0.995 in the rule', async () => {
      const r = await rule();
      return JSON.stringify(r?.spec).includes('vector(0.995)') ? r : undefined;
    });
  });

  it('deletes the PrometheusRule when the SLO is removed', async () => {
    await kubectlOk([
      'patch',
      '-n',
      ns,
      'md/fraud',
      '--type=json',
      '-p',
      '[{"op":"remove","path":"/spec/monitoring/slo"}]',
    ]);
    await eventually('PrometheusRule fraud deleted', async () =>
      (await rule()) === undefined ? true : undefined,
    );
    const md = await waitForCondition(ns, 'fraud', 'Ready', 'True');
    expect(md.spec['monitoring']).not.toHaveProperty('slo');
  });

  it('writes none with enabled "false"', async () => {
    await apply(
      ns,
      modelDeploymentManifest('quiet', { monitoring: { slo: { ...slo, enabled: 'false' } } }),
    );
    await waitForCondition(ns, 'quiet', 'Ready', 'True');
    expect(await getJson(ns, 'prometheusrule', 'quiet')).toBeUndefined();
  });
});
