/**
 * Metric-gated canaries end to end: the operator on the real control plane
 * (kwok pods), a real Prometheus scraping real runtime processes on loopback
 * that stand for the pods of each version, and load against them. Version 2
 * is healthy; version 3 answers half of its requests with 500s
 * (--inject-error-rate); version 4 has no runtime, so its analysis never gets
 * figures and only a person can decide.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { V1Deployment } from '@kubernetes/client-node';
import type { Operator } from '../../src/operator/operator.js';
import { writeHalfPlusTwo } from '../support/models.js';
import { startProcess, waitReady, type RuntimeProcess } from '../runtime/process.js';
import { createNamespace, deleteNamespace, eventually, kubectlOk } from './context.js';
import {
  apply,
  condition,
  getJson,
  startOperator,
  waitForCondition,
  type ModelDeploymentJson,
} from './operator-support.js';
import { startPrometheus, type PrometheusServer } from '../../src/localcluster/prometheus.js';
import { createLogger } from '../../src/operator/logger.js';

const NAME = 'canary';
interface LogLine {
  level: string;
  msg: string;
  passed?: string;
}
/** The operator's log, as it wrote it. */
const log: LogLine[] = [];
let ns = '';
let workDir = '';
let operator: Operator | undefined;
let prometheus: PrometheusServer | undefined;
const runtimes = new Map<string, RuntimeProcess>();
let loading = true;
let load: Promise<void> | undefined;

function manifest(version: string, pauseSeconds = 3): string {
  return JSON.stringify({
    apiVersion: 'tensorfleet.dev/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: NAME },
    spec: {
      model: { uri: `s3://models/${NAME}/${version}/`, version },
      replicas: 4,
      rollout: {
        strategy: 'Canary',
        canary: {
          steps: [
            { weight: 25, pauseSeconds },
            { weight: 50, pauseSeconds },
          ],
          analysis: { maxErrorRate: 0.05, minRequests: 10 },
        },
      },
    },
  });
}

