/**
 * Every PromQL expression of the chart's Grafana dashboard, evaluated by a real
 * Prometheus (the Debian package) that scrapes a real runtime serving a model
 * under load and a real operator reconciling a ModelDeployment. The runtime's
 * target carries the labels its ServiceMonitor would add (namespace, and the
 * pod's tensorfleet.dev/version and track labels). The runtime tracks model
 * quality and gets feedback (a regression model: every label 0.5 off).
 * Prometheus evaluates the SLO rules the operator would write for the model,
 * which the SLO panels read.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Operator } from '../../src/operator/operator.js';
import { RECORDED, buildPrometheusRule } from '../../src/operator/builders/prometheus-rule.js';
import { modelDeployment } from '../operator/fixtures.js';
import { writeHalfPlusTwo } from '../support/models.js';
import { startProcess, waitReady, type RuntimeProcess } from '../runtime/process.js';
import { createNamespace, deleteNamespace } from './context.js';
import {
  startPrometheus,
  type PrometheusServer,
  type QueryResult,
} from '../../src/localcluster/prometheus.js';
import {
  apply,
  modelDeploymentManifest,
  startOperator,
  waitForCondition,
} from './operator-support.js';

const DASHBOARD = fileURLToPath(
  new URL('../../charts/tensorfleet/dashboards/tensorfleet.json', import.meta.url),
);
const MODEL = 'half_plus_two';
const NAMESPACE_LABEL = 'ml';

interface Panel {
  title: string;
  targets?: { expr: string }[];
}

let workDir = '';
let ns = '';
let runtime: RuntimeProcess | undefined;
let operator: Operator | undefined;
let prometheus: PrometheusServer | undefined;
let loading = true;
let load: Promise<{ ok: number; bad: number }> | undefined;

const query = (expr: string): Promise<QueryResult> => prometheus!.query(expr);

/** What Grafana sends for the dashboard's variables with one namespace and model selected. */
const substitute = (expr: string) =>
  expr
    .replaceAll('$namespace', NAMESPACE_LABEL)
    .replaceAll('$model', MODEL)
    .replaceAll('$__rate_interval', '15s');

/**
 * The model's SLO rules, evaluated every second like the rest: the budget
 * group's own interval (5 minutes) would outlast the test.
 */
const sloRuleGroups = () =>
  buildPrometheusRule(
    modelDeployment(
      {
        monitoring: {
          slo: {
            availability: { objective: 99.9 },
            // A whole bucket bound: Prometheus 3 stores it as le="1.0".
            latency: { thresholdSeconds: 1, objective: 99 },
          },
        },
      },
      MODEL,
      NAMESPACE_LABEL,
    ),
  )!.spec.groups.map(({ interval: _interval, ...group }) => group);

/** Absolute error of every feedback the load sends. */
const FEEDBACK_ERROR = 0.5;

/**
 * Requests against the runtime until the tests end: mostly good, every tenth
 * malformed (400); each good one followed by feedback FEEDBACK_ERROR off.
 */
async function generateLoad(port: number): Promise<{ ok: number; bad: number }> {
  const counts = { ok: 0, bad: 0 };
  const url = `http://127.0.0.1:${port}/v1/models/${MODEL}:predict`;
  const worker = async (id: number) => {
    for (let i = 0; loading; i++) {
      const bad = (i + id) % 10 === 0;
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: bad ? '{"instances": "nope"}' : JSON.stringify({ instances: [i, i + 1, i + 2] }),
      });
      await res.arrayBuffer();
      if (res.status === 200) counts.ok++;
      else if (res.status >= 400 && res.status < 500) counts.bad++;
      if (!bad) {
        const feedback = await fetch(`http://127.0.0.1:${port}/v1/models/${MODEL}:feedback`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ prediction: [i], label: [i + FEEDBACK_ERROR] }),
        });
        await feedback.arrayBuffer();
      }
    }
  };
  await Promise.all([0, 1, 2, 3].map(worker));
  return counts;
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'tensorfleet-dashboard-'));
  const modelPath = await writeHalfPlusTwo(join(workDir, 'model'));
  runtime = await startProcess([
    '--model-name',
    MODEL,
    '--model-uri',
    modelPath,
    '--model-version',
    '1',
    '--backend',
    'cpu',
    '--quality-tracking',
  ]);
  await waitReady(runtime.port);

  ns = await createNamespace('dashboard');
  operator = await startOperator(ns);
  await apply(ns, modelDeploymentManifest('dashboard', { runtime: { backend: 'wasm' } }));
  await waitForCondition(ns, 'dashboard', 'Ready', 'True');

  load = generateLoad(runtime.port);
  // Enough samples for rate() over 15 s windows on both targets.
  prometheus = await startPrometheus(
    [
      {
        job: 'runtime',
        port: runtime.port,
        labels: {
          namespace: NAMESPACE_LABEL,
          tensorfleet_dev_version: '1',
          tensorfleet_dev_track: 'stable',
        },
      },
      { job: 'operator', port: operator.httpPort },
    ],
    10,
    '1s',
    sloRuleGroups(),
  );
}, 180_000);

