// The operator benchmark: N ModelDeployments on the local control plane with
// kwok nodes, against the same N Deployments created directly (the physical
// limit: the API server, controller manager, scheduler and kwok alone).
//
//   npm run bench -- --only operator           # 500 models, about 5 minutes
//   BENCH_MODELS=50 npm run bench -- --only operator
//
// Environment: BENCH_MODELS (500), BENCH_IDLE_SECONDS (60),
// BENCH_SERVICE_MONITOR_CRD (1: install the Prometheus Operator's CRD, so each
// model also gets a ServiceMonitor; 0: without), BENCH_KEEP (1: keep the run
// directory with every component's log), BENCH_OPERATOR_REF (a commit: bench
// its operator instead of the working tree's).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { KubeConfig } from '@kubernetes/client-node';

import {
  ensureBinaries,
  startControlPlane,
  type ControlPlane,
} from '../../src/localcluster/index.js';
import { KubeClient } from '../../src/operator/kube/client.js';
import { RESOURCES, type KubeObject, type ResourceRef } from '../../src/operator/kube/types.js';
import { benchNodes, directDeployment, modelDeployment, modelName } from './objects.js';
import {
  buildOperator,
  diffCounts,
  startOperator,
  sumOf,
  totalOf,
  writeCounts,
  type OperatorProcess,
  type Sample,
  type WriteCounts,
} from './operator-process.js';
import { deploymentReady, modelDeploymentReady, ReadinessTracker } from './readiness.js';

const MODELDEPLOYMENT_CRD = fileURLToPath(
  new URL('../../crds/tensorfleet.dev_modeldeployments.yaml', import.meta.url),
);
const NAMESPACE: ResourceRef = {
  apiVersion: 'v1',
  kind: 'Namespace',
  plural: 'namespaces',
  namespaced: false,
};
/** Objects created at once by the bench client (kubectl apply would send one at a time). */
const CREATE_CONCURRENCY = 8;
const MiB = 1024 * 1024;

export const TARGETS = { ratio: 1.5, writesPerModel: 6, idleWrites: 0, peakRssMiB: 200 };

export interface OperatorBenchOptions {
  models?: number;
  idleSeconds?: number;
  serviceMonitorCRD?: boolean;
  keep?: boolean;
  /** Benchmark this commit's operator instead of the working tree's. */
  operatorRef?: string;
  log?: (line: string) => void;
}

export interface PhaseTiming {
  /** Seconds from the first create to the last create answered. */
  createdSeconds: number;
  /** Seconds from the first create until half, 90 % and all of them were ready. */
  p50Seconds: number;
  p90Seconds: number;
  allSeconds: number;
  /** MODIFIED watch events of the created objects until all were ready. */
  modifications: number;
}

