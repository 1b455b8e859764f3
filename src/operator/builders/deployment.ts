// Desired Deployment of one track of a ModelDeployment. Pure: ModelDeployment
// and operator settings in, object out.
import type {
  V1Affinity,
  V1Container,
  V1Deployment,
  V1EnvFromSource,
  V1EnvVar,
  V1PodTemplateSpec,
  V1Probe,
  V1Toleration,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import type {
  ModelDeployment,
  Quality,
  Resources,
  VersionPolicy,
} from '../../api/v1alpha1/index.js';
import { GPU_PRODUCT_LABEL, MODEL_CREDENTIALS_DIR } from '../../api/v1alpha1/index.js';
import {
  envName,
  fetchArgs,
  LIVE_PATH,
  READY_PATH,
  RUNTIME_GRPC_PORT,
  RUNTIME_PORT,
  serveArgs,
  TERMINATION_LOG,
} from '../../contract/runtime.js';
import type { ServeConfig } from '../../contract/runtime.js';
import type { OperatorConfig } from '../config.js';
import type { Track } from './labels.js';
import { GPU_CLAIM, draRequest, resourceClaimTemplateName } from './resource-claim-template.js';
import {
  LABEL_MODEL,
  LABEL_TRACK,
  LABEL_VERSION,
  GRPC_PORT_NAME,
  MODEL_URI_ANNOTATION,
  RUNTIME_PORT_NAME,
  commonLabels,
  deploymentName,
  modelVersion,
  objectMeta,
} from './labels.js';

export type BuilderConfig = Pick<
  OperatorConfig,
  'runtimeImage' | 'runtimeGpuImage' | 'gpuResourceName'
>;

export interface DeploymentOptions {
  track?: Track;
  /** Replicas of this track; defaults to spec.replicas. */
  replicas?: number;
  /** The model this track serves; defaults to spec.model (a canary's stable track serves the old one). */
  model?: { uri: string; version: string };
  /** Replace pods one at a time without surging (no GPU is free for a surge pod). */
  inPlace?: boolean;
}

/** Annotation on the Deployment while the operator replaces pods in place. */
export const ROLLOUT_MODE_ANNOTATION = 'tensorfleet.dev/rollout-mode';
export const IN_PLACE = 'in-place';
export const IN_PLACE_STRATEGY = { maxSurge: 0, maxUnavailable: 1 };

export type DeploymentObject = V1Deployment & {
  apiVersion: 'apps/v1';
  kind: 'Deployment';
  metadata: { name: string; namespace: string };
};

/** Seconds the runtime is given to finish accepted requests after SIGTERM. */
export const DRAIN_TIMEOUT_SECONDS = 30;
/**
 * Pause before SIGTERM so endpoints stop routing to the pod first. kube-proxy
 * on the test node stops within 0.2-0.4 s of the deletion under load (`npm
 * run bench -- --only realnode`); the margin is for busier clusters and for
 * balancers that follow endpoints more slowly (ingress controllers, cloud
 * load balancers).
 */
export const PRESTOP_SLEEP_SECONDS = 10;
export const RUNTIME_UID = 65532;
export const RUNTIME_CONTAINER = 'runtime';
export const FETCH_CONTAINER = 'fetch-model';

const MODEL_DIR = '/models';
const PVC_MOUNT = '/mnt/model-store';

/**
 * The pod's CPUs for the runtime, which sizes its workers and TensorFlow's
 * threads by them (inside a container the machine's count is the node's):
 * the CPU limit, else the request, rounded up to whole CPUs (divisor 1).
 * Nothing when neither is set (the runtime reads its cgroup quota) or when
 * the spec sets TENSORFLEET_CPUS itself.
 */
export function cpusEnv(resources: Resources, userEnv: readonly { name: string }[]): V1EnvVar[] {
  const name = envName('cpus');
  if (userEnv.some((e) => e.name === name)) return [];
  const resource =
    resources.limits?.cpu !== undefined
      ? 'limits.cpu'
      : resources.requests?.cpu !== undefined
        ? 'requests.cpu'
        : undefined;
  if (resource === undefined) return [];
  return [
    {
      name,
      valueFrom: { resourceFieldRef: { containerName: RUNTIME_CONTAINER, resource, divisor: '1' } },
    },
  ];
}

/** The runtime's quality flags for spec.monitoring.quality: none when it is absent or off. */
export function qualityArgs(quality: Quality | undefined): Partial<ServeConfig> {
  if (!quality?.enabled) return {};
  return {
    qualityTracking: true,
    ...(quality.output !== undefined ? { qualityOutput: quality.output } : {}),
    qualityKind: quality.kind,
    qualityWindow: quality.window,
  };
}

/** How the pod gets its model: served in place, from a mounted claim, or fetched first. */
export interface ModelSourcePlan {
  /** The uri the runtime serves from inside the pod. */
  serveUri: string;
  /** True when an init container downloads the model. */
  fetch: boolean;
  volumes: V1Volume[];
  mounts: V1VolumeMount[];
}

/**
 * `followVersions`: the uri is a base path whose version directories the
 * runtime lists and downloads itself while it runs (model.versionPolicy), so
 * a remote one is handed to the runtime as it is, never fetched once ahead.
 */
export function modelSourcePlan(uri: string, followVersions = false): ModelSourcePlan {
  if (uri.startsWith('file://')) return { serveUri: uri, fetch: false, volumes: [], mounts: [] };
  const pvc = /^pvc:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (pvc) {
    return {
      serveUri: `file://${PVC_MOUNT}/${pvc[2]!}`,
      fetch: false,
      volumes: [
        { name: 'model-store', persistentVolumeClaim: { claimName: pvc[1]!, readOnly: true } },
      ],
      mounts: [{ name: 'model-store', mountPath: PVC_MOUNT, readOnly: true }],
    };
  }
  if (followVersions) return { serveUri: uri, fetch: false, volumes: [], mounts: [] };
  return {
    serveUri: `file://${MODEL_DIR}/model`,
    fetch: true,
    volumes: [{ name: 'model', emptyDir: {} }],
    mounts: [{ name: 'model', mountPath: MODEL_DIR }],
  };
}

/** `serve --model-version-policy` for spec.model.versionPolicy: latest:N, all or specific:V1,V2. */
export function versionPolicyArg(policy: VersionPolicy): string {
  if (policy.latest) return `latest:${policy.latest.numVersions}`;
  if (policy.specific) return `specific:${policy.specific.versions.join(',')}`;
  return 'all';
}

/**
 * The runtime's model flags: one model at `serveUri` labelled `version`, or
 * with a version policy the base path `serveUri`, its policy and poll interval.
 */
export function modelArgs(
  serveUri: string,
  version: string,
  policy: VersionPolicy | undefined,
): Partial<ServeConfig> {
  if (policy === undefined) return { modelUri: serveUri, modelVersion: version };
  return {
    modelBasePath: serveUri,
    modelVersionPolicy: versionPolicyArg(policy),
    fileSystemPollWaitSeconds: policy.pollIntervalSeconds,
  };
}

/**
 * The extended resource and count a replica needs from the device plugin, or
 * undefined for a CPU-only model and for one whose GPUs come through DRA
 * (draRequest in resource-claim-template.ts).
 */
export function gpuRequest(
  md: ModelDeployment,
  config: Pick<OperatorConfig, 'gpuResourceName'>,
): { resource: string; count: number } | undefined {
  const gpu = md.spec.resources.gpu;
  if (!gpu || gpu.count <= 0 || gpu.dra) return undefined;
  const resource = gpu.migProfile
    ? `nvidia.com/mig-${gpu.migProfile}`
    : (gpu.resourceName ?? config.gpuResourceName);
  return { resource, count: gpu.count };
}

/** The taint GPU nodes carry: NVIDIA's device plugin and cloud node pools use nvidia.com/gpu. */
export function gpuTaintKey(resource: string): string {
  return resource.startsWith('nvidia.com/') ? 'nvidia.com/gpu' : resource;
}

/** The GPU taint to tolerate for DRA devices: NVIDIA's classes (*.nvidia.com) land on the same tainted nodes. */
function draTaintKey(deviceClassName: string): string | undefined {
  return deviceClassName.endsWith('.nvidia.com') ? 'nvidia.com/gpu' : undefined;
}

/** Adds `key In [value]` to every required node selector term (or makes the first). */
export function requireNodeLabel(
  affinity: V1Affinity | undefined,
  key: string,
  value: string,
): V1Affinity {
  const expr = { key, operator: 'In', values: [value] };
  const terms =
    affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  const merged = terms?.length
    ? terms.map((t) => ({ ...t, matchExpressions: [...(t.matchExpressions ?? []), expr] }))
    : [{ matchExpressions: [expr] }];
  return {
    ...affinity,
    nodeAffinity: {
      ...affinity?.nodeAffinity,
      requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: merged },
    },
  };
}

