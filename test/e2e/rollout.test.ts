/**
 * Readiness, preStop and drain against a real kubelet and real endpoint
 * updates: under continuous load through the Service, a new version rolls
 * out, the model scales down, then up, and every request sent gets a correct
 * answer (counted: zero failures, zero resets).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { writeHalfPlusTwo } from '../support/models.js';
import { e2e, eventually, getJson, kubectlOk } from './context.js';
import { percentile, startLoad } from '../support/load.js';
import { printFailureTimeline, recordPods } from './pod-timeline.js';
import { serveDirectory, type ModelServer } from '../../src/localcluster/model-server.js';
import { modelDeployment, modelStatus, serviceUrl, waitAnswering, waitReady } from './models.js';

let namespace = '';
let models: ModelServer;
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tensorfleet-e2e-models-'));
  await writeHalfPlusTwo(join(dir, 'hpt', '1'), 2);
  await writeHalfPlusTwo(join(dir, 'hpt', '2'), 3);
  models = await serveDirectory(dir, e2e().nodeIp);
  namespace = `rollout-${Date.now().toString(36)}`;
  await kubectlOk(['create', 'namespace', namespace]);
});

afterAll(async () => {
  await kubectlOk(['delete', 'namespace', namespace, '--wait=false', '--ignore-not-found']);
  await models.close();
  await rm(dir, { recursive: true, force: true });
});

const MODEL = 'hpt';
const model = (version: string) => ({ uri: `${models.url}hpt/${version}/model.json`, version });

/** Pods of the model that are Ready, by version label. */
async function readyPods(): Promise<Record<string, number>> {
  const pods = await getJson<{
    items: Array<{
      metadata: { labels: Record<string, string>; deletionTimestamp?: string };
      status: { conditions?: Array<{ type: string; status: string }> };
    }>;
  }>(['get', 'pods', '-n', namespace, '-l', `tensorfleet.dev/model=${MODEL}`]);
  const counts: Record<string, number> = {};
  for (const pod of pods.items) {
    const ready = pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    if (ready !== true) continue;
    const version = pod.metadata.labels['tensorfleet.dev/version'] ?? '?';
    counts[version] = (counts[version] ?? 0) + 1;
  }
  return counts;
}

/** Waits until exactly `replicas` pods exist, all Ready, all of `version`. */
async function settle(version: string, replicas: number): Promise<void> {
  await eventually(
    `${replicas} Ready pods of version ${version} and no others`,
    async () => {
      const all = await getJson<{ items: unknown[] }>([
        'get',
        'pods',
        '-n',
        namespace,
        '-l',
        `tensorfleet.dev/model=${MODEL}`,
      ]);
      const ready = await readyPods();
      return all.items.length === replicas && ready[version] === replicas ? true : undefined;
    },
    240_000,
  );
}

describe('a model under continuous load', () => {
  it('loses no request through a rollout, a scale-down and a scale-up', async () => {
    await kubectlOk(
      ['apply', '-n', namespace, '-f', '-'],
      modelDeployment(MODEL, model('1'), { replicas: 2 }),
    );
    await waitReady(namespace, MODEL);
    await settle('1', 2);
    const url = await serviceUrl(namespace, MODEL);
    await waitAnswering(url, MODEL);
    const load = startLoad({
      url,
      model: MODEL,
      concurrency: 8,
      versions: { '1': (x) => 0.5 * x + 2, '2': (x) => 0.5 * x + 3 },
    });
    const pods = recordPods(namespace, () => load.elapsedMs());
    // Phase -> when it began (ms on the load's clock), to place failures.
    const phases: Array<[string, number]> = [];
    const phase = (name: string): void => {
      phases.push([name, load.elapsedMs()]);
    };
    try {
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const steady = load.snapshot();
      phase('rollout to version 2');

      await kubectlOk(
        ['apply', '-n', namespace, '-f', '-'],
        modelDeployment(MODEL, model('2'), { replicas: 2 }),
      );
      await settle('2', 2);
      await eventually('status to report version 2', async () =>
        (await modelStatus(namespace, MODEL)).currentVersion === '2' ? true : undefined,
      );
      const afterRollout = load.snapshot();

      phase('scale down to 1');
      await kubectlOk(['scale', 'md', MODEL, '-n', namespace, '--replicas=1']);
      await settle('2', 1);
      phase('scale up to 3');
      await kubectlOk(['scale', 'md', MODEL, '-n', namespace, '--replicas=3']);
      await settle('2', 3);
      phase('settled');
      await new Promise((resolve) => setTimeout(resolve, 2000));

      const report = await load.stop();
      const rolloutLatencies = afterRollout.latencies.slice(steady.latencies.length);
      process.stderr.write(
        `[e2e] under load: ${report.sent} sent, ${report.ok} correct, failures ${JSON.stringify(report.failures)}, ` +
          `by version ${JSON.stringify(report.byVersion)}; p99 steady ${percentile(steady.latencies, 99).toFixed(1)} ms, ` +
          `during rollout ${percentile(rolloutLatencies, 99).toFixed(1)} ms\n`,
      );
      if (report.failureLog.length > 0) {
        printFailureTimeline(report, phases, pods);
      }
      expect(report.failures).toEqual({});
      expect(report.ok).toBe(report.sent);
      expect(report.byVersion['1']).toBeGreaterThan(0);
      expect(report.byVersion['2']).toBeGreaterThan(0);
      // Once version 2 was everywhere, version 1 never answered again.
      const late = startLoad({
        url,
        model: MODEL,
        concurrency: 2,
        versions: { '2': (x) => 0.5 * x + 3 },
      });
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const check = await late.stop();
      expect(check.failures).toEqual({});
    } finally {
      pods.stop();
      await load.stop();
    }
  });
});