export interface OperatorBenchReport {
  /** What was compiled: the working tree or a commit. */
  operatorSource: string;
  models: number;
  nodes: number;
  serviceMonitorCRD: boolean;
  workers: number;
  direct: PhaseTiming;
  operator: PhaseTiming;
  /** Writes from the first create until every ModelDeployment was Ready and the queue settled. */
  rolloutWrites: WriteCounts;
  /** Writes counted when the last ModelDeployment turned Ready (status writes may trail). */
  writesAtAllReady: number;
  reconciles: number;
  idleSeconds: number;
  idleWrites: WriteCounts;
  idleReconciles: number;
  peakRssBytes: number;
  rssBytesAtEnd: number;
  operatorCpuSeconds: number;
  operatorWarnings: number;
  operatorWarningSamples: string[];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => Math.round(ms / 100) / 10;

async function pool<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await run(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function kubectlOk(plane: ControlPlane, args: string[]): Promise<void> {
  const result = await plane.kubectl(args, { timeoutMs: 120_000 });
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')}:\n${result.stderr}`);
}

/** A namespace whose `default` ServiceAccount exists (pods are refused until it does). */
async function freshNamespace(client: KubeClient, name: string): Promise<void> {
  await client.create(NAMESPACE, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const found = await client
      .request('GET', `/api/v1/namespaces/${name}/serviceaccounts/default`)
      .then(
        () => true,
        () => false,
      );
    if (found) return;
    if (Date.now() > deadline) throw new Error(`no default ServiceAccount in ${name}`);
    await sleep(200);
  }
}

/** Creates `objects`, waits until all are ready, returns the timings. */
async function phase(
  label: string,
  client: KubeClient,
  resource: ResourceRef,
  objects: KubeObject[],
  isReady: (object: KubeObject) => boolean,
  timeoutMs: number,
  log: (line: string) => void,
): Promise<PhaseTiming> {
  const namespace = objects[0]?.metadata.namespace ?? '';
  const tracker = new ReadinessTracker({
    client,
    resource,
    namespace,
    expected: new Set(objects.map((o) => o.metadata.name)),
    isReady,
  });
  tracker.start();
  try {
    const started = Date.now();
    await pool(objects, CREATE_CONCURRENCY, async (object) => {
      await client.create(resource, object);
    });
    const created = Date.now();
    log(
      `${label}: ${objects.length} ${resource.plural} created in ${seconds(created - started)} s`,
    );
    let step = 0;
    await tracker.waitAll(timeoutMs, (ready) => {
      const tenth = Math.floor((ready * 10) / objects.length);
      if (tenth > step) {
        step = tenth;
        log(`${label}: ${ready}/${objects.length} ready after ${seconds(Date.now() - started)} s`);
      }
    });
    const times = [...tracker.readyAt.values()].map((t) => t - started).sort((a, b) => a - b);
    const at = (q: number) => times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)]!;
    return {
      createdSeconds: seconds(created - started),
      p50Seconds: seconds(at(0.5)),
      p90Seconds: seconds(at(0.9)),
      allSeconds: seconds(at(1)),
      modifications: tracker.modifications,
    };
  } finally {
    await tracker.stop();
  }
}

/** Polls the operator until its write counter and queue stay still for `quietMs`. */
async function settle(
  operator: OperatorProcess,
  quietMs: number,
  maxMs: number,
): Promise<Sample[]> {
  const deadline = Date.now() + maxMs;
  let samples = await operator.metrics();
  let last = totalOf(writeCounts(samples));
  let stillSince = Date.now();
  while (Date.now() < deadline) {
    await sleep(1000);
    samples = await operator.metrics();
    const total = totalOf(writeCounts(samples));
    const busy =
      sumOf(samples, 'workqueue_depth') > 0 ||
      sumOf(samples, 'controller_runtime_active_workers') > 0;
    if (total !== last || busy) {
      last = total;
      stillSince = Date.now();
    } else if (Date.now() - stillSince >= quietMs) {
      break;
    }
  }
  return samples;
}

