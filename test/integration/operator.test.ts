// The operator against a real control plane with simulated GPU nodes: what it
// creates, the status it reports, scaling, rollouts, pruning and its silence
// when nothing changes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { V1Deployment } from '@kubernetes/client-node';
import type { Operator } from '../../src/operator/operator.js';
import { createNamespace, deleteNamespace, eventually, kubectlOk } from './context.js';
import {
  apply,
  condition,
  getJson,
  modelDeploymentManifest,
  startOperator,
  waitForCondition,
  writes,
  type ModelDeploymentJson,
} from './operator-support.js';

const H100 = 'NVIDIA-H100-80GB-HBM3';
let ns: string;
let operator: Operator;

beforeAll(async () => {
  ns = await createNamespace('operator');
  // A short resync makes the idle test prove that reconciles happen without writes.
  operator = await startOperator(ns, {
    resyncPeriodSeconds: 15,
    prometheusUrl: 'http://prometheus.monitoring.svc:9090',
  });
});

afterAll(async () => {
  await operator?.stop();
  await deleteNamespace(ns);
});

describe('operator', () => {
  it('turns a GPU ModelDeployment into a Deployment, Service, PDB and ServiceMonitor, and reports Ready', async () => {
    await apply(
      ns,
      modelDeploymentManifest('resnet', {
        replicas: 2,
        resources: { gpu: { count: 1, product: H100 }, requests: { cpu: '1', memory: '1Gi' } },
        monitoring: { serviceMonitor: { labels: { release: 'prometheus' } } },
      }),
    );
    const md = await waitForCondition(ns, 'resnet', 'Ready', 'True');
    expect(md.status).toMatchObject({
      readyReplicas: 2,
      currentVersion: '1',
      targetVersion: '1',
      selector: 'tensorfleet.dev/model=resnet',
      url: `http://resnet.${ns}.svc.cluster.local:8501`,
    });
    expect(condition(md, 'Stalled')?.status).toBe('False');
    expect(condition(md, 'Reconciling')?.status).toBe('False');

    const d = (await getJson<V1Deployment>(ns, 'deployment', 'resnet'))!;
    const pod = d.spec!.template.spec!;
    expect(pod.containers[0]!.resources!.limits).toEqual({ 'nvidia.com/gpu': '1' });
    // The runtime sizes its workers by the pod's CPUs: the request here, through the downward API.
    expect(pod.containers[0]!.env).toContainEqual({
      name: 'TENSORFLEET_CPUS',
      valueFrom: {
        resourceFieldRef: { containerName: 'runtime', resource: 'requests.cpu', divisor: '1' },
      },
    });
    expect(pod.tolerations).toContainEqual({
      key: 'nvidia.com/gpu',
      operator: 'Exists',
      effect: 'NoSchedule',
    });
    expect(JSON.stringify(pod.affinity)).toContain(H100);
    expect(d.metadata!.ownerReferences![0]).toMatchObject({
      kind: 'ModelDeployment',
      name: 'resnet',
      controller: true,
    });

    // The pods really landed on the H100 node.
    const pods = JSON.parse(
      await kubectlOk([
        'get',
        'pods',
        '-n',
        ns,
        '-l',
        'tensorfleet.dev/model=resnet',
        '-o',
        'json',
      ]),
    ) as { items: { spec: { nodeName: string } }[] };
    expect(pods.items.map((p) => p.spec.nodeName)).toEqual(['gpu-h100-0', 'gpu-h100-0']);

    expect(await getJson(ns, 'service', 'resnet')).toBeDefined();
    expect(await getJson(ns, 'pdb', 'resnet')).toBeDefined();
    const sm = await getJson<{ metadata: { labels: Record<string, string> } }>(
      ns,
      'servicemonitor',
      'resnet',
    );
    expect(sm?.metadata.labels.release).toBe('prometheus');
  });

  it('flows kubectl scale through the scale subresource to the Deployment, and prunes the PDB at one replica', async () => {
    await kubectlOk(['scale', '-n', ns, 'md/resnet', '--replicas=3']);
    await eventually('Deployment at 3 replicas', async () => {
      const d = await getJson<V1Deployment>(ns, 'deployment', 'resnet');
      return d?.spec?.replicas === 3 ? d : undefined;
    });
    const md = await waitForCondition(ns, 'resnet', 'Ready', 'True');
    expect(md.status?.readyReplicas).toBe(3);

    await kubectlOk(['scale', '-n', ns, 'md/resnet', '--replicas=1']);
    await eventually('PDB removed', async () =>
      (await getJson(ns, 'pdb', 'resnet')) === undefined ? true : undefined,
    );
  });

  it('rolls out a new version and records it in history', async () => {
    await kubectlOk([
      'patch',
      '-n',
      ns,
      'md/resnet',
      '--type=merge',
      '-p',
      '{"spec":{"model":{"uri":"s3://models/resnet/2/","version":"2"}}}',
    ]);
    const md = await eventually('version 2 rolled out', async () => {
      const m = await waitForCondition(ns, 'resnet', 'Ready', 'True');
      return m.status?.currentVersion === '2' ? m : undefined;
    });
    expect(md.status?.history?.map((h) => [h.version, h.outcome])).toEqual([
      ['2', 'Succeeded'],
      ['1', 'Succeeded'],
    ]);
    const d = (await getJson<V1Deployment>(ns, 'deployment', 'resnet'))!;
    expect(d.spec!.template.metadata!.labels!['tensorfleet.dev/version']).toBe('2');
  });

  it('reports Unschedulable with the scheduler message when 100 GPUs are asked for', async () => {
    await apply(ns, modelDeploymentManifest('huge', { resources: { gpu: { count: 100 } } }));
    const md = await waitForCondition(ns, 'huge', 'Ready', 'False', 'Unschedulable');
    expect(condition(md, 'Ready')?.message).toContain('nvidia.com/gpu');
    const events = await kubectlOk([
      'get',
      'events.events.k8s.io',
      '-n',
      ns,
      '--field-selector',
      'regarding.name=huge',
      '-o',
      'json',
    ]);
    expect(events).toContain('Unschedulable');
  });

  it('ends a rollout that cannot progress Stalled, and recovers when the spec is reverted', async () => {
    await apply(ns, modelDeploymentManifest('stuck', { rollout: { progressDeadlineSeconds: 30 } }));
    await waitForCondition(ns, 'stuck', 'Ready', 'True');
    // Version 2 asks for more GPUs than any node has: its pod never schedules.
    await apply(
      ns,
      modelDeploymentManifest('stuck', {
        model: { uri: 's3://models/stuck/2/', version: '2' },
        resources: { gpu: { count: 100 } },
        rollout: { progressDeadlineSeconds: 30 },
      }),
    );
    const stalled = await waitForCondition(ns, 'stuck', 'Stalled', 'True', undefined, 90_000);
    expect(condition(stalled, 'Stalled')?.reason).toMatch(/ProgressDeadlineExceeded|Unschedulable/);
    expect(stalled.status?.history?.[0]).toMatchObject({ version: '2', outcome: 'Failed' });
    // The old version keeps serving meanwhile (maxUnavailable 0).
    expect(condition(stalled, 'Available')?.status).toBe('True');

    await apply(ns, modelDeploymentManifest('stuck', { rollout: { progressDeadlineSeconds: 30 } }));
    const recovered = await eventually(
      'recovered',
      async () => {
        const m = await waitForCondition(ns, 'stuck', 'Ready', 'True', undefined, 90_000);
        return m.status?.currentVersion === '1' ? m : undefined;
      },
      90_000,
    );
    expect(condition(recovered, 'Stalled')?.status).toBe('False');
  });

  it('writes an autoscaling/v2 HPA for engine hpa, and deletes it when the engine is turned off', async () => {
    await apply(
      ns,
      modelDeploymentManifest('scaled', {
        autoscaling: {
          engine: 'hpa',
          minReplicas: 1,
          maxReplicas: 4,
          metric: { type: 'cpu', target: 70 },
        },
      }),
    );
    const hpa = await eventually('HPA created', () =>
      getJson<{ spec: { scaleTargetRef: { kind: string }; maxReplicas: number } }>(
        ns,
        'hpa',
        'scaled',
      ),
    );
    expect(hpa.spec).toMatchObject({ scaleTargetRef: { kind: 'ModelDeployment' }, maxReplicas: 4 });
    // The real HPA controller runs (kube-controller-manager); with no metrics
    // server here it says it cannot read CPU, and status passes that on.
    const reported = await eventually(
      'status.autoscaling from the HPA controller',
      async () => {
        const md = await getJson<ModelDeploymentJson>(ns, 'md', 'scaled');
        const a = md?.status?.autoscaling;
        return a?.engine === 'hpa' && a.lastDecision && !/^waiting/.test(a.lastDecision)
          ? a
          : undefined;
      },
      90_000,
    );
    expect(reported.lastDecision).toMatch(/metric|cpu|scale/i);
    await apply(ns, modelDeploymentManifest('scaled', { autoscaling: { engine: 'none' } }));
    await eventually('HPA deleted', async () =>
      (await getJson(ns, 'hpa', 'scaled')) === undefined ? true : undefined,
    );
  });

  it('writes a KEDA ScaledObject the real KEDA CRD accepts, on a Prometheus trigger', async () => {
    await apply(
      ns,
      modelDeploymentManifest('keda', {
        autoscaling: {
          engine: 'keda',
          minReplicas: 0,
          maxReplicas: 4,
          metric: { type: 'rps', target: 50 },
        },
      }),
    );
    const so = await eventually('ScaledObject created', () =>
      getJson<{
        spec: {
          scaleTargetRef: { kind: string };
          triggers: { type: string; metadata: { query: string } }[];
        };
      }>(ns, 'scaledobject', 'keda'),
    );
    expect(so.spec.scaleTargetRef.kind).toBe('ModelDeployment');
    expect(so.spec.triggers[0]?.metadata.query).toContain('tensorfleet_runtime_requests_total');
    await kubectlOk(['delete', '-n', ns, 'md/keda', '--wait=true']);
  });

  it('reports an object the API server will not accept and keeps reconciling the others', async () => {
    // placement.affinity is kept as written; this one is not a valid Affinity.
    await apply(
      ns,
      modelDeploymentManifest('broken', {
        placement: {
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: 'all' },
            },
          },
        },
      }),
    );
    await apply(ns, modelDeploymentManifest('healthy', {}));
    const broken = await waitForCondition(ns, 'broken', 'Stalled', 'True', 'ApplyFailed');
    expect(condition(broken, 'Stalled')?.message).toMatch(/Deployment|nodeSelectorTerms/);
    await waitForCondition(ns, 'healthy', 'Ready', 'True');
  });

  it('will not take over a Service of the same name that is not its own', async () => {
    await kubectlOk(['create', 'service', 'clusterip', 'taken', '-n', ns, '--tcp=80:80']);
    await apply(ns, modelDeploymentManifest('taken', {}));
    const md = await waitForCondition(ns, 'taken', 'Stalled', 'True', 'NameConflict');
    expect(condition(md, 'Stalled')?.message).toContain(`Service ${ns}/taken already exists`);
    const svc = await getJson<{ metadata: { ownerReferences?: unknown[] } }>(
      ns,
      'service',
      'taken',
    );
    expect(svc?.metadata.ownerReferences).toBeUndefined();
    await kubectlOk(['delete', '-n', ns, 'md/taken', 'service/taken', '--wait=true']);
  });

  it('deletes nothing by hand: owned objects are garbage-collected with the ModelDeployment', async () => {
    await kubectlOk(['delete', '-n', ns, 'md/healthy', '--wait=true']);
    await eventually('Deployment and Service collected', async () => {
      const d = await getJson(ns, 'deployment', 'healthy');
      const s = await getJson(ns, 'service', 'healthy');
      return d === undefined && s === undefined ? true : undefined;
    });
  });

  it('serves /metrics under controller-runtime names, /healthz and /readyz', async () => {
    const base = `http://127.0.0.1:${operator.httpPort}`;
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(
      /controller_runtime_reconcile_total\{controller="modeldeployment",result="success"\} \d/,
    );
    expect(metrics).toContain('# TYPE controller_runtime_reconcile_time_seconds histogram');
    expect(metrics).toContain('workqueue_depth{name="modeldeployment"');
    expect(metrics).toMatch(
      /controller_runtime_reconcile_errors_total\{controller="modeldeployment"\} \d/,
    );
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it('makes no API writes while nothing changes (60 s, across resyncs)', async () => {
    await kubectlOk(['delete', '-n', ns, 'md/broken', 'md/huge', '--wait=true']);
    await waitForCondition(ns, 'resnet', 'Ready', 'True');
    await waitForCondition(ns, 'stuck', 'Ready', 'True');
    await waitForCondition(ns, 'scaled', 'Ready', 'True');
    // Let in-flight work settle, then count.
    await new Promise((r) => setTimeout(r, 5_000));
    const reconcilesBefore = (await operator.metrics.reconcileTotal.get()).values.reduce(
      (s, v) => s + v.value,
      0,
    );
    const before = await writes(operator);
    await new Promise((r) => setTimeout(r, 60_000));
    const reconcilesAfter = (await operator.metrics.reconcileTotal.get()).values.reduce(
      (s, v) => s + v.value,
      0,
    );
    expect(await writes(operator)).toBe(before);
    // Resyncs did run: the silence is not the operator being idle.
    expect(reconcilesAfter).toBeGreaterThan(reconcilesBefore);
  }, 120_000);
});
