// The SLO rules the operator writes, run by Prometheus's own rule engine:
// promtool (built with Prometheus by tools/cluster/build.sh) checks the rule
// files and unit-tests them on synthetic series that must fire each alert (a
// fast burn, a slow burn, a latency burn) and series that must fire none
// (errors within budget, 4xx answers). Needs no cluster.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ensureBinaries } from '../../src/localcluster/index.js';
import {
  ALERT_NAMES,
  RECORDED,
  buildPrometheusRule,
} from '../../src/operator/builders/prometheus-rule.js';
import type { PrometheusRuleObject, SloKind } from '../../src/operator/builders/prometheus-rule.js';
import { modelDeployment } from '../operator/fixtures.js';

const run = promisify(execFile);
const NS = 'risk';
const RUNBOOK = 'https://runbooks.example.com/slo';

let promtool = '';
let dir = '';

/** Runs promtool; its exit code and everything it printed. */
async function promtoolRun(...args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(promtool, args, { cwd: dir });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

const AVAILABILITY = { availability: { objective: 99.9 } };
const LATENCY = { latency: { thresholdSeconds: 1, objective: 99 } };
const models: Record<string, PrometheusRuleObject> = Object.fromEntries(
  (
    [
      ['fast', AVAILABILITY],
      ['slow', AVAILABILITY],
      ['sluggish', LATENCY],
      ['steady', { ...AVAILABILITY, ...LATENCY }],
    ] as const
  ).map(([name, slo]) => [
    name,
    buildPrometheusRule(
      modelDeployment(
        { monitoring: { slo: { ...slo, labels: { team: 'fraud' }, runbookUrl: RUNBOOK } } },
        name,
        NS,
      ),
    )!,
  ]),
);

const ruleFile = (name: string) => `rules-${name}.yaml`;

/**
 * Samples every 2 minutes and rules evaluated every 5: three days of series
 * stay quick to evaluate, and a 5-minute range still holds two samples.
 */
const SAMPLE_MINUTES = 2;
const EVALUATION_INTERVAL = '5m';

/** A counter rising by `perMinute` a minute for `minutes`. */
const counter = (series: string, perMinute: number, minutes: number) => ({
  series,
  values: `0+${perMinute * SAMPLE_MINUTES}x${minutes / SAMPLE_MINUTES}`,
});

/** Requests of a model by status code, per minute. */
function requests(model: string, perMinute: Record<string, number>, minutes: number) {
  return Object.entries(perMinute).map(([code, n]) =>
    counter(
      `tensorfleet_runtime_requests_total{namespace="${NS}",model="${model}",version="1",protocol="tfserving",code="${code}"}`,
      n,
      minutes,
    ),
  );
}

/**
 * Request durations of a model: `fast` of `total` per minute within 1 s. The
 * bounds are written as Prometheus 3 writes them ("1.0"), so the rules'
 * matcher for whole bounds is exercised.
 */
function durations(model: string, total: number, fast: number, minutes: number) {
  const name = 'tensorfleet_runtime_request_duration_seconds';
  const sel = `namespace="${NS}",model="${model}",version="1",protocol="tfserving"`;
  return [
    counter(`${name}_bucket{${sel},le="0.5"}`, fast, minutes),
    counter(`${name}_bucket{${sel},le="1.0"}`, fast, minutes),
    counter(`${name}_bucket{${sel},le="2.5"}`, total, minutes),
    counter(`${name}_bucket{${sel},le="+Inf"}`, total, minutes),
    counter(`${name}_count{${sel}}`, total, minutes),
  ];
}

/** The alert promtool should report: labels, and annotations as Prometheus renders them. */
function expectedAlert(model: string, kind: SloKind, severity: string, burnRate: string) {
  const rule = models[model]!.spec.groups.flatMap((g) => g.rules).find(
    (r) => 'alert' in r && r.alert === ALERT_NAMES[kind] && r.labels['severity'] === severity,
  ) as { annotations: Record<string, string> };
  const render = (text: string) =>
    text
      .replaceAll('{{ $labels.namespace }}', NS)
      .replaceAll('{{ $labels.model }}', model)
      .replaceAll('{{ $value | printf "%.1f" }}', burnRate);
  return {
    exp_labels: { namespace: NS, model, slo: kind, severity, team: 'fraud' },
    exp_annotations: Object.fromEntries(
      Object.entries(rule.annotations).map(([k, v]) => [k, render(v)]),
    ),
  };
}

const THREE_DAYS = 3 * 24 * 60;

const tests = [
  {
    // 2% errors from the start: a 20x burn pages (and, over the day, tickets).
    name: 'fast burn',
    interval: `${SAMPLE_MINUTES}m`,
    input_series: requests('fast', { '200': 980, '500': 20 }, 120),
    alert_rule_test: [
      {
        eval_time: '1h',
        alertname: ALERT_NAMES.availability,
        exp_alerts: [
          expectedAlert('fast', 'availability', 'page', '20.0'),
          expectedAlert('fast', 'availability', 'ticket', '20.0'),
        ],
      },
    ],
  },
  {
    // 0.2% errors (a 2x burn, 503 and 429): a ticket over 3 days and 6 hours, never a page.
    name: 'slow burn',
    interval: `${SAMPLE_MINUTES}m`,
    input_series: requests('slow', { '200': 998, '503': 1, '429': 1 }, 24 * 60),
    alert_rule_test: [
      {
        eval_time: '1d',
        alertname: ALERT_NAMES.availability,
        exp_alerts: [expectedAlert('slow', 'availability', 'ticket', '2.0')],
      },
    ],
  },
  {
    // 10% slower than 1 s against a 1% budget: a 10x burn pages through the 6h and 30m pair.
    name: 'latency burn',
    interval: `${SAMPLE_MINUTES}m`,
    input_series: durations('sluggish', 100, 90, 7 * 60),
    alert_rule_test: [
      {
        eval_time: '6h',
        alertname: ALERT_NAMES.latency,
        exp_alerts: [
          expectedAlert('sluggish', 'latency', 'page', '10.0'),
          expectedAlert('sluggish', 'latency', 'ticket', '10.0'),
        ],
      },
    ],
  },
  {
    // 0.05% 5xx (half the budget) and 10% 4xx, which are the callers' faults;
    // 0.5% slow requests: nothing fires over three days, half the budgets are left.
    name: 'within budget',
    interval: `${SAMPLE_MINUTES}m`,
    input_series: [
      ...requests('steady', { '200': 1799, '400': 200, '500': 1 }, THREE_DAYS),
      ...durations('steady', 2000, 1990, THREE_DAYS),
    ],
    alert_rule_test: (['1h', '6h', '1d', '3d'] as const).flatMap((eval_time) => [
      { eval_time, alertname: ALERT_NAMES.availability, exp_alerts: [] },
      { eval_time, alertname: ALERT_NAMES.latency, exp_alerts: [] },
    ]),
    // Ratios of rates are exact up to floating-point rounding: compared in
    // percent (budget) and basis points (bad share), rounded.
    promql_expr_test: [
      {
        expr: `round(100 * ${RECORDED.budgetRemaining}{model="steady"})`,
        eval_time: '3d',
        exp_samples: (['availability', 'latency'] as const).map((slo) => ({
          labels: `{namespace="${NS}",model="steady",slo="${slo}"}`,
          value: 50,
        })),
      },
      {
        expr: `round(10000 * ${RECORDED.badRatio('1h')}{model="steady",slo="availability"})`,
        eval_time: '1d',
        exp_samples: [
          { labels: `{namespace="${NS}",model="steady",slo="availability"}`, value: 5 },
        ],
      },
    ],
  },
];

const testFile = (t: unknown[]) => ({
  rule_files: Object.keys(models).map(ruleFile),
  evaluation_interval: EVALUATION_INTERVAL,
  tests: t,
});

beforeAll(async () => {
  promtool = (await ensureBinaries()).binaries.promtool;
  dir = await mkdtemp(join(tmpdir(), 'tensorfleet-promtool-'));
  // A PrometheusRule's spec is a Prometheus rule file; JSON is YAML.
  for (const [name, rule] of Object.entries(models)) {
    await writeFile(join(dir, ruleFile(name)), JSON.stringify({ groups: rule.spec.groups }));
  }
  await writeFile(join(dir, 'tests.yaml'), JSON.stringify(testFile(tests)));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('promtool on the SLO rules', () => {
  it('check rules: every rule file is valid', async () => {
    const { code, output } = await promtoolRun(
      'check',
      'rules',
      ...Object.keys(models).map(ruleFile),
    );
    expect(code, output).toBe(0);
    // 7 recording rules per SLI, two alerts, objective and budget left.
    expect(output).toContain(`Checking ${ruleFile('fast')}\n  SUCCESS: 11 rules found`);
    expect(output).toContain(`Checking ${ruleFile('steady')}\n  SUCCESS: 22 rules found`);
  });

  it('test rules: fast, slow and latency burns alert as the workbook says; a budget kept fires nothing', async () => {
    const { code, output } = await promtoolRun('test', 'rules', 'tests.yaml');
    expect(output).toContain('SUCCESS');
    expect(output).not.toContain('FAILED');
    expect(code, output).toBe(0);
  }, 120_000);

  it('test rules fails when a kept budget is expected to page (the check can fail)', async () => {
    const within = tests.find((t) => t.name === 'within budget')!;
    const wrong = {
      ...within,
      promql_expr_test: [],
      alert_rule_test: [
        {
          eval_time: '1d',
          alertname: ALERT_NAMES.availability,
          exp_alerts: [expectedAlert('steady', 'availability', 'page', '0.5')],
        },
      ],
    };
    await writeFile(join(dir, 'wrong.yaml'), JSON.stringify(testFile([wrong])));
    const { code, output } = await promtoolRun('test', 'rules', 'wrong.yaml');
    expect(code).toBe(1);
    expect(output).toContain('FAILED');
    expect(output).toContain(ALERT_NAMES.availability);
  }, 120_000);
});
