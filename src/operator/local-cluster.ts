// The embedded default for `npm start` with no cluster configured: a real
// control plane with simulated GPU nodes (kwok) under .tensorfleet/local/,
// the CRDs installed and examples/ applied, so a newcomer sees ModelDeployments
// reconcile in one command.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import {
  draGpuDeviceClass,
  draGpuNode,
  ensureBinaries,
  H100,
  installCrds,
  startControlPlane,
} from '../localcluster/index.js';
import { serveDirectory } from '../localcluster/model-server.js';
import { NODE_IP } from '../localcluster/node/network.js';
import type { Logger } from './logger.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const LOCAL_DIR = join(ROOT, '.tensorfleet', 'local');

/** A node whose eight H100s come through DRA, for the dra example. */
const DRA_NODE = draGpuNode({
  node: 'gpu-h100-dra-0',
  productName: H100.replaceAll('-', ' '),
  count: 8,
  memory: '80Gi',
});

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

/** Whether an example needs GPUs (and so lands on a simulated node). */
async function requestsGpus(file: string): Promise<boolean> {
  const doc = yaml.load(await readFile(file, 'utf8')) as {
    spec?: { resources?: { gpu?: unknown } };
  } | null;
  return doc?.spec?.resources?.gpu !== undefined;
}

export async function startLocalCluster(
  logger: Logger,
  options: { realNode?: boolean } = {},
): Promise<LocalCluster> {
  const realNode = options.realNode === true;
  logger.info(
    realNode
      ? 'no cluster configured: starting an embedded control plane with a real node and simulated GPU nodes'
      : 'no cluster configured: starting an embedded control plane with simulated GPU nodes',
    { dir: LOCAL_DIR },
  );
  const manifest = await ensureBinaries({ log: (line) => logger.info(line) });
  const plane = await startControlPlane({
    dir: LOCAL_DIR,
    manifest,
    components: { controllerManager: true, scheduler: true, kwok: true },
    realNode,
    log: (line) => logger.debug(line),
  });
  let demo: Demo | undefined;
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
    await installCrds((args) => plane.kubectl(args), crds);
    await kubectl(['apply', '--server-side', '-f', '-'], SUPPORTING_OBJECTS);
    // kwok runs no DRA driver: publish the GPUs NVIDIA's would.
    for (const object of [draGpuDeviceClass(), ...DRA_NODE])
      await kubectl(['apply', '-f', '-'], JSON.stringify(object));
    let examples = (await readdir(join(ROOT, 'examples')))
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .map((f) => join(ROOT, 'examples', f));
    if (realNode) {
      // CPU examples would land on the real node and fetch their models from
      // the internet, which pods here cannot reach: the demo model stands in.
      const gpu = await Promise.all(examples.map(requestsGpus));
      examples = examples.filter((_, i) => gpu[i]);
      demo = await startDemo(LOCAL_DIR, NODE_IP);
      await kubectl(['apply', '-n', 'default', '-f', '-'], demo.manifest);
    }
    await kubectl(['apply', '-n', 'default', ...examples.flatMap((f) => ['-f', f])]);
  } catch (err) {
    await demo?.stop();
    await plane.stop();
    throw err;
  }
  const relative = join('.tensorfleet', 'local', 'kubeconfig');
  process.stdout.write(
    [
      '',
      realNode
        ? `Embedded cluster ready (${Math.round((plane.timings.total ?? 0) / 1000)} s): a real node (${NODE_IP}) and 4 simulated GPU nodes (2 with 8 GPUs, 1 with MIG slices, 1 with 8 DRA GPUs).`
        : `Embedded cluster ready (${Math.round((plane.timings.total ?? 0) / 1000)} s): 5 simulated nodes, 2 with 8 GPUs, 1 with MIG slices, 1 with 8 DRA GPUs.`,
      'In another terminal:',
      `  export KUBECONFIG=$PWD/${relative}`,
      `  ${manifest.binaries.kubectl} get md -o wide`,
      ...(demo === undefined
        ? []
        : [
            `  ${manifest.binaries.kubectl} wait md/${DEMO_MODEL} --for=condition=Ready --timeout=5m`,
            `  curl -s -X POST -d '{"instances": [1, 2, 5]}' http://$(${manifest.binaries.kubectl} get svc ${DEMO_MODEL} -o jsonpath='{.spec.clusterIP}'):8501/v1/models/${DEMO_MODEL}:predict`,
            '  # -> {"predictions":[2.5,3,4.5]}   (half_plus_two: 0.5 * x + 2)',
          ]),
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
    stop: async () => {
      await demo?.stop();
      await plane.stop();
    },
  };
}

export const DEMO_MODEL = 'half-plus-two';

interface Demo {
  readonly manifest: string;
  stop(): Promise<void>;
}

/**
 * The demo the real node serves: TF Serving's half_plus_two, generated here
 * (nothing is downloaded) and served over HTTP on the node IP, where its
 * init container fetches it like any http:// model.
 */
async function startDemo(dir: string, host: string): Promise<Demo> {
  const { writeHalfPlusTwo } = await import('../runtime/models/graph-models.js');
  const root = join(dir, 'demo-models');
  await writeHalfPlusTwo(join(root, DEMO_MODEL, '1'));
  const server = await serveDirectory(root, host);
  const manifest = JSON.stringify({
    apiVersion: 'tensorfleet.dev/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: DEMO_MODEL },
    spec: {
      model: { uri: `${server.url}${DEMO_MODEL}/1/model.json`, version: '1' },
      resources: { requests: { cpu: '250m', memory: '256Mi' } },
    },
  });
  return {
    manifest,
    stop: () => server.close(),
  };
}
