/**
 * The builtin autoscaler end to end: real load against a real runtime
 * process, scraped by a real Prometheus, read by the operator, which scales
 * the ModelDeployment on the real API server. The runtime takes 100 ms per
 * request (--inject-latency-ms, a slow model), so its in-flight gauge (the
 * `concurrency` signal) follows the load generator's concurrency.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startPrometheus, type PrometheusServer } from '../../src/localcluster/prometheus.js';
import type { Operator } from '../../src/operator/operator.js';
import { writeHalfPlusTwo } from '../support/models.js';
import { startProcess, waitReady, type RuntimeProcess } from '../runtime/process.js';
import { createNamespace, deleteNamespace, eventually } from './context.js';
import {
  apply,
  getJson,
  modelDeploymentManifest,
  startOperator,
  waitForCondition,
  type ModelDeploymentJson,
} from './operator-support.js';

const NAME = 'scaled';
const SCALE_DOWN_WINDOW_S = 5;
let ns = '';
let workDir = '';
let runtime: RuntimeProcess | undefined;
let prometheus: PrometheusServer | undefined;
let operator: Operator | undefined;

/** Closed-loop load: `concurrency` requests in flight until `stop()`. */
function startLoad(port: number, concurrency: number) {
  let running = true;
  let sent = 0;
  const worker = async () => {
    while (running) {
      const res = await fetch(`http://127.0.0.1:${port}/v1/models/${NAME}:predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"instances": [1.0, 2.0, 5.0]}',
      });
      await res.arrayBuffer();
      sent++;
    }
  };
  const done = Promise.all(Array.from({ length: concurrency }, worker));
  return {
    stop: async () => {
      running = false;
      await done;
      return sent;
    },
  };
}

const replicas = async () => (await getJson<ModelDeploymentJson>(ns, 'md', NAME))?.spec.replicas;

beforeAll(async () => {
  ns = await createNamespace('autoscale-load');
  workDir = await mkdtemp(join(tmpdir(), 'tensorfleet-autoscale-'));
  runtime = await startProcess([
    '--model-name',
    NAME,
    '--model-uri',
    await writeHalfPlusTwo(join(workDir, 'model')),
    '--model-version',
    '1',
    '--backend',
    'cpu',
    '--inject-latency-ms',
    '100',
  ]);
  await waitReady(runtime.port);
  prometheus = await startPrometheus([
    { job: 'runtime', port: runtime.port, labels: { namespace: ns } },
  ]);
  operator = await startOperator(
    ns,
    { prometheusUrl: prometheus.url },
    { autoscalerIntervalMs: 1000 },
  );
  await apply(
    ns,
    modelDeploymentManifest(NAME, {
      autoscaling: {
        engine: 'builtin',
        minReplicas: 1,
        maxReplicas: 6,
        metric: { type: 'concurrency', target: 4 },
        behavior: {
          scaleUp: { stabilizationWindowSeconds: 0 },
          scaleDown: { stabilizationWindowSeconds: SCALE_DOWN_WINDOW_S },
        },
      },
    }),
  );
  await waitForCondition(ns, NAME, 'Ready', 'True');
}, 180_000);

afterAll(async () => {
  await operator?.stop();
  await prometheus?.stop();
  runtime?.child.kill('SIGTERM');
  await runtime?.exited;
  if (ns) await deleteNamespace(ns);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('builtin autoscaler under real load', () => {
  it('scales up with the load and back down after the stabilization window', async () => {
    expect(await replicas()).toBe(1);
    const started = Date.now();
    const load = startLoad(runtime!.port, 12);
    // 12 in flight / 4 per replica = 3 replicas.
    const up = await eventually(
      'scale-up to at least 3',
      async () => {
        const r = await replicas();
        return r !== undefined && r >= 3 ? r : undefined;
      },
      60_000,
    );
    const reaction = (Date.now() - started) / 1000;
    console.log(
      `autoscaler scale-up reaction: ${reaction.toFixed(1)} s from load start to ${up} replicas requested (scrape 1 s, evaluation every 1 s)`,
    );
    expect(up).toBeLessThanOrEqual(4);
    const md = await eventually('status shows the decision', async () => {
      const m = await getJson<ModelDeploymentJson>(ns, 'md', NAME);
      return (m?.status?.autoscaling?.desiredReplicas ?? 0) >= 3 ? m : undefined;
    });
    expect(md.status!.autoscaling!.currentValue).toBeGreaterThan(2);
    expect(md.status!.autoscaling!.lastDecision).toMatch(/\d/);
    // Holds while the load holds.
    await new Promise((r) => setTimeout(r, 3000));
    expect(await replicas()).toBeGreaterThanOrEqual(3);

    const sent = await load.stop();
    expect(sent).toBeGreaterThan(100);
    const stopped = Date.now();
    await eventually(
      'scale-down to 1',
      async () => ((await replicas()) === 1 ? true : undefined),
      60_000,
    );
    const down = (Date.now() - stopped) / 1000;
    console.log(`autoscaler scale-down: ${down.toFixed(1)} s after the load stopped`);
    // Not before the scale-down stabilization window has passed.
    expect(down).toBeGreaterThanOrEqual(SCALE_DOWN_WINDOW_S - 1);
  }, 180_000);
});