/**
 * How the fetch container gets spec.model.credentialsSecret: every key as an
 * environment variable, and every key as a file under MODEL_CREDENTIALS_DIR,
 * for the variables that take a path (GOOGLE_APPLICATION_CREDENTIALS,
 * AWS_SHARED_CREDENTIALS_FILE, AZURE_CLIENT_CERTIFICATE_PATH).
 */
export function modelCredentials(
  secretName: string | undefined,
): { envFrom: V1EnvFromSource[]; volume: V1Volume; mount: V1VolumeMount } | undefined {
  if (secretName === undefined) return undefined;
  return {
    envFrom: [{ secretRef: { name: secretName } }],
    // 0440: readable by the pod's fsGroup (the runtime user), by nobody else.
    volume: { name: MODEL_CREDENTIALS_VOLUME, secret: { secretName, defaultMode: 0o440 } },
    mount: { name: MODEL_CREDENTIALS_VOLUME, mountPath: MODEL_CREDENTIALS_DIR, readOnly: true },
  };
}

const MODEL_CREDENTIALS_VOLUME = 'model-credentials';

const restrictedContainer = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

const httpProbe = (path: string, periodSeconds: number, failureThreshold: number): V1Probe => ({
  httpGet: { path, port: RUNTIME_PORT_NAME },
  periodSeconds,
  failureThreshold,
  timeoutSeconds: 2,
});

