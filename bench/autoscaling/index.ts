// The builtin autoscaler under five minutes of noisy load. A real runtime
// (100 ms per request, so in-flight requests follow the load's concurrency)
// is scraped by a real Prometheus every 5 s; the operator, in this process,
// evaluates every 15 s (its default) and scales a ModelDeployment on the local
// control plane. The load's concurrency jumps every 3 s by up to +-40% around
// a level that steps 8 -> 20 -> 6 (target 4 in flight per replica).
//
// Side by side on the same signal, polled from Prometheus at the same 15 s
// ticks: a naive autoscaler (ceil(signal / target), no tolerance, no windows),
// the behaviour users of plain threshold scripts get.
//
//   npm run bench -- --only autoscaling        # about 6 minutes
//   BENCH_AUTOSCALING_SECONDS=120 npm run bench -- --only autoscaling
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { KubeConfig } from '@kubernetes/client-node';

import {
  ensureBinaries,
  startControlPlane,
  startPrometheus,
} from '../../src/localcluster/index.js';
import { signalQuery } from '../../src/operator/builders/scaled-object.js';
import { DEFAULT_CONFIG } from '../../src/operator/config.js';
import type { Logger } from '../../src/operator/logger.js';
import { silentLogger } from '../../src/operator/logger.js';
import { queryVectorSum } from '../../src/operator/metrics-source/prometheus.js';
import { Operator } from '../../src/operator/operator.js';
import type { ModelDeploymentObject } from '../../src/operator/kube/types.js';
import { writeHalfPlusTwo } from '../../test/support/models.js';
import { startRuntime } from '../runtime/served.js';

const CRD = fileURLToPath(
  new URL('../../crds/tensorfleet.dev_modeldeployments.yaml', import.meta.url),
);
const NAME = 'bench';
const NS = 'autoscaling-bench';
const TARGET = 4;
const MAX_REPLICAS = 10;
const SCALE_DOWN_WINDOW_S = 60;
const INTERVAL_MS = 15_000;

export interface Decision {
  atSeconds: number;
  from: number;
  to: number;
}

export interface AutoscalingBenchReport {
  seconds: number;
  builtin: { decisions: Decision[]; flaps: number };
  naive: { decisions: Decision[]; flaps: number };
  /** Seconds from the load stepping up (8 -> 20) to the first replicas increase. */
  scaleUpReactionSeconds?: number;
  signalSamples: number;
}

/** A decision reversing the previous one's direction within the scale-down window. */
export function countFlaps(decisions: Decision[], windowSeconds: number): number {
  let flaps = 0;
  for (let i = 1; i < decisions.length; i++) {
    const a = decisions[i - 1]!;
    const b = decisions[i]!;
    const reversed = Math.sign(a.to - a.from) !== Math.sign(b.to - b.from);
    if (reversed && b.atSeconds - a.atSeconds < windowSeconds) flaps++;
  }
  return flaps;
}

/** The load level (concurrency) at second t of the run. */
function level(t: number, total: number): number {
  if (t < total / 3) return 8;
  if (t < (2 * total) / 3) return 20;
  return 6;
}

