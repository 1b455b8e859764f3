// The Prometheus Operator (built from Go modules by tools/cluster/build.sh)
// beside a control plane, as a platform team runs it: its CRDs applied
// server-side, the operator watching every namespace. With a real node it
// turns the ServiceMonitors Tensorfleet writes into the scrape configuration
// of a real Prometheus in a pod (the images `npm run images` builds under the
// names the operator pulls by default).
import { join } from 'node:path';

import { installCrds } from './crds.js';
import { waitUntil } from './http.js';
import type { ClusterManifest } from './manifest.js';
import { freePort } from './ports.js';
import { startProcess, type ManagedProcess } from './process.js';
import type { KubectlResult } from './controlplane.js';

export interface PrometheusOperator {
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

type Kubectl = (args: readonly string[]) => Promise<KubectlResult>;

/** Starts the operator against the cluster of `kubeconfigPath` once its CRDs are served. */
export async function startPrometheusOperator(input: {
  manifest: ClusterManifest;
  kubeconfigPath: string;
  kubectl: Kubectl;
  logsDir: string;
}): Promise<PrometheusOperator> {
  await installCrds(input.kubectl, [input.manifest.prometheusOperatorCrds]);
  const port = await freePort();
  const child = startProcess({
    name: 'prometheus-operator',
    command: input.manifest.binaries.prometheusOperator,
    args: [
      `--web.listen-address=127.0.0.1:${port}`,
      // Its own default, said out loud: the image `npm run images` builds under this name.
      `--prometheus-config-reloader=quay.io/prometheus-operator/prometheus-config-reloader:${input.manifest.versions.prometheusOperator}`,
      '--log-level=info',
    ],
    logPath: join(input.logsDir, 'prometheus-operator.log'),
    // It has no --kubeconfig flag: out of a cluster it reads KUBECONFIG.
    env: { ...process.env, KUBECONFIG: input.kubeconfigPath },
  });
  try {
    await waitUntil(
      'the Prometheus Operator /healthz',
      async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok,
      {
        timeoutMs: 60_000,
        abort: () => {
          const exited = child.exitInfo();
          if (exited !== undefined) {
            throw new Error(
              `the Prometheus Operator exited (${exited.signal ?? `code ${String(exited.code)}`}):\n${child.logTail(3000)}`,
            );
          }
        },
      },
    );
  } catch (error) {
    await child.stop();
    throw error;
  }
  return {
    process: child,
    stop: async () => {
      await child.stop();
    },
  };
}
