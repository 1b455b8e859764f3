import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS } from '../../../src/contract/runtime.js';
import {
  ALERT_NAMES,
  BURN_RATE_ALERTS,
  RECORDED,
  SLO_RATE_WINDOWS,
  burnRate,
  buildPrometheusRule,
  leMatcher,
  wantsPrometheusRule,
} from '../../../src/operator/builders/prometheus-rule.js';
import type { PrometheusRuleObject } from '../../../src/operator/builders/prometheus-rule.js';
import { modelDeployment } from '../fixtures.js';

const withSlo = (slo: Record<string, unknown>, name = 'fraud', namespace = 'risk') =>
  modelDeployment({ monitoring: { slo } }, name, namespace);

const both = withSlo({
  availability: { objective: 99.9 },
  latency: { thresholdSeconds: 0.25, objective: 99 },
  labels: { team: 'fraud', channel: 'pager' },
  ruleLabels: { release: 'prometheus' },
  runbookUrl: 'https://runbooks.example.com/fraud-slo',
});

const rule = (md = both) => buildPrometheusRule(md)!;
const rules = (r: PrometheusRuleObject) => r.spec.groups.flatMap((g) => g.rules);
const alerts = (r: PrometheusRuleObject) =>
  rules(r).filter((x): x is Extract<typeof x, { alert: string }> => 'alert' in x);
const recorded = (r: PrometheusRuleObject) =>
  rules(r).filter((x): x is Extract<typeof x, { record: string }> => 'record' in x);

