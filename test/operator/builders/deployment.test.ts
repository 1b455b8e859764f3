import { describe, expect, it } from 'vitest';
import {
  buildDeployment,
  gpuRequest,
  modelSourcePlan,
  requireNodeLabel,
} from '../../../src/operator/builders/deployment.js';
import { modelVersion } from '../../../src/operator/builders/labels.js';
import { CONFIG, modelDeployment } from '../fixtures.js';

const container = (d: ReturnType<typeof buildDeployment>) => d.spec!.template.spec!.containers[0]!;

describe('buildDeployment', () => {
  it('passes the quality flags for monitoring.quality, and none without it', () => {
    const quality = (spec: Record<string, unknown>) =>
      container(buildDeployment(modelDeployment(spec), CONFIG)).args!.filter((a) =>
        a.startsWith('--quality-'),
      );
    expect(
      quality({
        monitoring: { quality: { output: 'probabilities', kind: 'classification', window: 500 } },
      }),
    ).toEqual([
      '--quality-tracking=true',
      '--quality-output=probabilities',
      '--quality-kind=classification',
      '--quality-window=500',
    ]);
    expect(quality({})).toEqual([]);
    expect(quality({ monitoring: { quality: { enabled: false, output: 'x' } } })).toEqual([]);
  });

  it('runs the runtime with arguments from the spec and defaults', () => {
    const d = buildDeployment(
      modelDeployment({ runtime: { batching: { maxBatchSize: 64 } } }),
      CONFIG,
    );
    expect(d.metadata).toMatchObject({ name: 'mnist', namespace: 'ml' });
    expect(container(d).args).toEqual(
      expect.arrayContaining([
        'serve',
        '--model-name=mnist',
        '--model-uri=file:///models/model',
        '--model-version=3',
        '--backend=auto',
        '--port=8501',
        '--grpc-port=8500',
        '--max-batch-size=64',
        '--batch-timeout-micros=2000',
        '--max-queue-size=256',
        '--warmup-iterations=2',
      ]),
    );
    expect(container(d).image).toBe(CONFIG.runtimeImage);
    expect(d.spec!.replicas).toBe(1);
  });

  it("passes the pod's CPUs to the runtime: the limit, else the request, unless the spec sets them", () => {
    const cpus = (md: Parameters<typeof buildDeployment>[0]) =>
      container(buildDeployment(md, CONFIG)).env?.filter((e) => e.name === 'TENSORFLEET_CPUS');
    const ref = (resource: string) => [
      {
        name: 'TENSORFLEET_CPUS',
        valueFrom: { resourceFieldRef: { containerName: 'runtime', resource, divisor: '1' } },
      },
    ];
    expect(
      cpus(modelDeployment({ resources: { requests: { cpu: '500m' }, limits: { cpu: 2 } } })),
    ).toEqual(ref('limits.cpu'));
    expect(cpus(modelDeployment({ resources: { requests: { cpu: '1500m' } } }))).toEqual(
      ref('requests.cpu'),
    );
    expect(cpus(modelDeployment({}))).toEqual([]);
    expect(
      cpus(
        modelDeployment({
          resources: { limits: { cpu: 4 } },
          runtime: { env: [{ name: 'TENSORFLEET_CPUS', value: '2' }] },
        }),
      ),
    ).toEqual([{ name: 'TENSORFLEET_CPUS', value: '2' }]);
  });

  it('is owned by the ModelDeployment and labelled with model, version and track', () => {
    const d = buildDeployment(modelDeployment({}), CONFIG);
    expect(d.metadata.ownerReferences).toEqual([
      expect.objectContaining({
        kind: 'ModelDeployment',
        name: 'mnist',
        uid: 'uid-mnist',
        controller: true,
      }),
    ]);
    expect(d.spec!.selector.matchLabels).toEqual({
      'tensorfleet.dev/model': 'mnist',
      'tensorfleet.dev/track': 'stable',
    });
    expect(d.spec!.template.metadata!.labels).toMatchObject({
      'tensorfleet.dev/model': 'mnist',
      'tensorfleet.dev/version': '3',
      'tensorfleet.dev/track': 'stable',
      'app.kubernetes.io/managed-by': 'tensorfleet',
    });
  });

  it('downloads remote models in an init container with the credentials Secret', () => {
    const d = buildDeployment(
      modelDeployment({ model: { uri: 's3://b/m/', credentialsSecret: 's3-creds' } }),
      CONFIG,
    );
    const init = d.spec!.template.spec!.initContainers![0]!;
    expect(init.args).toEqual(['fetch', '--model-uri=s3://b/m/', '--dest=/models/model']);
    expect(init.envFrom).toEqual([{ secretRef: { name: 's3-creds' } }]);
    expect(d.spec!.template.spec!.volumes).toContainEqual({ name: 'model', emptyDir: {} });
  });

  it('mounts a pvc:// claim read-only and serves from it without downloading', () => {
    const d = buildDeployment(
      modelDeployment({ model: { uri: 'pvc://store/sentiment/3' } }),
      CONFIG,
    );
    expect(d.spec!.template.spec!.initContainers).toBeUndefined();
    expect(container(d).args).toContain('--model-uri=file:///mnt/model-store/sentiment/3');
    expect(d.spec!.template.spec!.volumes).toContainEqual({
      name: 'model-store',
      persistentVolumeClaim: { claimName: 'store', readOnly: true },
    });
  });

  it('requests GPUs, tolerates the GPU taint, requires the product and uses the GPU image', () => {
    const md = modelDeployment({
      resources: {
        gpu: { count: 2, product: 'NVIDIA-H100-80GB-HBM3' },
        requests: { cpu: '4', memory: '16Gi' },
      },
      placement: { runtimeClassName: 'nvidia', priorityClassName: 'serving' },
    });
    const d = buildDeployment(md, CONFIG);
    const pod = d.spec!.template.spec!;
    expect(container(d).resources).toEqual({
      requests: { cpu: '4', memory: '16Gi' },
      limits: { 'nvidia.com/gpu': '2' },
    });
    expect(container(d).image).toBe(CONFIG.runtimeGpuImage);
    expect(pod.tolerations).toContainEqual({
      key: 'nvidia.com/gpu',
      operator: 'Exists',
      effect: 'NoSchedule',
    });
    expect(
      pod.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms,
    ).toEqual([
      {
        matchExpressions: [
          { key: 'nvidia.com/gpu.product', operator: 'In', values: ['NVIDIA-H100-80GB-HBM3'] },
        ],
      },
    ]);
    expect(pod.runtimeClassName).toBe('nvidia');
    expect(pod.priorityClassName).toBe('serving');
  });

  it('maps a MIG profile to its extended resource', () => {
    const md = modelDeployment({ resources: { gpu: { migProfile: '1g.10gb' } } });
    expect(gpuRequest(md, CONFIG)).toEqual({ resource: 'nvidia.com/mig-1g.10gb', count: 1 });
    expect(container(buildDeployment(md, CONFIG)).resources!.limits).toEqual({
      'nvidia.com/mig-1g.10gb': '1',
    });
  });

  it('treats gpu.count 0 as a CPU model', () => {
    const md = modelDeployment({ resources: { gpu: { count: 0 } } });
    expect(gpuRequest(md, CONFIG)).toBeUndefined();
    expect(buildDeployment(md, CONFIG).spec!.template.spec!.tolerations).toBeUndefined();
  });

  it('uses the configured GPU resource name unless the spec names one', () => {
    const md = modelDeployment({ resources: { gpu: { count: 1 } } });
    expect(gpuRequest(md, { gpuResourceName: 'amd.com/gpu' })).toEqual({
      resource: 'amd.com/gpu',
      count: 1,
    });
    const own = modelDeployment({
      resources: { gpu: { count: 1, resourceName: 'intel.com/gpu' } },
    });
    expect(gpuRequest(own, CONFIG)!.resource).toBe('intel.com/gpu');
  });

  it('runs with restricted pod security', () => {
    const d = buildDeployment(modelDeployment({}), CONFIG);
    const pod = d.spec!.template.spec!;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
      expect(c.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
    }
  });

  it('probes readiness on the model being loaded and drains before exit', () => {
    const d = buildDeployment(modelDeployment({}), CONFIG);
    const c = container(d);
    expect(c.readinessProbe!.httpGet!.path).toBe('/v2/health/ready');
    expect(c.startupProbe!.httpGet!.path).toBe('/v2/health/ready');
    expect(c.livenessProbe!.httpGet!.path).toBe('/v2/health/live');
    expect(c.lifecycle!.preStop!.sleep!.seconds).toBeGreaterThan(0);
    expect(d.spec!.template.spec!.terminationGracePeriodSeconds).toBeGreaterThan(35);
    expect(c.terminationMessagePolicy).toBe('FallbackToLogsOnError');
  });

  it.each([
    [{}, ['http', 'grpc'], '--grpc-port=8500', 'httpGet'],
    [{ grpc: { enabled: false } }, ['http'], '--grpc-port=-1', 'httpGet'],
    [{ grpc: { probes: true } }, ['http', 'grpc'], '--grpc-port=8500', 'grpc'],
  ] as const)('serves gRPC as runtime.grpc says: %j', (grpc, ports, flag, startupAndReadiness) => {
    const c = container(buildDeployment(modelDeployment({ runtime: grpc }), CONFIG));
    expect(c.ports!.map((p) => [p.name, p.containerPort])).toEqual(
      ports.map((name) => [name, name === 'http' ? 8501 : 8500]),
    );
    expect(c.args).toContain(flag);
    for (const probe of [c.startupProbe!, c.readinessProbe!]) {
      expect(Object.keys(probe)).toContain(startupAndReadiness);
    }
    if (startupAndReadiness === 'grpc') {
      expect(c.readinessProbe!.grpc).toEqual({ port: 8500, service: '' });
    }
    // Liveness stays on HTTP: it answers while the pod drains, gRPC health does not.
    expect(c.livenessProbe!.httpGet!.path).toBe('/v2/health/live');
  });

  it('carries the rollout settings and accepts an in-place override', () => {
    const md = modelDeployment({
      rollout: { maxSurge: '25%', maxUnavailable: 0, progressDeadlineSeconds: 120 },
    });
    expect(buildDeployment(md, CONFIG).spec!.strategy!.rollingUpdate).toEqual({
      maxSurge: '25%',
      maxUnavailable: 0,
    });
    expect(buildDeployment(md, CONFIG).spec!.progressDeadlineSeconds).toBe(120);
    const inPlace = buildDeployment(md, CONFIG, { inPlace: true });
    expect(inPlace.spec!.strategy!.rollingUpdate).toEqual({ maxSurge: 0, maxUnavailable: 1 });
    expect(inPlace.metadata.annotations).toMatchObject({
      'tensorfleet.dev/rollout-mode': 'in-place',
    });
    expect(buildDeployment(md, CONFIG).metadata.annotations).not.toHaveProperty(
      'tensorfleet.dev/rollout-mode',
    );
  });

  it('names a canary track apart and serves the version it is given', () => {
    const d = buildDeployment(modelDeployment({}), CONFIG, {
      track: 'canary',
      replicas: 1,
      model: { uri: 's3://models/mnist/4/', version: '4' },
    });
    expect(d.metadata.name).toBe('mnist-canary');
    expect(d.metadata.annotations!['tensorfleet.dev/model-uri']).toBe('s3://models/mnist/4/');
    expect(d.spec!.selector.matchLabels!['tensorfleet.dev/track']).toBe('canary');
    expect(container(d).args).toContain('--model-version=4');
  });

  it('is deterministic: the same input builds the same object', () => {
    const md = modelDeployment({ resources: { gpu: { count: 1, product: 'X' } } });
    expect(JSON.stringify(buildDeployment(md, CONFIG))).toBe(
      JSON.stringify(buildDeployment(md, CONFIG)),
    );
  });
});

describe('helpers', () => {
  it('modelSourcePlan serves file:// in place', () => {
    expect(modelSourcePlan('file:///opt/model')).toMatchObject({
      serveUri: 'file:///opt/model',
      fetch: false,
    });
  });

  it('requireNodeLabel adds the product to each of the user terms', () => {
    const merged = requireNodeLabel(
      {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] },
              { matchExpressions: [{ key: 'zone', operator: 'In', values: ['b'] }] },
            ],
          },
        },
      },
      'p',
      'v',
    );
    const terms =
      merged.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms;
    expect(terms).toHaveLength(2);
    for (const t of terms)
      expect(t.matchExpressions).toContainEqual({ key: 'p', operator: 'In', values: ['v'] });
  });

  it('modelVersion falls back to a stable hash of the uri', () => {
    const md = modelDeployment({ model: { uri: 's3://a/b/' } });
    expect(modelVersion(md)).toMatch(/^[0-9a-f]{10}$/);
    expect(modelVersion(md)).toBe(modelVersion(modelDeployment({ model: { uri: 's3://a/b/' } })));
    expect(modelVersion(md)).not.toBe(
      modelVersion(modelDeployment({ model: { uri: 's3://a/c/' } })),
    );
  });
});
