/**
 * The Argo CD health check for ModelDeployment (deploy/argocd), run by gopher-lua
 * as Argo CD runs it, against status written by the real operator: the recorded
 * samples under testdata/ (with the verdicts health_test.yaml expects, in the
 * layout of Argo CD's resource_customizations) and samples taken live in this
 * run. kstatus (sigs.k8s.io/cli-utils, what Flux reads) must agree on each.
 *
 * TENSORFLEET_RECORD_HEALTH_SAMPLES=1 rewrites testdata/ from the live samples.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Operator } from '../../src/operator/operator.js';
import { HEALTH_DIR, KSTATUS_FOR, argoHealth, kstatus, type Verdict } from '../chart/health.js';
import { createNamespace, deleteNamespace, kubectlOk } from './context.js';
import {
  apply,
  getJson,
  modelDeploymentManifest,
  startOperator,
  waitForCondition,
  type ModelDeploymentJson,
} from './operator-support.js';

interface HealthTest {
  tests: { healthStatus: Verdict; inputPath: string }[];
}

type Sample = Record<string, unknown> & {
  metadata: Record<string, unknown> & { generation: number };
};

const RECORD = process.env.TENSORFLEET_RECORD_HEALTH_SAMPLES === '1';
/**
 * kstatus has no opinion on an object without status (it reports Current);
 * Argo CD's check waits for the operator. The one documented difference.
 */
const KSTATUS_EXCEPTIONS: Record<string, string> = {
  'testdata/progressing-no-status.yaml': 'Current',
};

let ns = '';
let unwatched = '';
let operator: Operator | undefined;
const live = new Map<string, Sample>();

/** What Argo CD stores: the object without server bookkeeping, in a stable namespace. */
function sample(md: ModelDeploymentJson): Sample {
  const object = structuredClone(md) as unknown as Sample;
  const { name, generation, annotations } = object.metadata as {
    name: string;
    generation: number;
    annotations?: Record<string, string>;
  };
  delete annotations?.['kubectl.kubernetes.io/last-applied-configuration'];
  object.metadata = {
    name,
    namespace: 'ml',
    generation,
    ...(annotations && Object.keys(annotations).length ? { annotations } : {}),
  };
  return object;
}

beforeAll(async () => {
  ns = await createNamespace('health');
  unwatched = await createNamespace('health-unwatched');
  operator = await startOperator(ns);
});

afterAll(async () => {
  await operator?.stop();
  for (const name of [ns, unwatched]) if (name) await deleteNamespace(name);
});

describe('recorded samples (testdata/, health_test.yaml)', () => {
  it('Lua returns the expected health for every sample, and kstatus agrees', async () => {
    const spec = yaml.load(
      await readFile(join(HEALTH_DIR, 'health_test.yaml'), 'utf8'),
    ) as HealthTest;
    expect(spec.tests.map((t) => t.healthStatus.status).sort()).toEqual(
      expect.arrayContaining(['Degraded', 'Healthy', 'Progressing']),
    );
    const objects = await Promise.all(
      spec.tests.map(async (t) => yaml.load(await readFile(join(HEALTH_DIR, t.inputPath), 'utf8'))),
    );
    const verdicts = await kstatus(objects);
    for (const [i, test] of spec.tests.entries()) {
      const argo = await argoHealth(objects[i]);
      expect(argo, test.inputPath).toEqual(test.healthStatus);
      const expected = KSTATUS_EXCEPTIONS[test.inputPath] ?? KSTATUS_FOR[argo.status];
      expect(verdicts[i]!.status, `kstatus on ${test.inputPath}`).toBe(expected);
    }
  });
});

