/**
 * A canary gated on accuracy end to end, the way operator-canary.test.ts
 * gates on errors: the operator on the real control plane (kwok pods), a real
 * Prometheus scraping real runtime processes on loopback that stand for the
 * pods of each version, with quality tracking on (the flags the pod builder
 * writes for spec.monitoring.quality), and clients that predict and send
 * feedback. Version 1 is always right; version 2 is right 60% of the time, so
 * its accuracy falls 0.4 below stable's and the canary rolls back.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { V1Deployment } from '@kubernetes/client-node';
import type { Operator } from '../../src/operator/operator.js';
import { qualityArgs } from '../../src/operator/builders/deployment.js';
import { serveArgs } from '../../src/contract/runtime.js';
import { writeMlpLayers } from '../support/models.js';
import { startProcess, waitReady, type RuntimeProcess } from '../runtime/process.js';
import { createNamespace, deleteNamespace, eventually } from './context.js';
import {
  apply,
  condition,
  getJson,
  startOperator,
  waitForCondition,
  type ModelDeploymentJson,
} from './operator-support.js';
import { startPrometheus, type PrometheusServer } from '../../src/localcluster/prometheus.js';

const NAME = 'quality';
/** Share of each version's predictions that feedback says were right. */
const ACCURACY: Record<string, number> = { '1': 1, '2': 0.6 };
const QUALITY = { enabled: true, kind: 'classification', window: 1000 } as const;

let ns = '';
let workDir = '';
let operator: Operator | undefined;
let prometheus: PrometheusServer | undefined;
const runtimes = new Map<string, RuntimeProcess>();
let loading = true;
let load: Promise<void> | undefined;

function manifest(version: string): string {
  return JSON.stringify({
    apiVersion: 'tensorfleet.dev/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: NAME },
    spec: {
      model: { uri: `s3://models/${NAME}/${version}/`, version },
      replicas: 4,
      monitoring: { quality: QUALITY },
      rollout: {
        strategy: 'Canary',
        canary: {
          steps: [
            { weight: 25, pauseSeconds: 3 },
            { weight: 50, pauseSeconds: 3 },
          ],
          analysis: { maxErrorRate: 0.05, minRequests: 10, maxAccuracyDrop: 0.1, minLabelled: 20 },
        },
      },
    },
  });
}

/**
 * Every runtime gets predictions all the time, as the Service would send
 * them, and feedback for each (inline: the predicted class and the label).
 */
async function generateLoad(): Promise<void> {
  const pixels = new Array<number>(784).fill(0.5);
  const targets = [...runtimes].map(([version, r]) => ({ version, port: r.port }));
  const post = (port: number, path: string, body: unknown) =>
    fetch(`http://127.0.0.1:${port}/v1/models/${NAME}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
      .then((res) => res.arrayBuffer())
      .catch(() => undefined);
  const worker = async (id: number) => {
    for (let i = 0; loading; i++) {
      const { version, port } = targets[(i + id) % targets.length]!;
      await post(port, ':predict', { instances: [pixels] });
      const right = Math.random() < ACCURACY[version]!;
      await post(port, ':feedback', { prediction: [3], label: [right ? 3 : 4] });
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await Promise.all([0, 1, 2].map(worker));
}

const md = () => getJson<ModelDeploymentJson>(ns, 'md', NAME);
const deployment = (name: string) => getJson<V1Deployment>(ns, 'deployment', name);

beforeAll(async () => {
  ns = await createNamespace('canary-quality');
  workDir = await mkdtemp(join(tmpdir(), 'tensorfleet-canary-quality-'));
  const model = await writeMlpLayers(join(workDir, 'model'));
  // The quality flags exactly as the pod builder writes them for QUALITY.
  const flags = serveArgs(qualityArgs(QUALITY)).slice(1);
  for (const version of Object.keys(ACCURACY)) {
    const r = await startProcess([
      '--model-name',
      NAME,
      '--model-uri',
      model,
      '--model-version',
      version,
      '--backend',
      'cpu',
      '--warmup-iterations',
      '0',
      ...flags,
    ]);
    runtimes.set(version, r);
  }
  await Promise.all([...runtimes.values()].map((r) => waitReady(r.port)));
  load = generateLoad();
  prometheus = await startPrometheus(
    [...runtimes].map(([version, r]) => ({
      job: `runtime-${version}`,
      port: r.port,
      labels: { namespace: ns, tensorfleet_dev_version: version },
    })),
  );
  operator = await startOperator(ns, { prometheusUrl: prometheus.url });
  await apply(ns, manifest('1'));
  await waitForCondition(ns, NAME, 'Ready', 'True');
}, 180_000);

afterAll(async () => {
  loading = false;
  await load;
  await operator?.stop();
  await prometheus?.stop();
  for (const r of runtimes.values()) {
    r.child.kill('SIGTERM');
    await r.exited;
  }
  if (ns) await deleteNamespace(ns);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('canary rollout gated on accuracy', () => {
  it('rolls back a canary less accurate than stable by more than maxAccuracyDrop, naming both', async () => {
    await apply(ns, manifest('2'));
    const rolledBack = await eventually(
      'version 2 rolled back',
      async () => {
        const m = await md();
        return m?.status?.canary?.phase === 'RolledBack' ? m : undefined;
      },
      120_000,
    );
    const c = rolledBack.status!.canary!;
    expect(c.message).toMatch(
      /analysis failed at step 1\/2 \(25%\): accuracy 0\.\d+ against stable (1|0\.9\d+) over \d+ and \d+ labelled predictions: a drop of 0\.\d+ > 0\.1/,
    );
    expect(c.lastAnalysis!.passed).toBe('False');
    // Prometheus's increase() extrapolates each counter: stable's 1 can read 0.9999.
    expect(c.lastAnalysis!.stableAccuracy).toBeGreaterThan(0.99);
    expect(c.lastAnalysis!.canaryAccuracy).toBeLessThan(0.9);
    expect(c.lastAnalysis!.canaryLabelled).toBeGreaterThanOrEqual(20);
    const after = await waitForCondition(ns, NAME, 'Stalled', 'True', 'CanaryRolledBack');
    expect(condition(after, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'CanaryRolledBack',
    });
    expect(after.status!.currentVersion).toBe('1');
    expect(after.status!.history![0]).toMatchObject({ version: '2', outcome: 'RolledBack' });
    expect(after.status!.history![0]!.reason).toContain('accuracy');
    await eventually(
      'the canary track gone',
      async () => ((await deployment(`${NAME}-canary`)) ? undefined : true),
      60_000,
    );
  }, 180_000);
});
