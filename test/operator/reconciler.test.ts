// The reconciler against an API server in memory (fake-cluster.ts): what it
// writes for a model, that it writes nothing more when nothing changed, how
// it holds back and trusts its own writes, and how failures reach status and
// the work queue.
import { afterEach, describe, expect, it } from 'vitest';
import type { Condition, ModelDeploymentStatus } from '../../src/api/v1alpha1/index.js';
import { Controller } from '../../src/operator/controller.js';
import { ApiError } from '../../src/operator/kube/client.js';
import type {
  KubeObject,
  ModelDeploymentObject,
  ResourceRef,
} from '../../src/operator/kube/types.js';
import { RESOURCES } from '../../src/operator/kube/types.js';
import { silentLogger } from '../../src/operator/logger.js';
import { OperatorMetrics } from '../../src/operator/metrics.js';
import { TerminalError } from '../../src/operator/reconcile.js';
import { ModelDeploymentReconciler } from '../../src/operator/reconciler.js';
import { REASON } from '../../src/operator/status/reasons.js';
import { STATUS_COALESCE_MS } from '../../src/operator/status/writer.js';
import { WorkQueue } from '../../src/operator/workqueue.js';
import { FakeCluster } from './fake-cluster.js';
import { CONFIG, modelDeployment } from './fixtures.js';

const KEY = 'ml/mnist';
const T0 = '2026-01-01T00:00:00Z';
const DEPLOYMENTS = '/apis/apps/v1/namespaces/ml/deployments';
const SERVICES = '/api/v1/namespaces/ml/services';
const STATUS = '/apis/tensorfleet.dev/v1alpha1/namespaces/ml/modeldeployments/mnist/status';

/**
 * A cluster holding namespace ml and the model, its caches in step, and a
 * reconciler on it; `served` are the optional kinds the cluster serves.
 */
function setup(spec: Record<string, unknown> = { replicas: 2 }, served: ResourceRef[] = []) {
  const cluster = new FakeCluster();
  let now = new Date(T0);
  const events: string[] = [];
  const reconciler = new ModelDeploymentReconciler({
    client: cluster.client,
    caches: {
      modelDeployments: cluster.cache<ModelDeploymentObject>(RESOURCES.modelDeployment),
      deployments: cluster.cache(RESOURCES.deployment),
      services: cluster.cache(RESOURCES.service),
      podDisruptionBudgets: cluster.cache(RESOURCES.podDisruptionBudget),
      horizontalPodAutoscalers: cluster.cache(RESOURCES.horizontalPodAutoscaler),
      pods: cluster.cache(RESOURCES.pod),
      endpointSlices: cluster.cache(RESOURCES.endpointSlice),
    },
    config: CONFIG,
    events: { emit: (_md, type, reason) => void events.push(`${type} ${reason}`) },
    logger: silentLogger,
    // By default no optional kind (ServiceMonitor, ScaledObject, HTTPRoute, DRA) is served.
    optionalKind: (ref) => Promise.resolve(served.includes(ref) ? cluster.cache(ref) : undefined),
    now: () => now,
  });
  cluster.put(RESOURCES.namespace, {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'ml' },
    status: { phase: 'Active' },
  });
  cluster.put(RESOURCES.modelDeployment, modelDeployment(spec));
  cluster.sync();
  /** The writes since the last call. */
  let seen = 0;
  const newWrites = () => cluster.writes.slice(seen, (seen = cluster.writes.length));
  const advance = (ms: number) => (now = new Date(now.getTime() + ms));
  const model = () => cluster.get<ModelDeploymentObject>(RESOURCES.modelDeployment, 'ml', 'mnist')!;
  return { cluster, reconciler, events, newWrites, advance, model };
}

const condition = (status: ModelDeploymentStatus | undefined, type: string) =>
  status?.conditions?.find((c) => c.type === type);

/** What the Deployment controller writes once `replicas` pods run and `ready` of them are ready. */
const deploymentStatus = (replicas: number, ready: number) => ({
  observedGeneration: 1,
  replicas,
  updatedReplicas: replicas,
  readyReplicas: ready,
  availableReplicas: ready,
});

function readyPod(name: string) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'ml',
      labels: { 'tensorfleet.dev/model': 'mnist', 'tensorfleet.dev/version': '3' },
    },
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

/** An object in the model's namespace whose controller owner has uid `ownerUid`. */
function leftover(kind: string, name: string, ownerUid: string): KubeObject {
  return {
    apiVersion: kind === 'Deployment' ? 'apps/v1' : 'v1',
    kind,
    metadata: {
      name,
      namespace: 'ml',
      ownerReferences: [
        {
          apiVersion: 'tensorfleet.dev/v1alpha1',
          kind: 'ModelDeployment',
          name: 'mnist',
          uid: ownerUid,
          controller: true,
        },
      ],
    },
  };
}