/** The kubelet's gRPC probe of the server's health ("": every service the runtime serves). */
const grpcProbe = (periodSeconds: number, failureThreshold: number): V1Probe => ({
  grpc: { port: RUNTIME_GRPC_PORT, service: '' },
  periodSeconds,
  failureThreshold,
  timeoutSeconds: 2,
});

/** The pod template of a track's Deployment: what each replica runs, and where. */
export function buildPodTemplate(
  md: ModelDeployment,
  config: BuilderConfig,
  options: Pick<DeploymentOptions, 'track' | 'model'> = {},
): V1PodTemplateSpec {
  const spec = md.spec;
  const track = options.track ?? 'stable';
  const model = options.model ?? { uri: spec.model.uri, version: modelVersion(md) };
  const gpu = gpuRequest(md, config);
  const policy = spec.model.versionPolicy;
  const dra = draRequest(md);
  const source = modelSourcePlan(model.uri, policy !== undefined);
  const podLabels = { ...commonLabels(md), [LABEL_TRACK]: track, [LABEL_VERSION]: model.version };
  const image = spec.runtime.image ?? (gpu || dra ? config.runtimeGpuImage : config.runtimeImage);
  const pullPolicy = spec.runtime.imagePullPolicy
    ? { imagePullPolicy: spec.runtime.imagePullPolicy }
    : {};

  const b = spec.runtime.batching;
  const readyProbe = spec.runtime.grpc.probes
    ? grpcProbe
    : (period: number, failures: number) => httpProbe(READY_PATH, period, failures);
  const args = serveArgs({
    modelName: md.metadata.name!,
    ...modelArgs(source.serveUri, model.version, policy),
    modelFormat: spec.model.format,
    signature: spec.model.signature,
    backend: spec.runtime.backend,
    port: RUNTIME_PORT,
    // -1: the runtime serves no gRPC (its default is RUNTIME_GRPC_PORT).
    grpcPort: spec.runtime.grpc.enabled ? RUNTIME_GRPC_PORT : -1,
    maxBatchSize: b.maxBatchSize,
    batchTimeoutMicros: b.batchTimeoutMicros,
    maxQueueSize: b.maxQueueSize,
    warmupIterations: spec.runtime.warmup.iterations,
    drainTimeoutSeconds: DRAIN_TIMEOUT_SECONDS,
    ...(spec.runtime.workers ? { workers: spec.runtime.workers } : {}),
    ...qualityArgs(spec.monitoring.quality),
  });

  const userEnv = spec.runtime.env ?? [];
  const env: V1EnvVar[] = [
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    ...cpusEnv(spec.resources, userEnv),
    ...userEnv.map((e) => ({ name: e.name, value: e.value })),
  ];

  const requests: Record<string, string> = stringify(spec.resources.requests);
  const limits: Record<string, string> = stringify(spec.resources.limits);
  if (gpu) limits[gpu.resource] = String(gpu.count);

  // The credentials go to whatever downloads: the fetch init container, or
  // the runtime itself when it follows a remote base path (versionPolicy).
  // The runtime serving a downloaded copy gets none of them.
  const credentials = modelCredentials(spec.model.credentialsSecret);
  const runtimeDownloads = policy !== undefined && !source.serveUri.startsWith('file://');
  const runtimeCredentials = runtimeDownloads ? credentials : undefined;
  const fetchCredentials = source.fetch ? credentials : undefined;
  const runtime: V1Container = {
    name: RUNTIME_CONTAINER,
    image,
    ...pullPolicy,
    args,
    env,
    ...(runtimeCredentials ? { envFrom: runtimeCredentials.envFrom } : {}),
    ports: [
      { name: RUNTIME_PORT_NAME, containerPort: RUNTIME_PORT, protocol: 'TCP' },
      ...(spec.runtime.grpc.enabled
        ? [{ name: GRPC_PORT_NAME, containerPort: RUNTIME_GRPC_PORT, protocol: 'TCP' }]
        : []),
    ],
    resources: {
      ...(Object.keys(requests).length ? { requests } : {}),
      ...(Object.keys(limits).length ? { limits } : {}),
      // DRA devices come through the pod's claim instead of a limit.
      ...(dra ? { claims: [{ name: GPU_CLAIM }] } : {}),
    },
    // Loading a large model can take minutes; liveness waits for startup.
    startupProbe: readyProbe(5, 360),
    readinessProbe: readyProbe(5, 2),
    livenessProbe: httpProbe(LIVE_PATH, 10, 3),
    lifecycle: { preStop: { sleep: { seconds: PRESTOP_SLEEP_SECONDS } } },
    // The runtime writes why a model failed to load here; status reads it.
    terminationMessagePath: TERMINATION_LOG,
    terminationMessagePolicy: 'FallbackToLogsOnError',
    securityContext: restrictedContainer,
    volumeMounts: [
      ...source.mounts,
      { name: 'tmp', mountPath: '/tmp' },
      ...(runtimeCredentials ? [runtimeCredentials.mount] : []),
    ],
  };

  const initContainers: V1Container[] = source.fetch
    ? [
        {
          name: FETCH_CONTAINER,
          image,
          ...pullPolicy,
          args: fetchArgs({ modelUri: model.uri, dest: `${MODEL_DIR}/model` }),
          ...(fetchCredentials ? { envFrom: fetchCredentials.envFrom } : {}),
          resources: { requests: { cpu: '100m', memory: '128Mi' } },
          terminationMessagePath: TERMINATION_LOG,
          terminationMessagePolicy: 'FallbackToLogsOnError',
          securityContext: restrictedContainer,
          volumeMounts: [
            ...source.mounts,
            { name: 'tmp', mountPath: '/tmp' },
            ...(fetchCredentials ? [fetchCredentials.mount] : []),
          ],
        },
      ]
    : [];

  const placement = spec.placement;
  const taintKey = gpu ? gpuTaintKey(gpu.resource) : dra && draTaintKey(dra.deviceClassName);
  const tolerations: V1Toleration[] = [
    ...(taintKey ? [{ key: taintKey, operator: 'Exists', effect: 'NoSchedule' }] : []),
    ...(placement.tolerations ?? []),
  ];
  const product = spec.resources.gpu?.product;
  const userAffinity = placement.affinity as V1Affinity | undefined;
  const affinity = product
    ? requireNodeLabel(userAffinity, GPU_PRODUCT_LABEL, product)
    : userAffinity;

  // The user's pod labels and annotations first: the operator's own win (CEL refuses its label keys).
  const extra = spec.podMetadata;
  return {
    metadata: {
      labels: { ...extra?.labels, ...podLabels },
      annotations: {
        ...extra?.annotations,
        'kubectl.kubernetes.io/default-container': RUNTIME_CONTAINER,
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': String(RUNTIME_PORT),
        'prometheus.io/path': '/metrics',
      },
    },
    spec: {
      ...(initContainers.length ? { initContainers } : {}),
      containers: [runtime],
      ...(dra
        ? {
            resourceClaims: [
              { name: GPU_CLAIM, resourceClaimTemplateName: resourceClaimTemplateName(md, dra) },
            ],
          }
        : {}),
      volumes: [
        ...source.volumes,
        { name: 'tmp', emptyDir: {} },
        ...(credentials && (runtimeCredentials || fetchCredentials) ? [credentials.volume] : []),
      ],
      ...(spec.serviceAccountName ? { serviceAccountName: spec.serviceAccountName } : {}),
      securityContext: {
        runAsNonRoot: true,
        runAsUser: RUNTIME_UID,
        runAsGroup: RUNTIME_UID,
        fsGroup: RUNTIME_UID,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      // Workload identity needs no API token: the EKS, GKE and AKS webhooks (or GKE's
      // metadata server) provide their own projected tokens.
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: DRAIN_TIMEOUT_SECONDS + PRESTOP_SLEEP_SECONDS + 10,
      ...(tolerations.length ? { tolerations } : {}),
      ...(affinity ? { affinity } : {}),
      ...(placement.nodeSelector ? { nodeSelector: placement.nodeSelector } : {}),
      ...(placement.runtimeClassName ? { runtimeClassName: placement.runtimeClassName } : {}),
      ...(placement.priorityClassName ? { priorityClassName: placement.priorityClassName } : {}),
    },
  };
}

export function buildDeployment(
  md: ModelDeployment,
  config: BuilderConfig,
  options: DeploymentOptions = {},
): DeploymentObject {
  const spec = md.spec;
  const track = options.track ?? 'stable';
  const model = options.model ?? { uri: spec.model.uri, version: modelVersion(md) };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      ...objectMeta(md, deploymentName(md, track), {
        [LABEL_TRACK]: track,
        [LABEL_VERSION]: model.version,
      }),
      annotations: {
        [MODEL_URI_ANNOTATION]: model.uri,
        ...(options.inPlace ? { [ROLLOUT_MODE_ANNOTATION]: IN_PLACE } : {}),
      },
    },
    spec: {
      replicas: options.replicas ?? spec.replicas,
      selector: { matchLabels: { [LABEL_MODEL]: md.metadata.name!, [LABEL_TRACK]: track } },
      revisionHistoryLimit: 3,
      progressDeadlineSeconds: spec.rollout.progressDeadlineSeconds,
      strategy: {
        type: 'RollingUpdate',
        rollingUpdate: options.inPlace
          ? IN_PLACE_STRATEGY
          : { maxSurge: spec.rollout.maxSurge, maxUnavailable: spec.rollout.maxUnavailable },
      },
      template: buildPodTemplate(md, config, { track, model }),
    },
  };
}

function stringify(
  list: Record<string, string | number | undefined> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(list ?? {})) if (v !== undefined) out[k] = String(v);
  return out;
}
