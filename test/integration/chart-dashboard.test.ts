/**
 * Every PromQL expression of the chart's Grafana dashboard, evaluated by a real
 * Prometheus (the Debian package) that scrapes a real runtime serving a model
 * under load and a real operator reconciling a ModelDeployment. The runtime's
 * target carries the labels its ServiceMonitor would add (namespace, and the
 * pod's tensorfleet.dev/version and track labels).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Operator } from '../../src/operator/operator.js';
import { writeHalfPlusTwo } from '../../src/runtime/testing/models.js';
import { startProcess, waitReady, type RuntimeProcess } from '../runtime/process.js';
import { createNamespace, deleteNamespace, eventually } from './context.js';
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
interface QueryResult {
  status: string;
  error?: string;
  data: { result: { metric: Record<string, string>; value: [number, string] }[] };
}

let workDir = '';
let ns = '';
let runtime: RuntimeProcess | undefined;
let operator: Operator | undefined;
let prometheus: ChildProcess | undefined;
let prometheusUrl = '';
let loading = true;
let load: Promise<{ ok: number; bad: number }> | undefined;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

async function query(expr: string): Promise<QueryResult> {
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return (await res.json()) as QueryResult;
}

/** What Grafana sends for the dashboard's variables with one namespace and model selected. */
const substitute = (expr: string) =>
  expr
    .replaceAll('$namespace', NAMESPACE_LABEL)
    .replaceAll('$model', MODEL)
    .replaceAll('$__rate_interval', '15s');

/** Requests against the runtime until the tests end: mostly good, every tenth malformed (400). */
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
    }
  };
  await Promise.all([0, 1, 2, 3].map(worker));
  return counts;
}

beforeAll(async () => {
  const found = spawnSync('prometheus', ['--version'], { encoding: 'utf8' });
  if (found.status !== 0) {
    throw new Error('prometheus is not on PATH: apt-get install prometheus (.ci/run does)');
  }
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
  ]);
  await waitReady(runtime.port);

  ns = await createNamespace('dashboard');
  operator = await startOperator(ns);
  await apply(ns, modelDeploymentManifest('dashboard', { runtime: { backend: 'wasm' } }));
  await waitForCondition(ns, 'dashboard', 'Ready', 'True');

  const port = await freePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  const config = `
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: runtime
    static_configs:
      - targets: ['127.0.0.1:${runtime.port}']
        labels: {namespace: ${NAMESPACE_LABEL}, tensorfleet_dev_version: '1', tensorfleet_dev_track: stable}
  - job_name: operator
    static_configs:
      - targets: ['127.0.0.1:${operator.httpPort}']
`;
  await writeFile(join(workDir, 'prometheus.yml'), config);
  prometheus = spawn(
    'prometheus',
    [
      `--config.file=${join(workDir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(workDir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  prometheus.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  load = generateLoad(runtime.port);
  // Enough samples for rate() over 15 s windows on both targets.
  await eventually(
    'Prometheus to scrape both targets for 10 s',
    async () => {
      if (prometheus?.exitCode !== null) throw new Error(`prometheus exited:\n${log}`);
      const r = await query('min(count_over_time(up[1m])) >= 10 and min(up) == 1');
      return r.data.result.length > 0 ? true : undefined;
    },
    60_000,
  );
}, 180_000);

afterAll(async () => {
  loading = false;
  await load?.catch(() => undefined);
  prometheus?.kill('SIGTERM');
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
    // Desired replicas come from kube-state-metrics, which this test does not run.
    expect(empty).toEqual(exprs.map((e) => e.expr).filter((e) => e.includes('kube_deployment_')));
    expect(empty).toHaveLength(1);
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
    expect(
      await value(
        'sum(controller_runtime_reconcile_total{controller="modeldeployment", result="success"})',
      ),
    ).toBeGreaterThan(0);
  });

  it('the template variables find the namespace and model', async () => {
    const r = await query('group by (namespace, model) (tensorfleet_runtime_ready)');
    expect(r.data.result.map((s) => s.metric)).toEqual([
      { namespace: NAMESPACE_LABEL, model: MODEL },
    ]);
  });
});