/** Every runtime gets requests all the time, as the Service would send them. */
async function generateLoad(): Promise<void> {
  const ports = [...runtimes.values()].map((r) => r.port);
  const worker = async (id: number) => {
    for (let i = 0; loading; i++) {
      const port = ports[(i + id) % ports.length]!;
      const res = await fetch(`http://127.0.0.1:${port}/v1/models/${NAME}:predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ instances: [1, 2, 3] }),
      }).catch(() => undefined);
      await res?.arrayBuffer();
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await Promise.all([0, 1, 2].map(worker));
}

const md = () => getJson<ModelDeploymentJson>(ns, 'md', NAME);
const deployment = (name: string) => getJson<V1Deployment>(ns, 'deployment', name);

async function reasons(): Promise<string[]> {
  const out = await kubectlOk([
    'get',
    'events',
    '-n',
    ns,
    '--field-selector',
    `involvedObject.name=${NAME}`,
    '-o',
    'jsonpath={range .items[*]}{.reason}{"\\n"}{end}',
  ]);
  return out.split('\n').filter(Boolean);
}

beforeAll(async () => {
  ns = await createNamespace('canary');
  workDir = await mkdtemp(join(tmpdir(), 'tensorfleet-canary-'));
  const model = await writeHalfPlusTwo(join(workDir, 'model'));
  for (const [version, extra] of [
    ['1', []],
    ['2', []],
    ['3', ['--inject-error-rate', '0.5']],
  ] as const) {
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
      ...extra,
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
  operator = await startOperator(
    ns,
    { prometheusUrl: prometheus.url },
    { logger: createLogger('debug', {}, (line) => log.push(JSON.parse(line) as LogLine)) },
  );
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

describe('canary rollout gated on metrics', () => {
  it('promotes a healthy canary step by step', async () => {
    await apply(ns, manifest('2'));
    const seen = new Set<string>();
    const done = await eventually(
      'version 2 promoted and rolled out',
      async () => {
        const m = await md();
        const c = m?.status?.canary;
        if (c) {
          const canary = await deployment(`${NAME}-canary`);
          const stable = await deployment(NAME);
          seen.add(
            `${c.phase} step=${c.step} weight=${c.weight} canary=${canary?.spec?.replicas} stable=${stable?.spec?.replicas}`,
          );
        }
        return condition(m, 'Ready')?.status === 'True' &&
          m?.status?.currentVersion === '2' &&
          !m.status.canary
          ? m
          : undefined;
      },
      120_000,
    );
    // Each step was taken with the replica split it names (25% and 50% of 4).
    expect([...seen]).toEqual(
      expect.arrayContaining([
        'Progressing step=0 weight=25 canary=1 stable=3',
        'Progressing step=1 weight=50 canary=2 stable=2',
      ]),
    );
    expect(done.status!.history![0]).toMatchObject({ version: '2', outcome: 'Succeeded' });
    expect(await deployment(`${NAME}-canary`)).toBeUndefined();
    const stable = await deployment(NAME);
    expect(stable!.spec!.template.metadata!.labels!['tensorfleet.dev/version']).toBe('2');
    expect(stable!.spec!.replicas).toBe(4);
    const events = await reasons();
    expect(events.filter((r) => r === 'CanaryStepPassed')).toHaveLength(1);
    expect(events).toContain('CanaryPromoted');
  }, 180_000);

  it('rolls back a canary whose error rate breaches the threshold, with the reason', async () => {
    await apply(ns, manifest('3'));
    const rolledBack = await eventually(
      'version 3 rolled back',
      async () => {
        const m = await md();
        return m?.status?.canary?.phase === 'RolledBack' ? m : undefined;
      },
      120_000,
    );
    const started = Date.parse(rolledBack.status!.canary!.stepStartedAt ?? '');
    // Rollback is complete when the stable pods serve everything again.
    await eventually(
      'the stable track back at 4 ready pods and the canary gone',
      async () => {
        const stable = await deployment(NAME);
        const canary = await deployment(`${NAME}-canary`);
        return !canary && stable?.status?.readyReplicas === 4 && stable.spec?.replicas === 4
          ? true
          : undefined;
      },
      60_000,
    );
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `canary rollback: ${seconds.toFixed(1)} s from the canary serving to the stable track restored (pauseSeconds 3)`,
    );

    const c = rolledBack.status!.canary!;
    expect(c.message).toMatch(/analysis failed at step 1\/2 \(25%\): error rate 0\.\d+ > 0\.05/);
    expect(c.lastAnalysis!.passed).toBe('False');
    expect(c.lastAnalysis!.canaryErrorRate).toBeGreaterThan(0.3);
    expect(c.lastAnalysis!.stableErrorRate).toBe(0);
    const after = await waitForCondition(ns, NAME, 'Stalled', 'True', 'CanaryRolledBack');
    expect(condition(after, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'CanaryRolledBack',
    });
    expect(condition(after, 'Available')!.status).toBe('True');
    expect(after.status!.currentVersion).toBe('2');
    expect(after.status!.history![0]).toMatchObject({ version: '3', outcome: 'RolledBack' });
    expect(after.status!.history![0]!.reason).toContain('error rate');
    expect(await reasons()).toContain('CanaryRolledBack');
    expect(seconds).toBeLessThan(60);

    // It stays rolled back: no new canary for the same version.
    await new Promise((r) => setTimeout(r, 2000));
    expect(await deployment(`${NAME}-canary`)).toBeUndefined();
  }, 180_000);

  it('promotes or aborts on the annotation naming the version under test', async () => {
    const from = log.length;
    const analyses = () =>
      log.slice(from).filter((l) => l.msg === 'canary analysis' && l.passed === 'Unknown');
    await apply(ns, manifest('4', 1));
    await eventually(
      'version 4 waiting for figures',
      async () => {
        const c = (await md())?.status?.canary;
        return c?.version === '4' && c.lastAnalysis?.passed === 'Unknown' ? c : undefined;
      },
      60_000,
    );
    // Waiting is analysed again every few seconds; only the first says so at info.
    await eventually(
      'three analyses of the waiting canary',
      () => Promise.resolve(analyses().length >= 3 ? true : undefined),
      60_000,
    );
    expect(analyses().filter((l) => l.level === 'info')).toHaveLength(1);
    await kubectlOk(['annotate', '-n', ns, 'md', NAME, 'tensorfleet.dev/canary-promote=4']);
    await eventually(
      'version 4 promoted by hand',
      async () => {
        const m = await md();
        return m?.status?.currentVersion === '4' && !m.status.canary ? m : undefined;
      },
      60_000,
    );

    await apply(ns, manifest('5', 3600));
    await eventually(
      'a version 5 canary',
      async () => ((await md())?.status?.canary?.version === '5' ? true : undefined),
      60_000,
    );
    await kubectlOk(['annotate', '-n', ns, 'md', NAME, 'tensorfleet.dev/canary-abort=5']);
    const aborted = await waitForCondition(ns, NAME, 'Stalled', 'True', 'CanaryRolledBack');
    expect(aborted.status!.canary!.message).toContain('tensorfleet.dev/canary-abort');
    expect(aborted.status!.currentVersion).toBe('4');
  }, 180_000);
});
