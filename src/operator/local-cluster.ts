// The embedded default for `npm start` with no cluster configured: a real
// control plane with simulated GPU nodes (kwok) under .tensorfleet/local/,
// the CRDs installed and examples/ applied, so a newcomer sees ModelDeployments
// reconcile in one command.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBinaries, startControlPlane } from '../localcluster/index.js';
import type { Logger } from './logger.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const LOCAL_DIR = join(ROOT, '.tensorfleet', 'local');

// What the examples refer to that a real cluster would already have: the
// nvidia RuntimeClass, and a bound claim for the pvc:// example.
const SUPPORTING_OBJECTS = `
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: nvidia}
handler: nvidia
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: model-store}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadOnlyMany]
  hostPath: {path: /srv/models}
  claimRef: {namespace: default, name: model-store}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: model-store, namespace: default}
spec:
  accessModes: [ReadOnlyMany]
  resources: {requests: {storage: 10Gi}}
  volumeName: model-store
  storageClassName: ""
`;

export interface LocalCluster {
  kubeconfigPath: string;
  /** Prints `kubectl get md -o wide` once the operator has had a moment to reconcile. */
  showModels: () => Promise<void>;
  stop: () => Promise<void>;
}

export async function startLocalCluster(logger: Logger): Promise<LocalCluster> {
  logger.info(
    'no cluster configured: starting an embedded control plane with simulated GPU nodes',
    {
      dir: LOCAL_DIR,
    },
  );
  const manifest = await ensureBinaries({ log: (line) => logger.info(line) });
  const plane = await startControlPlane({
    dir: LOCAL_DIR,
    manifest,
    components: { controllerManager: true, scheduler: true, kwok: true },
    log: (line) => logger.debug(line),
  });
  const kubectl = async (args: string[], input?: string) => {
    const r = await plane.kubectl(args, input === undefined ? {} : { input });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr || r.stdout}`);
    return r.stdout;
  };
  try {
    const crds = [
      ...Object.values(manifest.crds),
      join(ROOT, 'crds', 'tensorfleet.dev_modeldeployments.yaml'),
    ];
    await kubectl(['apply', '--server-side', ...crds.flatMap((f) => ['-f', f])]);
    await kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd/modeldeployments.tensorfleet.dev',
    ]);
    await kubectl(['apply', '--server-side', '-f', '-'], SUPPORTING_OBJECTS);
    const examples = (await readdir(join(ROOT, 'examples')))
      .filter((f) => f.endsWith('.yaml'))
      .sort();
    await kubectl([
      'apply',
      '-n',
      'default',
      ...examples.flatMap((f) => ['-f', join(ROOT, 'examples', f)]),
    ]);
  } catch (err) {
    await plane.stop();
    throw err;
  }
  const relative = join('.tensorfleet', 'local', 'kubeconfig');
  process.stdout.write(
    [
      '',
      `Embedded cluster ready (${Math.round((plane.timings.total ?? 0) / 1000)} s): 4 simulated nodes, 2 with 8 GPUs, 1 with MIG slices.`,
      'In another terminal:',
      `  export KUBECONFIG=$PWD/${relative}`,
      `  ${manifest.binaries.kubectl} get md -o wide`,
      '',
    ].join('\n'),
  );
  return {
    kubeconfigPath: plane.kubeconfigPath,
    showModels: async () => {
      await new Promise((r) => setTimeout(r, 10_000));
      const out = await kubectl(['get', 'md', '-A', '-o', 'wide']).catch((e: unknown) => String(e));
      process.stdout.write(`\n$ kubectl get md -A -o wide\n${out}\n`);
    },
    stop: () => plane.stop(),
  };
}