describe('ModelDeploymentReconciler', () => {
  const queues: WorkQueue[] = [];
  afterEach(() => {
    for (const q of queues.splice(0)) q.shutDown();
  });

  it('creates the owned objects of a new model and reports it rolling out', async () => {
    const { cluster, reconciler, events, newWrites, model } = setup();
    expect(await reconciler.reconcile(KEY)).toEqual({ requeueAfterMs: 30_000 });
    expect(newWrites()).toEqual([
      `PATCH ${DEPLOYMENTS}/mnist`,
      `PATCH ${SERVICES}/mnist`,
      'PATCH /apis/policy/v1/namespaces/ml/poddisruptionbudgets/mnist',
      `PATCH ${STATUS}`,
    ]);
    const deployment = cluster.get(RESOURCES.deployment, 'ml', 'mnist')!;
    expect(deployment.metadata.ownerReferences).toEqual([
      expect.objectContaining({ uid: 'uid-mnist', controller: true }),
    ]);
    expect(deployment.metadata.annotations).toHaveProperty(['tensorfleet.dev/applied-hash']);
    const status = model().status;
    expect(status).toMatchObject({ observedGeneration: 1, targetVersion: '3' });
    expect(condition(status, 'Ready')).toMatchObject<Partial<Condition>>({
      status: 'False',
      reason: REASON.RollingOut,
      // The injected clock, not the machine's.
      lastTransitionTime: T0,
    });
    expect(condition(status, 'Reconciling')).toMatchObject({ status: 'True' });
    expect(status?.history).toEqual([
      { version: '3', uri: 's3://models/mnist/3/', startedAt: T0, outcome: 'Progressing' },
    ]);
    expect(events).toEqual([]);
  });

  it('writes nothing the second time, whether or not its caches have caught up', async () => {
    const { cluster, reconciler, events, newWrites } = setup();
    await reconciler.reconcile(KEY);
    newWrites();
    // The caches still show no Deployment and no status: the reconciler reads
    // the objects it created and trusts the status it wrote.
    expect(await reconciler.reconcile(KEY)).toEqual({ requeueAfterMs: 30_000 });
    expect(newWrites()).toEqual([]);
    cluster.sync();
    expect(await reconciler.reconcile(KEY)).toEqual({ requeueAfterMs: 30_000 });
    expect(newWrites()).toEqual([]);
    expect(events).toEqual([]);
  });

  it('trusts its own apply over a cache that lags, for 30 s of its clock', async () => {
    const { cluster, reconciler, newWrites, advance, model } = setup();
    await reconciler.reconcile(KEY);
    cluster.sync();
    newWrites();
    const md = model();
    cluster.put(RESOURCES.modelDeployment, {
      ...md,
      metadata: { ...md.metadata, generation: 2 },
      spec: { ...md.spec, replicas: 3 },
    });
    cluster.sync(RESOURCES.modelDeployment);

    await reconciler.reconcile(KEY);
    expect(newWrites()).toEqual([`PATCH ${DEPLOYMENTS}/mnist`, `PATCH ${STATUS}`]);
    expect(cluster.get(RESOURCES.deployment, 'ml', 'mnist')).toMatchObject({
      spec: { replicas: 3 },
    });
    // The Deployment cache still shows 2 replicas: the apply is not repeated...
    advance(29_000);
    await reconciler.reconcile(KEY);
    expect(newWrites()).toEqual([]);
    // ...until a cache that never caught up is no longer believed to be lagging.
    advance(2_000);
    await reconciler.reconcile(KEY);
    expect(newWrites()).toContain(`PATCH ${DEPLOYMENTS}/mnist`);
  });

  it('holds back a change of counters alone, and writes it 5 s later', async () => {
    const { cluster, reconciler, newWrites, advance, model } = setup();
    await reconciler.reconcile(KEY);
    // Two pods created, none ready: only counters and a message move.
    cluster.setStatus(RESOURCES.deployment, 'ml', 'mnist', deploymentStatus(2, 0));
    cluster.sync();
    newWrites();

    expect(await reconciler.reconcile(KEY)).toEqual({ requeueAfterMs: STATUS_COALESCE_MS });
    advance(2_000);
    expect(await reconciler.reconcile(KEY)).toEqual({ requeueAfterMs: 3_000 });
    expect(newWrites()).toEqual([]);
    advance(3_000);
    expect(await reconciler.reconcile(KEY)).toEqual({ requeueAfterMs: 30_000 });
    expect(newWrites()).toEqual([`PATCH ${STATUS}`]);
    expect(model().status).toMatchObject({ replicas: 2, readyReplicas: 0 });
  });

  it('writes Ready at once when the model serves, and then asks for no requeue', async () => {
    const { cluster, reconciler, events, newWrites, model } = setup();
    await reconciler.reconcile(KEY);
    cluster.setStatus(RESOURCES.deployment, 'ml', 'mnist', deploymentStatus(2, 2));
    for (const name of ['mnist-a', 'mnist-b']) cluster.put(RESOURCES.pod, readyPod(name));
    cluster.put(RESOURCES.endpointSlice, {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: 'mnist-x1',
        namespace: 'ml',
        labels: { 'kubernetes.io/service-name': 'mnist' },
      },
      endpoints: ['mnist-a', 'mnist-b'].map((name) => ({ targetRef: { kind: 'Pod', name } })),
    });
    cluster.sync();
    newWrites();

    expect(await reconciler.reconcile(KEY)).toEqual({});
    expect(newWrites()).toEqual([`PATCH ${STATUS}`]);
    expect(condition(model().status, 'Ready')).toMatchObject({
      status: 'True',
      reason: REASON.ModelServing,
    });
    expect(model().status?.history?.[0]?.outcome).toBe('Succeeded');
    // A first rollout's readiness is not an Event (as with Deployments).
    expect(events).toEqual([]);
  });

  it('reports an object the API server refuses as ApplyFailed, and is retried with backoff', async () => {
    const { cluster, reconciler, events, newWrites, model } = setup();
    cluster.fault = (method, path) =>
      method === 'PATCH' && path.startsWith(DEPLOYMENTS)
        ? new ApiError(422, 'Invalid', 'Deployment.apps "mnist" is invalid: spec.template: bad')
        : undefined;
    const metrics = new OperatorMetrics({ defaultMetrics: false });
    const queue = new WorkQueue({ baseDelayMs: 1_000, maxDelayMs: 60_000 }, metrics.workqueue);
    queues.push(queue);
    const controller = new Controller(queue, reconciler, metrics, silentLogger, 1);

    await controller.process(KEY);
    expect(queue.numRequeues(KEY)).toBe(1);
    expect(newWrites()).toEqual([`PATCH ${DEPLOYMENTS}/mnist`, `PATCH ${STATUS}`]);
    const status = model().status;
    for (const [type, value] of [
      ['Ready', 'False'],
      ['Reconciling', 'False'],
      ['Stalled', 'True'],
    ]) {
      expect(condition(status, type!)).toMatchObject({
        status: value,
        reason: REASON.ApplyFailed,
        message: 'Deployment.apps "mnist" is invalid: spec.template: bad',
      });
    }
    expect(events).toEqual([`Warning ${REASON.ApplyFailed}`]);

    // Failing the same way again: backoff grows; status and Event are not repeated.
    await controller.process(KEY);
    expect(queue.numRequeues(KEY)).toBe(2);
    expect(queue.backoffFor(queue.numRequeues(KEY) - 1)).toBe(2_000);
    expect(newWrites()).toEqual([`PATCH ${DEPLOYMENTS}/mnist`]);
    expect(events).toHaveLength(1);
    expect((await metrics.reconcileErrors.get()).values[0]?.value).toBe(2);
  });

  it('keeps a passing error (a conflict) off status, and retries it', async () => {
    const { cluster, reconciler, newWrites, model } = setup();
    cluster.fault = (method, path) =>
      method === 'PATCH' && path.startsWith(SERVICES)
        ? new ApiError(409, 'Conflict', 'the object has been modified')
        : undefined;
    await expect(reconciler.reconcile(KEY)).rejects.toThrow('the object has been modified');
    expect(newWrites()).toEqual([`PATCH ${DEPLOYMENTS}/mnist`, `PATCH ${SERVICES}/mnist`]);
    expect(model().status).toBeUndefined();

    cluster.fault = undefined;
    await reconciler.reconcile(KEY);
    // The Deployment applied before the conflict is not applied again.
    expect(newWrites()).not.toContain(`PATCH ${DEPLOYMENTS}/mnist`);
    expect(condition(model().status, 'Stalled')).toMatchObject({ status: 'False' });
  });

  it('stops for good on a spec it cannot serve, saying InvalidSpec', async () => {
    const { cluster, reconciler, events, newWrites, model } = setup();
    const md = model();
    cluster.put(RESOURCES.modelDeployment, { ...md, spec: { ...md.spec, replicas: -1 } });
    cluster.sync();
    await expect(reconciler.reconcile(KEY)).rejects.toBeInstanceOf(TerminalError);
    expect(newWrites()).toEqual([`PATCH ${STATUS}`]);
    expect(condition(model().status, 'Stalled')).toMatchObject({
      status: 'True',
      reason: REASON.InvalidSpec,
    });
    expect(events).toEqual([`Warning ${REASON.InvalidSpec}`]);
  });

  it('deletes the tracks it no longer wants, and nothing it does not own', async () => {
    const { cluster, reconciler, newWrites } = setup();
    await reconciler.reconcile(KEY);
    // The stable track serves the target version; a canary track and track
    // Services are left from a canary through a Gateway.
    cluster.setStatus(RESOURCES.deployment, 'ml', 'mnist', deploymentStatus(2, 2));
    cluster.put(RESOURCES.deployment, leftover('Deployment', 'mnist-canary', 'uid-mnist'));
    cluster.put(RESOURCES.service, leftover('Service', 'mnist-stable', 'uid-mnist'));
    cluster.put(RESOURCES.service, leftover('Service', 'mnist-canary', 'uid-someone-else'));
    cluster.sync();
    newWrites();

    await reconciler.reconcile(KEY);
    const deletes = newWrites().filter((w) => w.startsWith('DELETE'));
    expect(deletes).toEqual([
      `DELETE ${SERVICES}/mnist-stable`,
      `DELETE ${DEPLOYMENTS}/mnist-canary`,
    ]);
    expect(cluster.get(RESOURCES.service, 'ml', 'mnist-canary')).toBeDefined();
  });

  it('forgets a deleted model: one created again under its name starts afresh', async () => {
    const { cluster, reconciler, newWrites, model } = setup();
    await reconciler.reconcile(KEY);
    cluster.remove(RESOURCES.modelDeployment, 'ml', 'mnist');
    cluster.sync();
    newWrites();
    expect(await reconciler.reconcile(KEY)).toEqual({});
    expect(newWrites()).toEqual([]);

    // Created again before the old status could show in the cache: the
    // status written for the old model must not stand for the new one's.
    cluster.put(RESOURCES.modelDeployment, modelDeployment({ replicas: 2 }));
    cluster.sync(RESOURCES.modelDeployment);
    await reconciler.reconcile(KEY);
    expect(newWrites()).toContain(`PATCH ${STATUS}`);
    expect(model().status?.history).toHaveLength(1);
  });
});

