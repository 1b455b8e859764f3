// `helm install` of the chart into a cluster with a real node, as a user runs
// it: the third-party CRDs the operator writes objects of, the operator's
// namespace enforcing the restricted Pod Security Standard, then the chart.
// Used by the e2e tier and the real-node bench.
import { fileURLToPath } from 'node:url';

import {
  installCrds,
  type ClusterManifest,
  type ControlPlane,
} from '../../src/localcluster/index.js';
import { runHelm } from '../chart/helm.js';
import { stdoutOrThrow } from './kubectl.js';

const CHART = fileURLToPath(new URL('../../charts/tensorfleet', import.meta.url));
export const OPERATOR_NAMESPACE = 'tensorfleet-system';
export const RELEASE = 'tensorfleet';

/** Installs the chart and waits for it (`--wait`); resolves with the milliseconds it took. */
export async function installChart(
  plane: ControlPlane,
  manifest: ClusterManifest,
): Promise<number> {
  await installCrds((args) => plane.kubectl(args), Object.values(manifest.crds));
  for (const args of [
    ['create', 'namespace', OPERATOR_NAMESPACE],
    [
      'label',
      'namespace',
      OPERATOR_NAMESPACE,
      'pod-security.kubernetes.io/enforce=restricted',
      'pod-security.kubernetes.io/enforce-version=latest',
    ],
  ]) {
    stdoutOrThrow(args, await plane.kubectl(args));
  }
  const started = Date.now();
  const install = await runHelm(
    manifest.binaries.helm,
    [
      'install',
      RELEASE,
      CHART,
      '--namespace',
      OPERATOR_NAMESPACE,
      '--wait',
      '--timeout',
      '5m',
      // Faster than production cadence, so reactions show in seconds.
      '--set',
      'operator.resyncPeriodSeconds=60',
    ],
    plane.kubeconfigPath,
  );
  if (install.code !== 0) {
    const pods = await plane.kubectl(['get', 'pods', '-A', '-o', 'wide']);
    throw new Error(`helm install failed:\n${install.stderr}\n${pods.stdout}`);
  }
  return Date.now() - started;
}