export async function runOperatorBench(o: OperatorBenchOptions = {}): Promise<OperatorBenchReport> {
  const models = o.models ?? 500;
  const idleSeconds = o.idleSeconds ?? 60;
  const serviceMonitorCRD = o.serviceMonitorCRD ?? true;
  const log = o.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const timeoutMs = 120_000 + models * 600;

  let began = Date.now();
  const { mainJs, source } = await buildOperator(o.operatorRef);
  log(`operator: ${source} compiled in ${seconds(Date.now() - began)} s`);

  const manifest = await ensureBinaries({ log });
  const dir = await mkdtemp(join(tmpdir(), 'tensorfleet-bench-operator-'));
  // The direct path's pods stay while the operator's run: room for both.
  const nodes = benchNodes(models * 2);
  began = Date.now();
  const plane = await startControlPlane({
    dir,
    manifest,
    nodes,
    components: { controllerManager: true, scheduler: true, kwok: true },
  });
  log(`control plane with ${nodes.length} kwok nodes ready in ${seconds(Date.now() - began)} s`);
  let operator: OperatorProcess | undefined;
  const kc = new KubeConfig();
  kc.loadFromFile(plane.kubeconfigPath);
  const client = new KubeClient(kc, { userAgent: 'tensorfleet-bench' });
  let failed = true;
  try {
    const crds = [MODELDEPLOYMENT_CRD];
    const sm = manifest.crds['servicemonitors.monitoring.coreos.com'];
    if (serviceMonitorCRD && sm !== undefined) crds.push(sm);
    await kubectlOk(plane, ['apply', '--server-side', ...crds.flatMap((f) => ['-f', f])]);
    await kubectlOk(plane, [
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd/modeldeployments.tensorfleet.dev',
      ...(crds.length > 1 ? ['crd/servicemonitors.monitoring.coreos.com'] : []),
    ]);

    // (a) The direct path.
    await freshNamespace(client, 'bench-direct');
    const names = Array.from({ length: models }, (_, i) => modelName(i));
    const direct = await phase(
      'direct',
      client,
      RESOURCES.deployment,
      names.map((name) => directDeployment(name, 'bench-direct')),
      deploymentReady,
      timeoutMs,
      log,
    );

    // (b) The operator path.
    began = Date.now();
    operator = await startOperator({ mainJs, kubeconfigPath: plane.kubeconfigPath, logDir: dir });
    log(`operator: pid ${operator.pid}, ready in ${seconds(Date.now() - began)} s`);
    await freshNamespace(client, 'bench-operator');
    const before = await operator.metrics();
    const viaOperator = await phase(
      'operator',
      client,
      RESOURCES.modelDeployment,
      names.map((name) => modelDeployment(name, 'bench-operator')),
      modelDeploymentReady,
      timeoutMs,
      log,
    );
    const atReady = await operator.metrics();
    const settled = await settle(operator, 5000, 60_000);
    const rolloutWrites = diffCounts(writeCounts(settled), writeCounts(before));
    const reconciles = (s: Sample[]) => sumOf(s, 'controller_runtime_reconcile_total');
    log(
      `operator: ${totalOf(rolloutWrites)} writes (${(totalOf(rolloutWrites) / models).toFixed(2)} per model); idle for ${idleSeconds} s`,
    );

    await sleep(idleSeconds * 1000);
    const idle = await operator.metrics();
    const memory = await operator.memory();
    const report: OperatorBenchReport = {
      operatorSource: source,
      models,
      nodes: nodes.length,
      serviceMonitorCRD: crds.length > 1,
      workers: sumOf(idle, 'controller_runtime_max_concurrent_reconciles'),
      direct,
      operator: viaOperator,
      rolloutWrites,
      writesAtAllReady: totalOf(diffCounts(writeCounts(atReady), writeCounts(before))),
      reconciles: reconciles(settled) - reconciles(before),
      idleSeconds,
      idleWrites: diffCounts(writeCounts(idle), writeCounts(settled)),
      idleReconciles: reconciles(idle) - reconciles(settled),
      peakRssBytes: memory.peakRssBytes,
      rssBytesAtEnd: memory.rssBytes,
      operatorCpuSeconds: sumOf(idle, 'process_cpu_seconds_total'),
      operatorWarnings: operator.warnings.count,
      operatorWarningSamples: operator.warnings.first,
    };
    failed = false;
    return report;
  } finally {
    client.close();
    await operator?.stop();
    await plane.stop();
    if (o.keep === true || failed) log(`run directory kept: ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }
}

const mark = (ok: boolean) => (ok ? 'met' : '**missed**');

/** The report as Markdown tables. */
export function summarize(r: OperatorBenchReport): string {
  const ratio = r.operator.allSeconds / r.direct.allSeconds;
  const writes = totalOf(r.rolloutWrites);
  const perModel = writes / r.models;
  const idle = totalOf(r.idleWrites);
  const peakMiB = r.peakRssBytes / MiB;
  // ModelDeployments are never edited here, so each MODIFIED event is one status change.
  const statusWrites = r.rolloutWrites['PATCH modeldeployments/status'] ?? 0;
  const noop = Math.max(0, statusWrites - r.operator.modifications);
  const rows: string[][] = [
    ['Measure', 'Result', 'Target', ''],
    [
      `Direct: ${r.models} Deployments created -> all Available`,
      `${r.direct.allSeconds} s (p50 ${r.direct.p50Seconds} s, p90 ${r.direct.p90Seconds} s)`,
      '',
      '',
    ],
    [
      `Operator: ${r.models} ModelDeployments created -> all Ready=True`,
      `${r.operator.allSeconds} s (p50 ${r.operator.p50Seconds} s, p90 ${r.operator.p90Seconds} s)`,
      '',
      '',
    ],
    [
      'Ratio operator / direct',
      ratio.toFixed(2),
      `<= ${TARGETS.ratio}`,
      mark(ratio <= TARGETS.ratio),
    ],
    [
      'API writes per ModelDeployment',
      `${perModel.toFixed(2)} (${writes} in all; ${r.writesAtAllReady} by the last Ready)`,
      `<= ${TARGETS.writesPerModel}`,
      mark(perModel <= TARGETS.writesPerModel),
    ],
    [
      'Status writes that changed nothing',
      `${noop} of ${statusWrites} (status changes seen by a watch: ${r.operator.modifications})`,
      '',
      '',
    ],
    [
      `API writes over ${r.idleSeconds} s idle`,
      String(idle),
      '0',
      mark(idle <= TARGETS.idleWrites),
    ],
    [
      'Operator peak RSS (VmHWM)',
      `${peakMiB.toFixed(0)} MiB (${(r.rssBytesAtEnd / MiB).toFixed(0)} MiB at the end)`,
      `<= ${TARGETS.peakRssMiB} MiB`,
      mark(peakMiB <= TARGETS.peakRssMiB),
    ],
    ['Operator CPU time, whole run', `${r.operatorCpuSeconds.toFixed(1)} s`, '', ''],
    [
      'Reconciles (rollout / idle)',
      `${r.reconciles} (${(r.reconciles / r.models).toFixed(2)} per model) / ${r.idleReconciles}`,
      '',
      '',
    ],
  ];
  const breakdown: string[][] = [
    ['Write', 'Count', 'Per ModelDeployment'],
    ...Object.entries(r.rolloutWrites)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, n]) => [key, String(n), (n / r.models).toFixed(2)]),
  ];
  const setup =
    `${r.models} CPU-only ModelDeployments (1 replica each) on ${r.nodes} kwok nodes; ` +
    `operator (${r.operatorSource}) with ${r.workers} workers, ServiceMonitor CRD ${r.serviceMonitorCRD ? 'installed' : 'absent'}; ` +
    `objects created ${CREATE_CONCURRENCY} at a time (direct: ${r.direct.createdSeconds} s, ` +
    `operator: ${r.operator.createdSeconds} s).`;
  const warnings =
    r.operatorWarnings > 0
      ? `\n\nThe operator logged ${r.operatorWarnings} warnings or errors, first:\n\n${r.operatorWarningSamples.map((l) => `    ${l}`).join('\n')}`
      : '';
  return `${setup}\n\n${table(rows)}\n\n${table(breakdown)}${warnings}\n`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(3, ...rows.map((row) => row[c]!.length)));
  const line = (row: string[]) =>
    `| ${row.map((cell, c) => cell.padEnd(widths[c]!)).join(' | ')} |`;
  return [
    line(rows[0]!),
    `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...rows.slice(1).map(line),
  ].join('\n');
}

/** Options from the environment (BENCH_MODELS and friends). */
export function optionsFromEnv(env: NodeJS.ProcessEnv): OperatorBenchOptions {
  const int = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name}=${raw}: expected an integer`);
    return n;
  };
  return {
    models: Math.max(1, int('BENCH_MODELS', 500)),
    idleSeconds: int('BENCH_IDLE_SECONDS', 60),
    serviceMonitorCRD: env.BENCH_SERVICE_MONITOR_CRD !== '0',
    keep: env.BENCH_KEEP === '1',
    ...(env.BENCH_OPERATOR_REF ? { operatorRef: env.BENCH_OPERATOR_REF } : {}),
  };
}
