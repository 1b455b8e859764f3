// An optional CRD removed and installed again while the operator runs. On a
// control plane of its own: removing a CRD from the shared one would pull it
// from under the test files running beside this one.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  ensureBinaries,
  installCrds,
  startControlPlane,
  type ClusterManifest,
  type ControlPlane,
} from '../../src/localcluster/index.js';
import { DEFAULT_CONFIG } from '../../src/operator/config.js';
import { silentLogger } from '../../src/operator/logger.js';
import { Operator } from '../../src/operator/operator.js';
import { stdoutOrThrow } from '../support/kubectl.js';
import { eventually } from './context.js';
import { modelDeploymentManifest } from './operator-support.js';

const SERVICE_MONITOR_CRD = 'servicemonitors.monitoring.coreos.com';
const MODELDEPLOYMENT_CRD = fileURLToPath(
  new URL('../../crds/tensorfleet.dev_modeldeployments.yaml', import.meta.url),
);
let plane: ControlPlane;
let manifest: ClusterManifest;
let operator: Operator;
let dir: string;

async function kubectl(args: string[], input?: string): Promise<string> {
  return stdoutOrThrow(args, await plane.kubectl(args, input === undefined ? {} : { input }));
}

interface Md {
  status?: { conditions?: Array<{ type: string; status: string; reason?: string }> };
}
const conditions = async (name: string) =>
  (JSON.parse(await kubectl(['get', 'md', name, '-n', 'default', '-o', 'json'])) as Md).status
    ?.conditions ?? [];
const serviceMonitors = async (): Promise<string> =>
  (await kubectl(['get', 'servicemonitors', '-n', 'default', '-o', 'name'])).trim();

beforeAll(async () => {
  // Built (or found in the cache) by the integration set-up already.
  manifest = await ensureBinaries();
  dir = await mkdtemp(join(tmpdir(), 'tensorfleet-it-crds-'));
  plane = await startControlPlane({
    dir,
    manifest,
    components: { controllerManager: true, scheduler: true, kwok: true },
  });
  await installCrds(
    (a) => plane.kubectl(a),
    [...Object.values(manifest.crds), MODELDEPLOYMENT_CRD],
  );
  const kc = new KubeConfig();
  kc.loadFromFile(plane.kubeconfigPath);
  operator = new Operator({
    config: {
      ...DEFAULT_CONFIG,
      httpAddress: '127.0.0.1:0',
      runtimeImage: 'registry.example.com/tensorfleet/runtime:test',
      runtimeGpuImage: 'registry.example.com/tensorfleet/runtime-gpu:test',
    },
    kubeConfig: kc,
    logger: silentLogger,
    defaultMetrics: false,
    scrapePods: false,
  });
  await operator.start();
}, 120_000);

afterAll(async () => {
  await operator?.stop();
  await plane?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('an optional CRD removed and installed while the operator runs', () => {
  it('degrades without failing any model, and is used again once back', async () => {
    const resources = { requests: { cpu: '100m', memory: '128Mi' } };
    await kubectl(
      ['apply', '-n', 'default', '-f', '-'],
      [
        modelDeploymentManifest('auto', { resources }),
        modelDeploymentManifest('wanted', {
          resources,
          monitoring: { serviceMonitor: { enabled: 'true' } },
        }),
      ].join('\n---\n'),
    );
    await eventually(
      'both models Ready with a ServiceMonitor each',
      async () =>
        (await serviceMonitors()).split('\n').length === 2 &&
        (await conditions('auto')).some((c) => c.type === 'Ready' && c.status === 'True') &&
        (await conditions('wanted')).some((c) => c.type === 'Ready' && c.status === 'True')
          ? true
          : undefined,
      60_000,
    );

    await kubectl(['delete', 'crd', SERVICE_MONITOR_CRD, '--wait=true']);
    // A change that makes the operator apply its ServiceMonitors again.
    await kubectl(['scale', 'md/auto', 'md/wanted', '-n', 'default', '--replicas=2']);
    const degraded = await eventually(
      '"true" to report the missing CRD',
      async () => {
        const wanted = await conditions('wanted');
        return wanted.some((c) => c.reason === 'ServiceMonitorCRDMissing') ? wanted : undefined;
      },
      30_000,
    );
    // As where the CRD was never installed: both keep serving (Ready at 2
    // replicas); "auto" goes on without one, "true" says why it has none; no
    // ApplyFailed anywhere.
    for (const name of ['auto', 'wanted']) {
      const got = await eventually(
        `${name} Ready at 2 replicas`,
        async () => {
          const c = await conditions(name);
          return c.some((x) => x.type === 'Ready' && x.status === 'True') ? c : undefined;
        },
        60_000,
      );
      expect(got.some((c) => c.reason === 'ApplyFailed')).toBe(false);
      expect(got.find((c) => c.type === 'Stalled')).toMatchObject(
        name === 'auto'
          ? { status: 'False' }
          : { status: 'True', reason: 'ServiceMonitorCRDMissing' },
      );
    }
    expect(degraded.some((c) => c.reason === 'ApplyFailed')).toBe(false);

    await installCrds((a) => plane.kubectl(a), [manifest.crds[SERVICE_MONITOR_CRD]!]);
    await eventually(
      'the ServiceMonitors back, with nothing changed on the models',
      async () => ((await serviceMonitors()).split('\n').length === 2 ? true : undefined),
      30_000,
    );
    const wanted = await conditions('wanted');
    expect(wanted.some((c) => c.reason === 'ServiceMonitorCRDMissing')).toBe(false);
  }, 180_000);
});
