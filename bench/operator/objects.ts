// What the operator benchmark creates: CPU-only ModelDeployments, the plain
// Deployments the operator would build for them (the direct path), and a node
// fleet big enough to hold every pod.
import { validateServedSpec } from '../../src/api/json-schema.js';
import type { ModelDeployment } from '../../src/api/v1alpha1/index.js';
import { DEFAULT_NODES, type SimulatedNode } from '../../src/localcluster/index.js';
import { buildDeployment, type DeploymentObject } from '../../src/operator/builders/deployment.js';
import { DEFAULT_CONFIG } from '../../src/operator/config.js';
import type { KubeObject } from '../../src/operator/kube/types.js';

/** Small requests, so that hundreds of replicas fit on a few simulated nodes. */
const REQUESTS = { cpu: '100m', memory: '128Mi' };
/** Pods one bench CPU node accepts (kwok nodes default to 110). */
const PODS_PER_NODE = 300;

export const modelName = (index: number): string => `model-${String(index).padStart(4, '0')}`;

/** The ModelDeployment as a user writes it: everything else comes from the CRD's defaults. */
export function modelDeployment(name: string, namespace: string): KubeObject & { spec: unknown } {
  return {
    apiVersion: 'tensorfleet.dev/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name, namespace },
    spec: {
      replicas: 1,
      model: { uri: `https://models.example.invalid/${name}/1/model.json`, version: '1' },
      runtime: { backend: 'cpu' },
      resources: { requests: REQUESTS },
    },
  };
}

/**
 * The Deployment the operator builds for `modelDeployment(name)`, through the
 * operator's own builder with the CRD's defaults applied, so the pod template
 * is the same. Only identity changes: no owner reference, and labels of its
 * own (the operator's labels would put these pods in the operator's caches).
 */
export function directDeployment(name: string, namespace: string): DeploymentObject {
  const md = modelDeployment(name, namespace);
  const spec = structuredClone(md.spec);
  const errors = validateServedSpec(spec); // applies the schema defaults in place
  if (errors.length > 0) throw new Error(`bench spec is invalid: ${JSON.stringify(errors)}`);
  const built = buildDeployment(
    { ...md, metadata: { ...md.metadata, uid: 'bench' }, spec } as unknown as ModelDeployment,
    DEFAULT_CONFIG,
  );
  const labels = { app: name, 'bench.tensorfleet.dev/path': 'direct' };
  const template = built.spec?.template;
  if (built.spec === undefined || template === undefined) throw new Error('builder gave no spec');
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels },
    spec: {
      ...built.spec,
      selector: { matchLabels: { app: name } },
      template: { ...template, metadata: { ...template.metadata, labels } },
    },
  };
}

/** The default GPU fleet plus enough CPU-only nodes for `pods` bench pods. */
export function benchNodes(pods: number): SimulatedNode[] {
  const count = Math.max(1, Math.ceil(pods / PODS_PER_NODE));
  const cpuNodes: SimulatedNode[] = Array.from({ length: count }, (_, i) => ({
    name: `bench-cpu-${i}`,
    resources: {
      cpu: '128',
      memory: '512Gi',
      pods: String(PODS_PER_NODE),
      'ephemeral-storage': '1Ti',
    },
  }));
  return [...DEFAULT_NODES, ...cpuNodes];
}