export async function runAutoscalingBench(
  opts: { seconds?: number; log?: (line: string) => void } = {},
): Promise<AutoscalingBenchReport> {
  const total = opts.seconds ?? 300;
  const log = opts.log ?? (() => {});
  const dir = await mkdtemp(join(tmpdir(), 'tensorfleet-bench-autoscaling-'));
  const manifest = await ensureBinaries({ log });
  const plane = await startControlPlane({
    dir: join(dir, 'cluster'),
    manifest,
    components: { controllerManager: true, scheduler: true, kwok: true },
  });
  const stops: (() => Promise<void>)[] = [() => plane.stop()];
  try {
    const kubectl = async (args: string[], input?: string) => {
      const r = await plane.kubectl(args, { timeoutMs: 60_000, ...(input ? { input } : {}) });
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    await kubectl(['apply', '--server-side', '-f', CRD]);
    await kubectl(['wait', '--for=condition=Established', 'crd/modeldeployments.tensorfleet.dev']);
    await kubectl(['create', 'namespace', NS]);

    const runtime = await startRuntime(await writeHalfPlusTwo(join(dir, 'model')), 'cpu', [
      '--inject-latency-ms',
      '100',
      '--model-version',
      '1',
    ]);
    stops.unshift(() => runtime.stop());
    const prometheus = await startPrometheus(
      [{ job: 'runtime', port: runtime.port, labels: { namespace: NS } }],
      2,
      '5s',
    );
    stops.unshift(() => prometheus.stop());

    const decisions: Decision[] = [];
    let began = Date.now();
    const since = () => (Date.now() - began) / 1000;
    const capture: Logger = {
      ...silentLogger,
      info: (msg, fields) => {
        if (msg === 'scaled') {
          decisions.push({
            atSeconds: since(),
            from: Number(fields?.['from']),
            to: Number(fields?.['to']),
          });
        }
      },
      child: () => capture,
    };
    const kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfigPath);
    const operator = new Operator({
      config: {
        ...DEFAULT_CONFIG,
        watchNamespaces: [NS],
        httpAddress: '127.0.0.1:0',
        prometheusUrl: prometheus.url,
      },
      kubeConfig: kc,
      logger: capture,
      defaultMetrics: false,
      scrapePods: false,
    });
    await operator.start();
    stops.unshift(() => operator.stop());

    const md = {
      apiVersion: 'tensorfleet.dev/v1alpha1',
      kind: 'ModelDeployment',
      metadata: { name: NAME, namespace: NS },
      spec: {
        model: { uri: 's3://models/bench/1/', version: '1' },
        replicas: 2,
        resources: { requests: { cpu: '100m', memory: '128Mi' } },
        autoscaling: {
          engine: 'builtin',
          minReplicas: 1,
          maxReplicas: MAX_REPLICAS,
          metric: { type: 'concurrency', target: TARGET },
          behavior: { scaleDown: { stabilizationWindowSeconds: SCALE_DOWN_WINDOW_S } },
        },
      },
    };
    await kubectl(['apply', '-f', '-'], JSON.stringify(md));

    // Load: `concurrency` workers busy, the others idle.
    let concurrency = 0;
    let running = true;
    let sent = 0;
    const worker = async (id: number) => {
      while (running) {
        if (id >= concurrency) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        const res = await fetch(`http://127.0.0.1:${runtime.port}/v1/models/${NAME}:predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"instances": [1.0]}',
        }).catch(() => undefined);
        await res?.arrayBuffer();
        sent++;
      }
    };
    const workers = Array.from({ length: 40 }, (_, i) => worker(i));

    // The naive autoscaler's view: the same query, at the same cadence.
    const query = signalQuery(md as unknown as ModelDeploymentObject, {
      type: 'concurrency',
      target: TARGET,
    });
    const naive: Decision[] = [];
    let naiveReplicas = 2;
    let samples = 0;
    let stepUpAt: number | undefined;
    began = Date.now();
    log(`autoscaling bench: ${total} s of noisy load`);
    let nextTick = INTERVAL_MS;
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    while (since() < total) {
      const t = since();
      const base = level(t, total);
      if (base === 20 && stepUpAt === undefined) stepUpAt = t;
      concurrency = Math.max(1, Math.round(base * (0.6 + 0.8 * random())));
      if (t * 1000 >= nextTick) {
        nextTick += INTERVAL_MS;
        const signal = await queryVectorSum(prometheus.url, query).catch(() => undefined);
        if (signal !== undefined) {
          samples++;
          const want = Math.min(MAX_REPLICAS, Math.max(1, Math.ceil(signal / TARGET)));
          if (want !== naiveReplicas) {
            naive.push({ atSeconds: t, from: naiveReplicas, to: want });
            naiveReplicas = want;
          }
        }
      }
      await new Promise((r) => setTimeout(r, 3000));
    }
    running = false;
    await Promise.all(workers);
    log(`autoscaling bench: ${sent} requests sent`);

    const firstUp = decisions.find(
      (d) => stepUpAt !== undefined && d.atSeconds >= stepUpAt && d.to > d.from,
    );
    return {
      seconds: total,
      builtin: { decisions, flaps: countFlaps(decisions, SCALE_DOWN_WINDOW_S) },
      naive: { decisions: naive, flaps: countFlaps(naive, SCALE_DOWN_WINDOW_S) },
      ...(firstUp && stepUpAt !== undefined
        ? { scaleUpReactionSeconds: Math.round((firstUp.atSeconds - stepUpAt) * 10) / 10 }
        : {}),
      signalSamples: samples,
    };
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

export function summarize(r: AutoscalingBenchReport): string {
  const list = (ds: Decision[]) =>
    ds.map((d) => `${Math.round(d.atSeconds)}s ${d.from}->${d.to}`).join(', ') || 'none';
  return [
    `${r.seconds} s of noisy load (concurrency +-40% every 3 s around 8, then 20, then 6; target ${TARGET} in flight per replica; operator every 15 s, Prometheus scrape 5 s, scale-down window ${SCALE_DOWN_WINDOW_S} s).`,
    '',
    '| autoscaler | decisions | flaps (reversal within the window) |',
    '| --- | --- | --- |',
    `| builtin (HPA algorithm) | ${r.builtin.decisions.length} | ${r.builtin.flaps} |`,
    `| naive ceil(signal/target), same signal | ${r.naive.decisions.length} | ${r.naive.flaps} |`,
    '',
    `Scale-up reaction (load 8 -> 20 until replicas raised): ${r.scaleUpReactionSeconds ?? 'n/a'} s. Target: 0 flaps.`,
    '',
    `builtin: ${list(r.builtin.decisions)}`,
    '',
    `naive: ${list(r.naive.decisions)}`,
    '',
  ].join('\n');
}