describe('live samples from the operator', () => {
  it('Ready=True at the observed generation is Healthy (kstatus: Current)', async () => {
    await apply(ns, modelDeploymentManifest('healthy', { runtime: { backend: 'wasm' } }));
    const md = await waitForCondition(ns, 'healthy', 'Ready', 'True');
    live.set('healthy', sample(md));
    const argo = await argoHealth(md);
    expect(argo.status).toBe('Healthy');
    expect(argo.message).toMatch(/^ModelServing: 1\/1 replicas serving version 1$/);
    expect((await kstatus([md]))[0]!.status).toBe('Current');
  });

  it('a spec the operator has not observed yet is Progressing, even with Ready=True', async () => {
    const stale = structuredClone(live.get('healthy')!);
    stale.metadata.generation += 1;
    live.set('progressing-new-generation', stale);
    const argo = await argoHealth(stale);
    expect(argo).toEqual({
      status: 'Progressing',
      message: `Waiting for the operator to observe generation ${stale.metadata.generation} (observed ${stale.metadata.generation - 1})`,
    });
    expect((await kstatus([stale]))[0]!.status).toBe('InProgress');
  });

  it('pods waiting for a GPU that no node has are Progressing (kstatus: InProgress)', async () => {
    await apply(
      ns,
      modelDeploymentManifest('unschedulable', {
        resources: { gpu: { count: 1, product: 'NVIDIA-B200' } },
      }),
    );
    const md = await waitForCondition(ns, 'unschedulable', 'Reconciling', 'True', 'Unschedulable');
    live.set('progressing-unschedulable', sample(md));
    const argo = await argoHealth(md);
    expect(argo.status).toBe('Progressing');
    expect(argo.message).toMatch(/^Unschedulable: /);
    expect((await kstatus([md]))[0]!.status).toBe('InProgress');
  });

  it('Stalled=True is Degraded with the reason (kstatus: Failed)', async () => {
    // A Service of the same name, labelled as Tensorfleet's but owned by no
    // ModelDeployment (left behind by another release, say): the operator stalls.
    await kubectlOk(['create', 'service', 'clusterip', 'conflict', '--tcp=80:80', '-n', ns]);
    await kubectlOk([
      'label',
      'service',
      'conflict',
      '-n',
      ns,
      'app.kubernetes.io/managed-by=tensorfleet',
    ]);
    await apply(ns, modelDeploymentManifest('conflict', { runtime: { backend: 'wasm' } }));
    const md = await waitForCondition(ns, 'conflict', 'Stalled', 'True', 'NameConflict');
    live.set('degraded-name-conflict', sample(md));
    const argo = await argoHealth(md);
    expect(argo.status).toBe('Degraded');
    expect(argo.message).toMatch(/^NameConflict: Service .*\/conflict already exists/);
    expect((await kstatus([md]))[0]!.status).toBe('Failed');
  });

  it('a ModelDeployment no operator has seen is Progressing (kstatus cannot tell: Current)', async () => {
    await apply(unwatched, modelDeploymentManifest('no-status', { runtime: { backend: 'wasm' } }));
    const md = await getJson<ModelDeploymentJson>(unwatched, 'md', 'no-status');
    expect(md?.status).toBeUndefined();
    live.set('progressing-no-status', sample(md!));
    expect(await argoHealth(md)).toEqual({
      status: 'Progressing',
      message: 'Waiting for the Tensorfleet operator to observe the ModelDeployment',
    });
    expect((await kstatus([md]))[0]!.status).toBe('Current');
  });

  it('the recorded samples are the live ones (TENSORFLEET_RECORD_HEALTH_SAMPLES=1 rewrites them)', async () => {
    expect([...live.keys()].sort()).toEqual([
      'degraded-name-conflict',
      'healthy',
      'progressing-new-generation',
      'progressing-no-status',
      'progressing-unschedulable',
    ]);
    const spec = yaml.load(
      await readFile(join(HEALTH_DIR, 'health_test.yaml'), 'utf8'),
    ) as HealthTest;
    for (const [name, object] of live) {
      const path = join(HEALTH_DIR, 'testdata', `${name}.yaml`);
      if (RECORD) {
        const header = `# Recorded from the Tensorfleet operator by test/integration/health-check.test.ts\n# (TENSORFLEET_RECORD_HEALTH_SAMPLES=1).\n`;
        await writeFile(path, header + yaml.dump(object, { lineWidth: -1, noRefs: true }));
      }
      const recorded = yaml.load(await readFile(path, 'utf8')) as Sample;
      // Argo CD and kstatus judge the recorded sample as they judge today's status.
      // (Whole conditions can differ: a stalled object's Ready races its Deployment.)
      const [recordedArgo, liveArgo] = await Promise.all([
        argoHealth(recorded),
        argoHealth(object),
      ]);
      expect(recordedArgo.status, name).toBe(liveArgo.status);
      const [recordedK, liveK] = await kstatus([recorded, object]);
      expect(recordedK!.status, name).toBe(liveK!.status);
      expect(spec.tests.some((t) => t.inputPath === `testdata/${name}.yaml`)).toBe(true);
    }
  });
});
