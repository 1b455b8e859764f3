/**
 * Monitoring for real: the Prometheus Operator (built from Go modules) turns
 * the ServiceMonitor Tensorfleet writes into the scrape configuration of a
 * real Prometheus, which runs in a pod on the real node and scrapes the
 * runtime pods; the operator, pointed at that Prometheus by a `helm upgrade`,
 * scales the model with its builtin autoscaler on real traffic through the
 * Service, and back down, losing no request.
 *
 * The model is slow on purpose (TENSORFLEET_INJECT_LATENCY_MS=100), so the
 * runtime's in-flight gauge (the `concurrency` signal) follows the load's
 * concurrency: 12 in flight over a target of 4 per replica asks for 3.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { cacheDir } from '../../src/localcluster/manifest.js';
import { readImagesManifest } from '../../src/localcluster/node/registry.js';
import { serveDirectory, type ModelServer } from '../../src/localcluster/model-server.js';
import { REAL_NODE_LABEL } from '../../src/localcluster/node/real-node.js';
import {
  startPrometheusOperator,
  type PrometheusOperator,
} from '../../src/localcluster/prometheus-operator.js';
import { writeHalfPlusTwo } from '../support/models.js';
import { CHART_DIR, helmOk } from '../chart/helm.js';
import { startLoad, type Load } from '../support/load.js';
import { e2e, eventually, getJson, kubectl, kubectlOk } from './context.js';
import { modelDeployment, serviceUrl, waitReady } from './models.js';

const MODEL = 'watched';
const PROMETHEUS = 'e2e';
/** A fixed ClusterIP (the apiserver keeps the low end of the range for such): there is no cluster DNS. */
const PROMETHEUS_IP = '10.96.0.90';
const PROMETHEUS_URL = `http://${PROMETHEUS_IP}:9090`;
const CLUSTER_ROLE = 'tensorfleet-e2e-prometheus';

let namespace = '';
let dir = '';
let models: ModelServer | undefined;
let promop: PrometheusOperator | undefined;
let upgraded = false;
/** The tag of the Prometheus image `npm run images` built (the Debian package's version). */
let promVersion = '';

/** Points the installed operator at a Prometheus (or at none: ''), as a user would. */
async function setPrometheusUrl(url: string): Promise<void> {
  const { helm, kubeconfigPath, release, operatorNamespace } = e2e();
  await helmOk(
    helm,
    [
      'upgrade',
      release,
      CHART_DIR,
      '--namespace',
      operatorNamespace,
      '--reuse-values',
      '--set',
      `operator.prometheusUrl=${url}`,
      '--wait',
      '--timeout',
      '5m',
    ],
    kubeconfigPath,
  );
}

/** The objects a platform team writes for a Prometheus the Prometheus Operator runs. */
function prometheusObjects(ns: string): string {
  const items = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'prometheus', namespace: ns } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: CLUSTER_ROLE },
      rules: [
        {
          apiGroups: [''],
          resources: ['services', 'endpoints', 'pods'],
          verbs: ['get', 'list', 'watch'],
        },
        {
          apiGroups: ['discovery.k8s.io'],
          resources: ['endpointslices'],
          verbs: ['get', 'list', 'watch'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: CLUSTER_ROLE },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: CLUSTER_ROLE },
      subjects: [{ kind: 'ServiceAccount', name: 'prometheus', namespace: ns }],
    },
    {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'Prometheus',
      metadata: { name: PROMETHEUS, namespace: ns },
      spec: {
        // The Debian package's Prometheus, which `npm run images` packs under this tag.
        version: promVersion,
        replicas: 1,
        serviceAccountName: 'prometheus',
        // Every ServiceMonitor of this namespace: the one the operator writes.
        serviceMonitorSelector: {},
        serviceMonitorNamespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
        scrapeInterval: '2s',
        evaluationInterval: '2s',
        nodeSelector: { [REAL_NODE_LABEL]: 'true' },
        resources: { requests: { cpu: '100m', memory: '200Mi' } },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'prometheus', namespace: ns },
      spec: {
        clusterIP: PROMETHEUS_IP,
        selector: { prometheus: PROMETHEUS },
        ports: [{ name: 'web', port: 9090, targetPort: 'web' }],
      },
    },
  ];
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** An instant query against the Prometheus in the cluster, through its Service. */
async function query(expr: string): Promise<Sample[]> {
  const response = await fetch(`${PROMETHEUS_URL}/api/v1/query?query=${encodeURIComponent(expr)}`, {
    signal: AbortSignal.timeout(5000),
  });
  const body = (await response.json()) as {
    status: string;
    error?: string;
    data?: { result: Sample[] };
  };
  if (body.status !== 'success') throw new Error(`query ${expr}: ${body.error ?? response.status}`);
  return body.data?.result ?? [];
}

beforeAll(async () => {
  const prometheusImage = (await readImagesManifest(cacheDir())).images.find(
    (image) => image.name === 'prometheus/prometheus',
  );
  if (prometheusImage === undefined) throw new Error('npm run images built no Prometheus image');
  promVersion = prometheusImage.tag;
  const { kubeconfigPath, dir: clusterDir, manifest } = e2e();
  promop = await startPrometheusOperator({
    manifest,
    kubeconfigPath,
    kubectl: (args) => kubectl(args),
    logsDir: join(clusterDir, 'logs'),
  });
  namespace = `monitoring-${Date.now().toString(36)}`;
  await kubectlOk(['create', 'namespace', namespace]);
  await kubectlOk(['apply', '-f', '-'], prometheusObjects(namespace));
  dir = await mkdtemp(join(tmpdir(), 'tensorfleet-e2e-models-'));
  await writeHalfPlusTwo(join(dir, 'hpt', '1'), 2);
  models = await serveDirectory(dir, e2e().nodeIp);
  upgraded = true;
  await setPrometheusUrl(PROMETHEUS_URL);
});

