/**
 * Starts ONE real control plane for the integration run (etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler, kwok with the simulated GPU nodes),
 * installs the ServiceMonitor, ScaledObject and ModelDeployment CRDs, and
 * provides the kubeconfig to the tests. Builds the binaries first when they are
 * missing (several minutes on a fresh machine; see docs/control-plane.md).
 */
import { access, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { TestProject } from 'vitest/node';

import { ensureBinaries, installCrds, startControlPlane } from '../../src/localcluster/index.js';
import type { ClusterContext } from './context.js';

/** The CRD generated from src/api (npm run generate). */
export const MODELDEPLOYMENT_CRD = fileURLToPath(
  new URL('../../crds/tensorfleet.dev_modeldeployments.yaml', import.meta.url),
);

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

const RUN_DIR_PREFIX = 'tensorfleet-it-';

/** Removes run directories that interrupted runs (which skip teardown) left over a day ago. */
async function pruneOldRunDirs(): Promise<void> {
  const dayAgo = Date.now() - 24 * 3600 * 1000;
  for (const entry of await readdir(tmpdir())) {
    if (!entry.startsWith(RUN_DIR_PREFIX)) continue;
    const path = join(tmpdir(), entry);
    const info = await stat(path).catch(() => undefined);
    if (info !== undefined && info.mtimeMs < dayAgo)
      await rm(path, { recursive: true, force: true });
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await access(MODELDEPLOYMENT_CRD).catch(() => {
    throw new Error(`${MODELDEPLOYMENT_CRD} is missing: run npm run generate`);
  });
  const manifest = await ensureBinaries({ log });
  await pruneOldRunDirs();
  const dir = await mkdtemp(join(tmpdir(), RUN_DIR_PREFIX));
  const plane = await startControlPlane({
    dir,
    manifest,
    components: { controllerManager: true, scheduler: true, kwok: true },
    log,
  });
  try {
    const crds = [...Object.values(manifest.crds), MODELDEPLOYMENT_CRD];
    await installCrds((args) => plane.kubectl(args), crds, {
      fieldManager: 'tensorfleet-tests',
    });
  } catch (error) {
    await plane.stop();
    throw error;
  }
  const context: ClusterContext = {
    kubeconfigPath: plane.kubeconfigPath,
    kubectl: manifest.binaries.kubectl,
    server: plane.server,
    dir,
    kubernetesVersion: manifest.versions.kubernetes ?? '',
  };
  project.provide('cluster', context);
  log(
    `[integration] cluster ready in ${plane.timings.total ?? 0} ms; KUBECONFIG=${plane.kubeconfigPath}`,
  );

  return async () => {
    const peak = plane.memory().reduce((sum, process) => sum + process.peakRssBytes, 0);
    log(
      `[integration] control plane peak RSS (sum over components): ${Math.round(peak / 2 ** 20)} MiB`,
    );
    await plane.stop();
    if (process.env.TENSORFLEET_KEEP_CLUSTER_DIR === undefined) {
      await rm(dir, { recursive: true, force: true });
    } else {
      log(`[integration] kept ${dir} (component logs in ${join(dir, 'logs')})`);
    }
  };
}