describe('a model whose GPUs come through DRA', () => {
  const TEMPLATES = '/apis/resource.k8s.io/v1/namespaces/ml/resourceclaimtemplates';
  const dra = (count: number) => ({ replicas: 1, resources: { gpu: { count, dra: {} } } });
  /** The templates in the cluster (their cache brought up to date). */
  const template = (cluster: FakeCluster) => {
    cluster.sync(RESOURCES.resourceClaimTemplate);
    return cluster
      .cache(RESOURCES.resourceClaimTemplate)
      .list('ml')
      .map((t) => t.metadata.name);
  };

  it('writes its ResourceClaimTemplate before the Deployment whose pods name it', async () => {
    const { cluster, reconciler, newWrites } = setup(dra(2), [RESOURCES.resourceClaimTemplate]);
    await reconciler.reconcile(KEY);
    const [name] = template(cluster);
    expect(newWrites().slice(0, 2)).toEqual([
      `PATCH ${TEMPLATES}/${name}`,
      `PATCH ${DEPLOYMENTS}/mnist`,
    ]);
    const pod = cluster.get<
      KubeObject & { spec: { template: { spec: { resourceClaims: unknown } } } }
    >(RESOURCES.deployment, 'ml', 'mnist')!.spec.template.spec;
    expect(pod.resourceClaims).toEqual([{ name: 'gpu', resourceClaimTemplateName: name }]);
  });

  it('deletes a template of an earlier request once no pod of the model names it', async () => {
    const { cluster, reconciler, model } = setup(dra(2), [RESOURCES.resourceClaimTemplate]);
    await reconciler.reconcile(KEY);
    const [first] = template(cluster);
    // An old pod still names the first template: it stays.
    cluster.put(RESOURCES.pod, {
      ...readyPod('mnist-old'),
      spec: { resourceClaims: [{ name: 'gpu', resourceClaimTemplateName: first }] },
    } as KubeObject);
    // The request changes (defaults applied, as the API server would).
    cluster.put(RESOURCES.modelDeployment, {
      ...modelDeployment(dra(4)),
      metadata: model().metadata,
    });
    cluster.sync();
    await reconciler.reconcile(KEY);
    const both = template(cluster);
    expect(both).toHaveLength(2);
    expect(both).toContain(first);
    // The old pod is gone: so is its template.
    cluster.remove(RESOURCES.pod, 'ml', 'mnist-old');
    cluster.sync();
    await reconciler.reconcile(KEY);
    expect(template(cluster)).toEqual(both.filter((n) => n !== first));
  });

  it('reports DRANotServed where the cluster does not serve resource.k8s.io/v1', async () => {
    const { reconciler, model } = setup(dra(1));
    await reconciler.reconcile(KEY);
    expect(condition(model().status, 'Ready')).toMatchObject({
      status: 'False',
      reason: REASON.DRANotServed,
    });
  });
});