describe('PrometheusRule', () => {
  it('is built only when the spec sets an SLO, and wanted as the ServiceMonitor is', () => {
    const none = modelDeployment({});
    expect(buildPrometheusRule(none)).toBeUndefined();
    expect(wantsPrometheusRule(none, true)).toBe(false);
    expect(wantsPrometheusRule(both, true)).toBe(true);
    expect(wantsPrometheusRule(both, false)).toBe(false);
    const forced = withSlo({ enabled: 'true', availability: { objective: 99 } });
    expect(wantsPrometheusRule(forced, false)).toBe(true);
    const off = withSlo({ enabled: 'false', availability: { objective: 99 } });
    expect(wantsPrometheusRule(off, true)).toBe(false);
  });

  it('is owned by the model, named after it, and carries the rule labels under ours', () => {
    const r = rule();
    expect(r.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(r.kind).toBe('PrometheusRule');
    expect(r.metadata.name).toBe('fraud');
    expect(r.metadata.namespace).toBe('risk');
    expect(r.metadata.ownerReferences[0]).toMatchObject({
      kind: 'ModelDeployment',
      uid: 'uid-fraud',
    });
    expect(r.metadata.labels).toMatchObject({
      release: 'prometheus',
      'app.kubernetes.io/managed-by': 'tensorfleet',
    });
  });

  it('records the bad share of each SLI over every window an alert reads', () => {
    const r = rule();
    for (const slo of ['availability', 'latency']) {
      const names = recorded(r)
        .filter((x) => x.labels['slo'] === slo && x.record.includes('bad_requests'))
        .map((x) => x.record);
      expect(names).toEqual(SLO_RATE_WINDOWS.map((w) => RECORDED.badRatio(w)));
    }
    const windows = new Set<string>(SLO_RATE_WINDOWS);
    for (const a of BURN_RATE_ALERTS) {
      expect(windows.has(a.long) && windows.has(a.short)).toBe(true);
    }
  });

  it('counts 5xx and 429 as unavailable, over the model in its namespace only', () => {
    const fiveMinutes = recorded(rule()).find(
      (x) => x.record === RECORDED.badRatio('5m') && x.labels['slo'] === 'availability',
    )!;
    expect(fiveMinutes.expr).toBe(
      '1 - sum by (namespace, model) (rate(tensorfleet_runtime_requests_total{namespace="risk",model="fraud",code!~"5..|429"}[5m]))' +
        ' / sum by (namespace, model) (rate(tensorfleet_runtime_requests_total{namespace="risk",model="fraud"}[5m]))',
    );
  });

  it('counts requests slower than the threshold bucket as too slow', () => {
    const latency = recorded(rule()).find(
      (x) => x.record === RECORDED.badRatio('1h') && x.labels['slo'] === 'latency',
    )!;
    expect(latency.expr).toContain(
      'tensorfleet_runtime_request_duration_seconds_bucket{namespace="risk",model="fraud",le="0.25"}[1h]',
    );
    expect(latency.expr).toContain('tensorfleet_runtime_request_duration_seconds_count');
  });

  it('matches whole bucket bounds as Prometheus 2 ("1") and 3 ("1.0") write them', () => {
    expect(leMatcher(1)).toBe('le=~"1(\\\\.0)?"');
    expect(leMatcher(10)).toBe('le=~"10(\\\\.0)?"');
    expect(leMatcher(0.0005)).toBe('le="0.0005"');
    for (const b of LATENCY_BUCKETS) expect(leMatcher(b)).not.toContain('e-');
  });

  it("uses the SRE workbook's burn rates for a 30-day window, scaled for others", () => {
    expect(BURN_RATE_ALERTS.map((a) => burnRate(a.budgetShare, a.long, '30d'))).toEqual([
      14.4, 6, 3, 1,
    ]);
    expect(burnRate(0.02, '1h', '28d')).toBe(13.44);
    expect(burnRate(0.1, '3d', '7d')).toBeCloseTo(0.2333, 4);
  });

  it('pages on 14.4x over 1h and 5m or 6x over 6h and 30m; tickets on 3x over 1d and 2h or 1x over 3d and 6h', () => {
    const [page, ticket] = alerts(rule()).filter((a) => a.labels['slo'] === 'availability');
    const sel = '{namespace="risk",model="fraud",slo="availability"}';
    const term = (w: string, rate: number) => `${RECORDED.badRatio(w)}${sel} / 0.001 > ${rate}`;
    expect(page!.expr).toBe(
      `(${term('1h', 14.4)} and ${term('5m', 14.4)})\nor\n(${term('6h', 6)} and ${term('30m', 6)})`,
    );
    expect(ticket!.expr).toBe(
      `(${term('1d', 3)} and ${term('2h', 3)})\nor\n(${term('3d', 1)} and ${term('6h', 1)})`,
    );
  });

  it("labels each alert with the model, namespace, SLO, severity and the user's routing labels", () => {
    const all = alerts(rule());
    expect(all.map((a) => [a.alert, a.labels['severity']])).toEqual([
      [ALERT_NAMES.availability, 'page'],
      [ALERT_NAMES.availability, 'ticket'],
      [ALERT_NAMES.latency, 'page'],
      [ALERT_NAMES.latency, 'ticket'],
    ]);
    for (const a of all) {
      expect(a.labels).toMatchObject({
        namespace: 'risk',
        model: 'fraud',
        team: 'fraud',
        channel: 'pager',
      });
      expect(a.annotations['runbook_url']).toBe('https://runbooks.example.com/fraud-slo');
    }
    const latencyPage = all[2]!;
    expect(latencyPage.annotations['description']).toContain(
      '99% of requests answered within 0.25s over 30d (an error budget of 1%)',
    );
    expect(latencyPage.annotations['description']).toContain('{{ $value | printf "%.1f" }}x');
    expect(latencyPage.annotations['description']).toContain('14.4x over 1h and 5m');
  });

  it('records the objective and the share of the budget left over the whole window', () => {
    const r = withSlo({ availability: { objective: 99.5 }, window: '28d' });
    const budget = buildPrometheusRule(r)!.spec.groups[1]!;
    expect(budget.interval).toBe('5m');
    expect(budget.rules).toEqual([
      {
        record: RECORDED.objective,
        expr: 'vector(0.995)',
        labels: { namespace: 'risk', model: 'fraud', slo: 'availability' },
      },
      expect.objectContaining({
        record: RECORDED.budgetRemaining,
        labels: { slo: 'availability' },
      }),
    ]);
    expect((budget.rules[1] as { expr: string }).expr).toMatch(
      /^1 - \(1 - .*\[28d\].*\) \/ 0\.005$/,
    );
    // No runbook given: no runbook annotation.
    expect(alerts(buildPrometheusRule(r)!)[0]!.annotations['runbook_url']).toBeUndefined();
  });

  it('writes budgets and burn rates without floating-point noise for any objective and window', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 50_000, max: 99_999 }),
        fc.integer({ min: 7, max: 90 }),
        (thousandths, days) => {
          const r = buildPrometheusRule(
            withSlo({ availability: { objective: thousandths / 1000 }, window: `${days}d` }),
          )!;
          // The objective and budget as decimals: 99.994 -> 0.99994 and 0.00006 exactly.
          const budget = String(Number(`${100_000 - thousandths}e-5`));
          expect(r.spec.groups[1]!.rules[0]).toMatchObject({
            expr: `vector(${String(Number(`${thousandths}e-5`))})`,
          });
          for (const a of alerts(r)) {
            const divisors = [...a.expr.matchAll(/ \/ ([\d.]+) > ([\d.]+)/g)];
            expect(divisors).toHaveLength(4);
            for (const [, divisor, rate] of divisors) {
              expect(divisor).toBe(budget);
              expect(rate!.replace(/^0\.|\./, '').length).toBeLessThanOrEqual(12);
            }
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