afterAll(async () => {
  loading = false;
  await load?.catch(() => undefined);
  await prometheus?.stop();
  runtime?.child.kill('SIGTERM');
  await runtime?.exited;
  await operator?.stop();
  if (ns) await deleteNamespace(ns);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('dashboard PromQL on a real Prometheus', () => {
  it('every expression returns data (kube-state-metrics series aside)', async () => {
    const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as { panels: Panel[] };
    const exprs = dashboard.panels.flatMap((p) =>
      (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })),
    );
    expect(exprs.length).toBeGreaterThan(20);
    const empty: string[] = [];
    for (const { panel, expr } of exprs) {
      const result = await query(substitute(expr));
      expect(result.status, `${panel}: ${expr}: ${result.error ?? ''}`).toBe('success');
      if (result.data.result.length === 0) empty.push(expr);
    }
    // Desired replicas come from kube-state-metrics, which this test does not
    // run; a regression model counts no correct predictions (no accuracy).
    expect(empty).toEqual(
      exprs
        .map((e) => e.expr)
        .filter((e) => e.includes('kube_deployment_') || e.includes('correct_total')),
    );
    expect(empty).toHaveLength(2);
  });

  it('the numbers mean what the panels say', async () => {
    const value = async (expr: string) => {
      const r = await query(substitute(expr));
      expect(r.data.result.length, expr).toBeGreaterThan(0);
      return Number(r.data.result[0]!.value[1]);
    };
    const rps = await value(
      'sum(rate(tensorfleet_runtime_requests_total{namespace=~"$namespace", model=~"$model"}[$__rate_interval]))',
    );
    expect(rps).toBeGreaterThan(1);
    // Every tenth request is malformed: the 4xx ratio is about 0.1.
    const errorRatio = await value(
      '(sum(rate(tensorfleet_runtime_requests_total{namespace=~"$namespace", model=~"$model", code=~"[45].."}[$__rate_interval])) or vector(0)) / clamp_min(sum(rate(tensorfleet_runtime_requests_total{namespace=~"$namespace", model=~"$model"}[$__rate_interval])), 1e-9)',
    );
    expect(errorRatio).toBeGreaterThan(0.03);
    expect(errorRatio).toBeLessThan(0.3);
    expect(
      await value('sum(tensorfleet_runtime_ready{namespace=~"$namespace", model=~"$model"})'),
    ).toBe(1);
    const mae = await value(
      'sum by (model, tensorfleet_dev_version) (rate(tensorfleet_model_absolute_error_sum{namespace=~"$namespace", model=~"$model"}[$__rate_interval])) / (sum by (model, tensorfleet_dev_version) (rate(tensorfleet_model_absolute_error_count{namespace=~"$namespace", model=~"$model"}[$__rate_interval])) > 0)',
    );
    expect(mae).toBeCloseTo(FEEDBACK_ERROR, 6);
    expect(
      await value(
        'sum(controller_runtime_reconcile_total{controller="modeldeployment", result="success"})',
      ),
    ).toBeGreaterThan(0);
    // SLOs: the malformed requests are the callers' faults (4xx), so the
    // model is fully available, keeps all its budget, and answers within 1 s.
    const slo = (name: string, kind: string) =>
      value(`${name}{namespace="$namespace", model="$model", slo="${kind}"}`);
    expect(await slo(RECORDED.badRatio('5m'), 'availability')).toBe(0);
    expect(await slo(RECORDED.budgetRemaining, 'availability')).toBe(1);
    expect(await slo(RECORDED.objective, 'availability')).toBe(0.999);
    expect(await slo(RECORDED.badRatio('5m'), 'latency')).toBeLessThan(0.01);
  });

  it('the template variables find the namespace and model', async () => {
    const r = await query('group by (namespace, model) (tensorfleet_runtime_ready)');
    expect(r.data.result.map((s) => s.metric)).toEqual([
      { namespace: NAMESPACE_LABEL, model: MODEL },
    ]);
  });
});
