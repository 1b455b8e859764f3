/**
 * The end-to-end tier: ONE control plane with a real node (containerd,
 * kubelet, kube-proxy; images from the registry on loopback, brought up to
 * date here with `npm run images`, which rebuilds only what changed) beside
 * the simulated GPU nodes, and the chart installed with
 * `helm install` exactly as a user would, the operator running in pods under
 * the chart's ServiceAccount. test/e2e/*.test.ts then use it as users do.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { TestProject } from 'vitest/node';

import { ensureBinaries, startControlPlane } from '../../src/localcluster/index.js';
import { hostNetworkSnapshot } from '../../src/localcluster/node/host.js';
import { NODE_IP } from '../../src/localcluster/node/network.js';
import { installChart, OPERATOR_NAMESPACE, RELEASE } from '../support/install-chart.js';
import type { E2eContext } from './context.js';

const IMAGES_BUILD = fileURLToPath(new URL('../../tools/images/build.sh', import.meta.url));

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** tools/images/build.sh: a few seconds when nothing changed, minutes for a changed image. */
function buildImages(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [IMAGES_BUILD], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${IMAGES_BUILD} exited ${String(code)}`)),
    );
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const manifest = await ensureBinaries({ log });
  await buildImages();
  const dir = await mkdtemp(join(tmpdir(), 'tensorfleet-e2e-'));
  // Routes, links and every iptables table, to compare after the node stops.
  const hostBefore = await hostNetworkSnapshot();
  const plane = await startControlPlane({
    dir,
    manifest,
    components: { controllerManager: true, scheduler: true, kwok: true },
    realNode: true,
    log,
  });
  const realNode = plane.realNode;
  try {
    if (realNode === undefined) throw new Error('the control plane started without its real node');
    const took = await installChart(plane, manifest);
    log(`[e2e] helm install --wait took ${took} ms`);
    const context: E2eContext = {
      kubeconfigPath: plane.kubeconfigPath,
      kubectl: manifest.binaries.kubectl,
      helm: manifest.binaries.helm,
      server: plane.server,
      dir,
      registry: realNode.registry,
      nodeIp: NODE_IP,
      operatorNamespace: OPERATOR_NAMESPACE,
      release: RELEASE,
      manifest,
    };
    project.provide('e2e', context);
  } catch (error) {
    await plane.stop();
    throw error;
  }
  return async () => {
    await plane.stop();
    const hostAfter = await hostNetworkSnapshot();
    if (hostAfter !== hostBefore) {
      const lines = (text: string) => new Set(text.split('\n'));
      const [was, is] = [lines(hostBefore), lines(hostAfter)];
      const added = [...is].filter((l) => !was.has(l)).map((l) => `+ ${l}`);
      const removed = [...was].filter((l) => !is.has(l)).map((l) => `- ${l}`);
      throw new Error(`the real node left the host changed:\n${[...removed, ...added].join('\n')}`);
    }
    log('[e2e] host routes, links and iptables are as they were before the real node');
    if (process.env.TENSORFLEET_KEEP_CLUSTER_DIR === undefined) {
      await rm(dir, { recursive: true, force: true });
    } else {
      log(`[e2e] kept ${dir} (component logs in ${join(dir, 'logs')})`);
    }
  };
}