afterAll(async () => {
  // The other files run against an operator that scrapes pods itself.
  if (upgraded) await setPrometheusUrl('');
  if (namespace) {
    await kubectl(['delete', 'namespace', namespace, '--wait=false', '--ignore-not-found']);
  }
  await kubectl(['delete', 'clusterrolebinding,clusterrole', CLUSTER_ROLE, '--ignore-not-found']);
  await promop?.stop();
  await models?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function replicas(): Promise<{
  spec: number;
  ready: number;
  status: Record<string, unknown>;
}> {
  const md = await getJson<{
    spec: { replicas: number };
    status?: { readyReplicas?: number; autoscaling?: Record<string, unknown> };
  }>(['get', 'md', '-n', namespace, MODEL]);
  return {
    spec: md.spec.replicas,
    ready: md.status?.readyReplicas ?? 0,
    status: md.status?.autoscaling ?? {},
  };
}

describe('monitoring through the Prometheus Operator', () => {
  it('scrapes every runtime pod through the ServiceMonitor and autoscales on what it scraped', async () => {
    await kubectlOk(
      ['apply', '-n', namespace, '-f', '-'],
      modelDeployment(
        MODEL,
        { uri: `${models!.url}hpt/1/model.json`, version: '1' },
        {
          runtime: { env: [{ name: 'TENSORFLEET_INJECT_LATENCY_MS', value: '100' }] },
          monitoring: { serviceMonitor: { enabled: 'true', interval: '2s' } },
          autoscaling: {
            engine: 'builtin',
            minReplicas: 1,
            maxReplicas: 3,
            metric: { type: 'concurrency', target: 4 },
            behavior: {
              scaleUp: { stabilizationWindowSeconds: 0 },
              scaleDown: { stabilizationWindowSeconds: 10 },
            },
          },
        },
      ),
    );
    await waitReady(namespace, MODEL);
    const url = await serviceUrl(namespace, MODEL);

    // The ServiceMonitor became a scrape target, labelled as the operator's queries expect.
    const [target] = await eventually(
      'Prometheus to scrape the runtime pod',
      async () => {
        const up = await query(`up{namespace="${namespace}"} == 1`);
        return up.length === 1 ? up : undefined;
      },
      180_000,
    );
    expect(target!.metric).toMatchObject({
      namespace,
      service: MODEL,
      tensorfleet_dev_version: '1',
    });
    expect(target!.metric['pod']).toMatch(new RegExp(`^${MODEL}-`));
    const series = await eventually('the runtime series the autoscaler reads', async () => {
      const found = await query(
        `tensorfleet_runtime_inflight_requests{namespace="${namespace}",model="${MODEL}"}`,
      );
      return found.length === 1 ? found : undefined;
    });
    expect(series[0]!.metric['version']).toBe('1');

    const versions = { '1': (x: number) => 0.5 * x + 2 };
    let load: Load | undefined = startLoad({ url, model: MODEL, concurrency: 12, versions });
    try {
      const up = await eventually(
        'the builtin autoscaler to ask for 3 replicas',
        async () => {
          const r = await replicas();
          return r.spec >= 3 ? r : undefined;
        },
        120_000,
      );
      expect(up.spec).toBe(3);
      // What it reads from Prometheus is the load: 12 in flight over 3 replicas.
      // The reading is taken again every evaluation, and one has read 0 while
      // the new pods started (the scale-down window rides over a single
      // reading), so this waits for the steady value.
      await eventually('the autoscaler to read the load over 3 replicas', async () => {
        const value = Number((await replicas()).status['currentValue']);
        return value > 2 ? value : undefined;
      });
      // The new pods are scraped too: the ServiceMonitor follows the Service's endpoints.
      await eventually(
        'Prometheus to scrape all 3 pods',
        async () =>
          (await query(`up{namespace="${namespace}"} == 1`)).length === 3 ? true : undefined,
        120_000,
      );
      const heavy = await load.stop();
      load = undefined;
      expect(heavy.failures).toEqual({});
      expect(heavy.ok).toBe(heavy.sent);

      // A light load (2 in flight, under one replica's target) goes on through the scale-down.
      load = startLoad({ url, model: MODEL, concurrency: 2, versions });
      await eventually(
        'the builtin autoscaler to scale back to 1 replica',
        async () => {
          const r = await replicas();
          return r.spec === 1 && r.ready === 1 ? true : undefined;
        },
        180_000,
      );
      await eventually(
        'the terminated pods to leave Prometheus targets',
        async () => ((await query(`up{namespace="${namespace}"}`)).length === 1 ? true : undefined),
        120_000,
      );
      const light = await load.stop();
      load = undefined;
      process.stderr.write(
        `[e2e] autoscaled through Prometheus: heavy ${heavy.sent} sent, ${heavy.ok} correct; ` +
          `light ${light.sent} sent, ${light.ok} correct, failures ${JSON.stringify(light.failures)}\n`,
      );
      expect(light.failures).toEqual({});
      expect(light.ok).toBe(light.sent);
    } finally {
      await load?.stop();
    }
  });
});
