/**
 * A canary on real traffic: the operator (in its pods) scrapes the runtime
 * pods' own metrics, rolls a broken version back by itself and promotes a
 * good one, while every request the stable track answers succeeds.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { writeHalfPlusTwo, writeIndexLookup } from '../../src/runtime/models/graph-models.js';
import { e2e, eventually, getJson, kubectlOk } from './context.js';
import { startLoad } from '../support/load.js';
import { printFailureTimeline, recordPods } from './pod-timeline.js';
import { serveDirectory, type ModelServer } from '../../src/localcluster/model-server.js';
import { condition, modelDeployment, serviceUrl, waitAnswering, waitReady } from './models.js';

let namespace = '';
let models: ModelServer;
let dir = '';
const MODEL = 'fraud';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tensorfleet-e2e-models-'));
  await writeHalfPlusTwo(join(dir, MODEL, 'good-1'), 2);
  // Loads and warms up (warmup sends zeros), then fails on the traffic below.
  await writeIndexLookup(join(dir, MODEL, 'broken-2'), 10);
  await writeHalfPlusTwo(join(dir, MODEL, 'good-3'), 4);
  models = await serveDirectory(dir, e2e().nodeIp);
  namespace = `canary-${Date.now().toString(36)}`;
  await kubectlOk(['create', 'namespace', namespace]);
});

afterAll(async () => {
  await kubectlOk(['delete', 'namespace', namespace, '--wait=false', '--ignore-not-found']);
  await models.close();
  await rm(dir, { recursive: true, force: true });
});

function canaryModel(version: string): string {
  return modelDeployment(
    MODEL,
    { uri: `${models.url}${MODEL}/${version}/model.json`, version },
    {
      replicas: 2,
      rollout: {
        strategy: 'Canary',
        canary: {
          steps: [{ weight: 50, pauseSeconds: 5 }],
          analysis: { maxErrorRate: 0.05, minRequests: 20 },
        },
      },
    },
  );
}

interface CanaryStatus {
  currentVersion?: string;
  canary?: { phase?: string; message?: string };
  history?: Array<{ version: string; outcome: string; reason?: string }>;
  conditions?: Array<{ type: string; status: string; reason?: string }>;
}

async function status(): Promise<CanaryStatus> {
  return (
    (await getJson<{ status?: CanaryStatus }>(['get', 'md', '-n', namespace, MODEL])).status ?? {}
  );
}

describe('a canary on real traffic', () => {
  it('rolls a broken version back by itself and promotes a good one; the stable track never fails', async () => {
    await kubectlOk(['apply', '-n', namespace, '-f', '-'], canaryModel('good-1'));
    await waitReady(namespace, MODEL);
    const url = await serviceUrl(namespace, MODEL);
    await waitAnswering(url, MODEL);
    // Inputs from -500 to 499: the broken version refuses all but 0..9.
    const load = startLoad({
      url,
      model: MODEL,
      concurrency: 6,
      versions: {
        'good-1': (x) => 0.5 * x + 2,
        // Right for the few inputs inside its table; it fails on the others.
        'broken-2': (x) => (x >= 0 && x < 10 ? x : NaN),
        'good-3': (x) => 0.5 * x + 4,
      },
    });
    const pods = recordPods(namespace, () => load.elapsedMs());
    const phases: Array<[string, number]> = [];
    const phase = (name: string): void => {
      phases.push([name, load.elapsedMs()]);
    };
    try {
      phase('canary of broken-2');
      await kubectlOk(['apply', '-n', namespace, '-f', '-'], canaryModel('broken-2'));
      let last: CanaryStatus = {};
      const rolledBack = await eventually(
        'the broken version rolled back',
        async () => {
          last = await status();
          return last.history?.[0]?.version === 'broken-2' &&
            last.history[0].outcome === 'RolledBack'
            ? last
            : undefined;
        },
        180_000,
      ).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}; last status ${JSON.stringify(last)}`);
      });
      expect(rolledBack.history?.[0]?.reason).toMatch(/error rate/);
      expect(rolledBack.currentVersion).toBe('good-1');
      await eventually('the broken pods gone', async () => {
        const pods = await getJson<{ items: unknown[] }>([
          'get',
          'pods',
          '-n',
          namespace,
          '-l',
          `tensorfleet.dev/model=${MODEL},tensorfleet.dev/version=broken-2`,
        ]);
        return pods.items.length === 0 ? true : undefined;
      });
      const afterRollback = load.snapshot();
      // Every failure came from the broken canary (an index out of its table);
      // nothing was reset, refused or timed out, and no answer was wrong.
      const unexpected = Object.keys(afterRollback.failures).filter((r) => !/^HTTP 500/.test(r));
      if (unexpected.length > 0) printFailureTimeline(afterRollback, phases, pods);
      expect(unexpected).toEqual([]);
      expect(afterRollback.ok).toBeGreaterThan(0);

      phase('canary of good-3');
      await kubectlOk(['apply', '-n', namespace, '-f', '-'], canaryModel('good-3'));
      await eventually(
        'the good version promoted',
        async () => {
          const s = await status();
          return s.currentVersion === 'good-3' &&
            s.canary === undefined &&
            condition(s, 'Ready')?.status === 'True'
            ? s
            : undefined;
        },
        180_000,
      );
      const report = await load.stop();
      process.stderr.write(
        `[e2e] canary: ${report.sent} sent, ${report.ok} correct, failures ${JSON.stringify(report.failures)}, by version ${JSON.stringify(report.byVersion)}\n`,
      );
      // After the rollback, with only good versions serving, nothing failed.
      const failedBefore = Object.values(afterRollback.failures).reduce((a, b) => a + b, 0);
      const failedAfter = Object.values(report.failures).reduce((a, b) => a + b, 0);
      if (failedAfter !== failedBefore) printFailureTimeline(report, phases, pods);
      expect(failedAfter).toBe(failedBefore);
      expect(report.byVersion['good-3']).toBeGreaterThan(0);
    } finally {
      pods.stop();
      await load.stop();
    }
  });
});
