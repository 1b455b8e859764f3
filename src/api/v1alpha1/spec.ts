// ModelDeployment.spec: the single source of the schema. The CRD YAML
// (`npm run generate`) and the TypeScript types both come from here. To add a
// field: add it below with its description, default and rules, run
// `npm run generate`, and commit the regenerated CRD with it.
import type { Static } from '@sinclair/typebox';
import {
  array,
  boolean,
  freeform,
  integer,
  intOrString,
  number,
  object,
  optional,
  quantity,
  string,
  stringEnum,
  stringMap,
} from '../schema-builder.js';
// The runtime's own lists: the CRD accepts exactly what the runtime parses.
import { BACKENDS, FORMATS, LATENCY_BUCKETS, QUALITY_KINDS } from '../../contract/runtime.js';

export const MODEL_URI_SCHEMES = [
  'file',
  'http',
  'https',
  's3',
  'gs',
  'az',
  'hf',
  'oci',
  'pvc',
] as const;
export const AUTOSCALING_ENGINES = ['none', 'builtin', 'hpa', 'keda'] as const;
export const METRIC_TYPES = [
  'concurrency',
  'rps',
  'queueDepth',
  'gpuUtilization',
  'cpu',
  'prometheus',
] as const;
export const ROLLOUT_STRATEGIES = ['RollingUpdate', 'Canary'] as const;
export const SERVICE_MONITOR_MODES = ['auto', 'true', 'false'] as const;
/** Labels the operator sets on SLO alerts itself; user labels may not replace them. */
export const SLO_RESERVED_LABELS = ['namespace', 'model', 'slo', 'severity'] as const;

/** Where the fetch-model init container finds the keys of spec.model.credentialsSecret as files. */
export const MODEL_CREDENTIALS_DIR = '/var/run/secrets/tensorfleet/model-credentials';

/** Node label that NVIDIA's GPU feature discovery sets to the GPU product name. */
export const GPU_PRODUCT_LABEL = 'nvidia.com/gpu.product';

// A Kubernetes label value: the version is stamped on pods as a label.
const LABEL_VALUE = '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$';
const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const DURATION = '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$';
const PERCENT_OR_INT = '^[0-9]+%?$';

/** CEL: quality tracking is on (the block is there and not switched off). */
const QUALITY_ON = '(has(self.monitoring.quality) && self.monitoring.quality.enabled)';

const uriSchemeRule = MODEL_URI_SCHEMES.map((s) => `self.startsWith('${s}://')`).join(' || ');

/** Largest version number: exact in the runtime's numbers (TF Serving's are int64). */
const MAX_VERSION = Number.MAX_SAFE_INTEGER;

export const VersionPolicy = object(
  "Serve the numbered version directories under model.uri (<uri>/<version>/, TF Serving's base path layout) that this policy selects, instead of one model: TF Serving's model_version_policy. Give exactly one of latest, all or specific. The runtime lists the base path every pollIntervalSeconds and loads a new version beside the old one, switches to it once it is warm and unloads the old one once its requests finish, inside each pod: a new version directory needs no rollout. status.model.versions lists what the pods loaded.",
  {
    latest: optional(
      object('Serve the highest numVersions versions.', {
        numVersions: integer('How many of the highest versions to serve.', {
          default: 1,
          minimum: 1,
          maximum: 1000,
          format: 'int32',
        }),
      }),
    ),
    all: optional(object('Serve every version found.', {})),
    specific: optional(
      object('Serve the versions listed (those the base path lacks are waited for).', {
        versions: array(
          'Version numbers, each a directory name under the base path.',
          integer('A version number.', { minimum: 1, maximum: MAX_VERSION, format: 'int64' }),
          {
            minItems: 1,
            maxItems: 64,
            listType: 'atomic',
            rules: [
              {
                rule: 'self.all(v, self.exists_one(w, w == v))',
                message: 'model.versionPolicy.specific.versions lists a version more than once',
              },
            ],
          },
        ),
      }),
    ),
    pollIntervalSeconds: integer(
      "Seconds between listings of the base path for new and removed versions (TF Serving's --file_system_poll_wait_seconds); 0 lists it once, at start.",
      { default: 1, minimum: 0, maximum: 86_400, format: 'int32' },
    ),
  },
  {
    rules: [
      {
        rule: '[has(self.latest), has(self.all), has(self.specific)].filter(x, x).size() == 1',
        message: 'model.versionPolicy takes exactly one of latest, all or specific',
      },
    ],
  },
);

export const ModelSource = object(
  'Where the model comes from and how it is served.',
  {
    uri: string(
      'Location of the model (with versionPolicy: the base path holding its numbered version directories). Schemes: file:// (a path in the image), http(s)://, s3:// (S3 or S3-compatible; endpoint and keys from credentialsSecret), gs://, az://<account>/<container>/<path> or https://<account>.blob.core.windows.net/<container>/<path> (Azure Blob Storage), hf://<org>/<repo>[@<revision>]/<path> (a directory of a Hugging Face Hub model repository at a branch, tag or commit, default main; HF_TOKEN from credentialsSecret for private and gated ones), oci://<registry>/<repository>:<tag> or oci://<registry>/<repository>@sha256:<digest> (a model pushed to an OCI registry: an ORAS-style artifact or a modelcar image with the model under /models; a kubernetes.io/dockerconfigjson Secret as credentialsSecret for a private one; not with versionPolicy), pvc://<claim>/<path> (a PersistentVolumeClaim in the same namespace). A change of uri rolls out a new version; a branch or an OCI tag is resolved to its commit or manifest digest when a pod starts.',
      {
        minLength: 1,
        maxLength: 2048,
        rules: [
          {
            rule: uriSchemeRule,
            message: `model.uri must start with one of ${MODEL_URI_SCHEMES.map((s) => `${s}://`).join(', ')}`,
          },
          {
            rule: "!self.startsWith('pvc://') || self.matches('^pvc://[a-z0-9]([-a-z0-9]*[a-z0-9])?/.+$')",
            message: 'pvc:// URIs take the form pvc://<claim-name>/<path inside the volume>',
          },
          {
            // The runtime checks the rest (name rules, revision characters) with a precise message.
            rule: "!self.startsWith('hf://') || self.matches('^hf://[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(@[^/]+.*)?(/.*)?$')",
            message: 'model.uri: hf:// URIs take the form hf://<org>/<repo>[@<revision>]/<path>',
          },
        ],
      },
    ),
    version: optional(
      string(
        'Label of the version being served, shown in status and stamped on pods (a Kubernetes label value). A change of version rolls out, even when the uri is unchanged. When empty, a short hash of the uri is used.',
        { maxLength: 63, pattern: LABEL_VALUE },
      ),
    ),
    versionPolicy: optional(VersionPolicy),
    format: stringEnum(
      'Model format. auto detects it from the files: model.json with a graph topology (tfjs-graph) or a Keras topology (tfjs-layers), or saved_model.pb (tf-saved-model, needs the tensorflow or tensorflow-gpu backend).',
      FORMATS,
      { default: 'auto' },
    ),
    signature: string('Signature of the model to serve (TF Serving signature_name).', {
      default: 'serving_default',
      minLength: 1,
      maxLength: 253,
    }),
    credentialsSecret: optional(
      string(
        `Name of a Secret in the same namespace for downloading the model: given to the fetch-model init container, or with versionPolicy on a remote base path to the runtime container, which then downloads the versions itself (a runtime serving a downloaded copy gets none of it). Each key becomes an environment variable: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, AWS_ENDPOINT_URL (S3-compatible stores), HF_TOKEN, AZURE_STORAGE_CONNECTION_STRING and so on; and each key is a file under ${MODEL_CREDENTIALS_DIR}/, for variables that take a path: GOOGLE_APPLICATION_CREDENTIALS=${MODEL_CREDENTIALS_DIR}/key.json beside a key key.json holding a service-account key. For workload identity (no keys) see serviceAccountName.`,
        { maxLength: 253, pattern: DNS_SUBDOMAIN },
      ),
    ),
  },
  {
    rules: [
      {
        rule: "!has(self.credentialsSecret) || !(self.uri.startsWith('file://') || self.uri.startsWith('pvc://'))",
        message:
          'model.credentialsSecret is for downloading the model: file:// and pvc:// URIs are read in place and use no credentials',
      },
      {
        rule: '!(has(self.versionPolicy) && has(self.version))',
        message:
          'set model.version (one model at uri, the GitOps default) or model.versionPolicy (the versions under the base path uri), not both: with a policy the runtime picks the versions itself',
      },
    ],
  },
);

export const EnvVar = object('An environment variable for the runtime container.', {
  name: string('Variable name.', {
    minLength: 1,
    maxLength: 256,
    pattern: '^[-._a-zA-Z][-._a-zA-Z0-9]*$',
  }),
  value: string('Variable value.', { default: '', maxLength: 32768 }),
});

export const Batching = object(
  'Dynamic batching: concurrent requests are merged along the first dimension up to maxBatchSize or until batchTimeoutMicros passes. maxBatchSize 1 turns batching off.',
  {
    maxBatchSize: integer('Largest batch handed to the model, in rows.', {
      default: 32,
      minimum: 1,
      maximum: 4096,
      format: 'int32',
    }),
    batchTimeoutMicros: integer(
      'How long a partial batch waits for more rows, in microseconds (TF Serving batch_timeout_micros).',
      { default: 2000, minimum: 0, maximum: 10_000_000, format: 'int32' },
    ),
    maxQueueSize: integer(
      'Requests allowed to wait for a batch; beyond this the runtime answers 429 with Retry-After.',
      { default: 256, minimum: 1, maximum: 1_000_000, format: 'int32' },
    ),
  },
  { default: {} },
);

export const Warmup = object(
  'Warmup inferences run after the model loads and before the pod reports ready.',
  {
    iterations: integer('Number of warmup inferences (0 turns warmup off).', {
      default: 2,
      minimum: 0,
      maximum: 100,
      format: 'int32',
    }),
  },
  { default: {} },
);

export const Grpc = object(
  "gRPC beside REST: TF Serving's PredictionService and ModelService, the Open Inference Protocol's GRPCInferenceService, grpc.health.v1 and reflection, on port 8500 (the Service's port grpc, appProtocol grpc).",
  {
    enabled: boolean('Serve gRPC on port 8500 beside REST on 8501.', { default: true }),
    probes: boolean(
      "Probe startup and readiness through the gRPC health service (the kubelet's grpc probe) instead of HTTP; liveness stays on HTTP, which answers while a pod drains.",
      { default: false },
    ),
  },
  {
    default: {},
    rules: [
      {
        rule: '!self.probes || self.enabled',
        message:
          'runtime.grpc.probes needs runtime.grpc.enabled: the probes call the gRPC health service',
      },
    ],
  },
);

export const Runtime = object(
  'The serving runtime container.',
  {
    image: optional(
      string(
        'Runtime image. Defaults to the operator configuration: its GPU image when resources.gpu asks for GPUs, else its CPU image.',
        {
          minLength: 1,
          maxLength: 1024,
        },
      ),
    ),
    imagePullPolicy: optional(
      stringEnum('Image pull policy of the runtime container.', [
        'Always',
        'IfNotPresent',
        'Never',
      ]),
    ),
    backend: stringEnum(
      'TensorFlow.js backend. auto picks the best one that loads: tensorflow-gpu where an NVIDIA GPU is visible or the image has only the GPU build, else tensorflow, wasm, cpu. tensorflow-gpu without a usable GPU computes on the CPU. Model metadata and metrics report the backend and its device (gpu or cpu).',
      BACKENDS,
      { default: 'auto' },
    ),
    workers: optional(
      integer(
        "Inference worker threads in each pod. Defaults to the pod's CPUs (the CPU limit, else the request, rounded up) less one for the HTTP thread, at least 1.",
        {
          minimum: 1,
          maximum: 64,
          format: 'int32',
        },
      ),
    ),
    batching: Batching,
    warmup: Warmup,
    grpc: Grpc,
    env: optional(
      array('Extra environment variables for the runtime container.', EnvVar, {
        maxItems: 64,
        listType: 'map',
        listMapKeys: ['name'],
      }),
    ),
  },
  { default: {} },
);

/** NVIDIA's DRA driver publishes whole GPUs in this DeviceClass. */
export const DRA_DEFAULT_DEVICE_CLASS = 'gpu.nvidia.com';

export const DeviceSelector = object('A condition every allocated device must meet.', {
  cel: object('A CEL condition on one device.', {
    expression: string(
      'CEL over `device` (driver, attributes and capacity grouped by domain) that is true for a device that fits, e.g. device.attributes["gpu.nvidia.com"].productName == "NVIDIA H100 80GB HBM3" or device.capacity["gpu.nvidia.com"].memory.compareTo(quantity("40Gi")) >= 0. The API server compiles it when the operator writes the ResourceClaimTemplate; an error is reported in status (ApplyFailed).',
      { minLength: 1, maxLength: 10240 },
    ),
  }),
});

export const GpuDra = object(
  "Ask for the GPUs through Dynamic Resource Allocation (resource.k8s.io/v1, Kubernetes 1.34+) instead of the device plugin: the operator writes a ResourceClaimTemplate requesting count devices of deviceClassName, and each pod gets its own ResourceClaim, allocated by the scheduler. Needs a DRA driver, e.g. NVIDIA's (k8s-dra-driver-gpu).",
  {
    deviceClassName: string(
      "DeviceClass the devices come from: gpu.nvidia.com for whole GPUs, mig.nvidia.com for MIG slices (NVIDIA's DRA driver).",
      { default: DRA_DEFAULT_DEVICE_CLASS, maxLength: 253, pattern: DNS_SUBDOMAIN },
    ),
    selectors: optional(
      array(
        'Conditions on device attributes and capacity (product, memory, MIG profile); all must hold.',
        DeviceSelector,
        { maxItems: 32 },
      ),
    ),
    matchAttribute: optional(
      string(
        'A fully qualified device attribute all count devices must share, e.g. resource.kubernetes.io/pcieRoot to keep them under one PCIe root.',
        {
          maxLength: 317,
          pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$',
        },
      ),
    ),
  },
);

export const Gpu = object(
  'GPUs for each replica. Omit for a CPU-only model.',
  {
    count: integer('GPUs per replica (with dra: devices of the class). 0 means no GPU.', {
      default: 1,
      format: 'int32',
      rules: [{ rule: 'self >= 0', message: 'resources.gpu.count must be 0 or more' }],
    }),
    resourceName: optional(
      string(
        'Extended resource that provides the GPU. Defaults to the operator configuration (nvidia.com/gpu).',
        { maxLength: 253, pattern: '^([a-z0-9.-]+/)?[a-zA-Z0-9][-a-zA-Z0-9_.]*$' },
      ),
    ),
    product: optional(
      string(
        `GPU product to schedule on, matched against the ${GPU_PRODUCT_LABEL} node label (e.g. NVIDIA-H100-80GB-HBM3).`,
        { maxLength: 63, pattern: LABEL_VALUE },
      ),
    ),
    migProfile: optional(
      string(
        'A MIG slice instead of a whole GPU, e.g. 1g.10gb: requests nvidia.com/mig-<profile> (mixed MIG strategy).',
        { maxLength: 32, pattern: '^[1-7]g\\.[0-9]+gb(\\+me)?$' },
      ),
    ),
    dra: optional(GpuDra),
  },
  {
    rules: [
      {
        rule: '!(has(self.migProfile) && has(self.resourceName))',
        message: 'set either resources.gpu.migProfile or resources.gpu.resourceName, not both',
      },
      {
        rule: '!has(self.dra) || self.count >= 1',
        message:
          'resources.gpu.dra needs count 1 or more: a DRA request asks for at least one device',
      },
      {
        rule: '!(has(self.dra) && has(self.resourceName))',
        message:
          "resources.gpu.resourceName is the device plugin's extended resource; with resources.gpu.dra choose devices with dra.deviceClassName and dra.selectors",
      },
      {
        rule: '!(has(self.dra) && has(self.product))',
        message:
          'resources.gpu.product matches a node label of device-plugin GPUs; with resources.gpu.dra select the product in dra.selectors, e.g. device.attributes["gpu.nvidia.com"].productName == "NVIDIA H100 80GB HBM3"',
      },
      {
        rule: '!(has(self.dra) && has(self.migProfile))',
        message:
          'resources.gpu.migProfile requests a device-plugin MIG resource; with resources.gpu.dra use dra.deviceClassName mig.nvidia.com and a selector on the profile, e.g. device.attributes["gpu.nvidia.com"].profile == "1g.10gb"',
      },
    ],
  },
);

export const ResourceList = object(
  'Compute resources of the runtime container.',
  {
    cpu: optional(quantity('CPU, e.g. 2 or 500m.')),
    memory: optional(quantity('Memory, e.g. 4Gi.')),
    'ephemeral-storage': optional(quantity('Local ephemeral storage, e.g. the model download.')),
  },
  { atomic: true },
);

export const Resources = object(
  'Resources of each replica.',
  {
    gpu: optional(Gpu),
    requests: optional(ResourceList),
    limits: optional(ResourceList),
  },
  { default: {} },
);

export const Toleration = object('A core/v1 Toleration.', {
  key: optional(
    string('Taint key to tolerate; empty with operator Exists matches all.', { maxLength: 317 }),
  ),
  operator: optional(stringEnum('How key and value are compared.', ['Exists', 'Equal'])),
  value: optional(string('Taint value to match with operator Equal.', { maxLength: 63 })),
  effect: optional(
    stringEnum('Taint effect to tolerate; empty matches all.', [
      'NoSchedule',
      'PreferNoSchedule',
      'NoExecute',
    ]),
  ),
  tolerationSeconds: optional(
    integer('How long a NoExecute taint is tolerated before eviction.', { format: 'int64' }),
  ),
});

export const Placement = object(
  'Where the pods may run, in addition to what the GPU settings imply.',
  {
    nodeSelector: optional(stringMap('Node labels the pods require.', { maxProperties: 64 })),
    tolerations: optional(
      array(
        'Tolerations added to the pods (the GPU taint is tolerated automatically).',
        Toleration,
        {
          maxItems: 64,
          listType: 'atomic',
        },
      ),
    ),
    affinity: optional(
      freeform<Record<string, unknown>>(
        'A core/v1 Affinity, merged with the GPU product affinity.',
      ),
    ),
    runtimeClassName: optional(
      string('RuntimeClass of the pods, e.g. nvidia.', { maxLength: 253, pattern: DNS_SUBDOMAIN }),
    ),
    priorityClassName: optional(string('PriorityClass of the pods.', { maxLength: 253 })),
  },
  { default: {} },
);

export const Metric = object(
  'The signal the autoscaler holds at target per replica.',
  {
    type: stringEnum(
      'concurrency: in-flight requests per replica; rps: requests per second per replica; queueDepth: requests waiting for a batch; gpuUtilization: percent (needs DCGM metrics in Prometheus); cpu: percent of the CPU request; prometheus: the value of query.',
      METRIC_TYPES,
    ),
    target: number('Target value per replica.', { minimum: 0, exclusiveMinimum: true }),
    query: optional(
      string(
        'PromQL whose value is the current signal per replica (metric.type prometheus only).',
        {
          minLength: 1,
          maxLength: 4096,
        },
      ),
    ),
  },
  {
    default: { type: 'concurrency', target: 8 },
    rules: [
      {
        rule: "self.type != 'prometheus' || has(self.query)",
        message:
          'autoscaling.metric.query (a PromQL expression) is required when metric.type is prometheus',
      },
      {
        rule: "self.type == 'prometheus' || !has(self.query)",
        message: 'autoscaling.metric.query is only used when metric.type is prometheus',
      },
    ],
  },
);

const stabilization = (direction: string, seconds: number) =>
  object(
    `Scale-${direction} behaviour.`,
    {
      stabilizationWindowSeconds: integer(
        `Recommendations over this window are considered before scaling ${direction}, so that noise does not flap replicas.`,
        { default: seconds, minimum: 0, maximum: 3600, format: 'int32' },
      ),
    },
    { default: {} },
  );

export const Autoscaling = object(
  'Metrics-driven scaling. While an engine is on it is the only writer of spec.replicas (leave replicas out of Git).',
  {
    engine: stringEnum(
      'none: replicas are set by hand (kubectl scale works); builtin: the operator scales from the runtime metrics, nothing else needed; hpa: an autoscaling/v2 HorizontalPodAutoscaler; keda: a KEDA ScaledObject.',
      AUTOSCALING_ENGINES,
      { default: 'none' },
    ),
    minReplicas: integer('Fewest replicas (0 scales to zero, keda only).', {
      default: 1,
      minimum: 0,
      format: 'int32',
    }),
    maxReplicas: optional(
      integer('Most replicas. Required when an engine is on.', { minimum: 1, format: 'int32' }),
    ),
    metric: Metric,
    behavior: object(
      'Stabilization of scaling decisions (as in HorizontalPodAutoscaler behavior).',
      {
        scaleUp: stabilization('up', 0),
        scaleDown: stabilization('down', 300),
      },
      { default: {} },
    ),
  },
  {
    default: {},
    rules: [
      {
        rule: "self.engine == 'none' || has(self.maxReplicas)",
        message: 'autoscaling.maxReplicas is required when autoscaling.engine is not none',
      },
      {
        rule: '!has(self.maxReplicas) || self.maxReplicas >= self.minReplicas',
        message: 'autoscaling.maxReplicas must be greater than or equal to autoscaling.minReplicas',
      },
      {
        rule: "!(self.engine == 'hpa' && self.metric.type == 'prometheus')",
        message:
          'autoscaling.metric.type prometheus needs engine keda or builtin: an HPA cannot run a PromQL query',
      },
      {
        rule: "self.minReplicas > 0 || self.engine == 'keda'",
        message: 'autoscaling.minReplicas 0 (scale to zero) needs engine keda',
      },
    ],
  },
);

export const CanaryStep = object('One canary step.', {
  weight: integer('Percent of traffic (and replicas) on the new version during this step.', {
    minimum: 1,
    maximum: 100,
    format: 'int32',
  }),
  pauseSeconds: integer('How long the step runs before its analysis decides.', {
    default: 60,
    minimum: 0,
    maximum: 86400,
    format: 'int32',
  }),
});

export const CanaryAnalysis = object(
  'Thresholds the canary must meet at each step, from its own runtime metrics; a breach rolls back.',
  {
    maxErrorRate: number('Largest tolerated share of failed requests (5xx), 0..1.', {
      default: 0.01,
      minimum: 0,
      maximum: 1,
    }),
    maxLatencyP99Ms: optional(
      number('Largest tolerated 99th percentile request latency, in milliseconds.', {
        minimum: 0,
        exclusiveMinimum: true,
      }),
    ),
    minRequests: integer(
      'Requests the canary must have served in a step for its figures to count; fewer leaves the step waiting.',
      { default: 20, minimum: 0, format: 'int32' },
    ),
    maxAccuracyDrop: optional(
      number(
        "Largest tolerated fall of the canary's accuracy below the stable version's over a step, 0..1 (0.02: two points). Accuracy is correct / labelled predictions, from feedback (needs monitoring.quality with a classification model).",
        { minimum: 0, maximum: 1 },
      ),
    ),
    maxMeanAbsoluteErrorIncrease: optional(
      number(
        "Largest tolerated rise of the canary's mean absolute error above the stable version's over a step, in the model's output units (needs monitoring.quality with a regression model).",
        { minimum: 0 },
      ),
    ),
    minLabelled: integer(
      'Labelled predictions each version needs in a step before the accuracy or mean absolute error verdict counts; fewer leaves the step waiting.',
      { default: 100, minimum: 1, format: 'int32' },
    ),
  },
  {
    default: {},
    rules: [
      {
        rule: '!(has(self.maxAccuracyDrop) && has(self.maxMeanAbsoluteErrorIncrease))',
        message:
          'set either rollout.canary.analysis.maxAccuracyDrop (classification) or maxMeanAbsoluteErrorIncrease (regression), not both: a model is judged one way',
      },
    ],
  },
);

export const ParentRef = object('A Gateway (or a listener of one) the HTTPRoute attaches to.', {
  name: string('Name of the Gateway.', { maxLength: 253, pattern: DNS_SUBDOMAIN }),
  namespace: optional(
    string("Namespace of the Gateway; the model's namespace when empty.", {
      maxLength: 63,
      pattern: DNS_LABEL,
    }),
  ),
  sectionName: optional(
    string('Listener of the Gateway to attach to.', { maxLength: 253, pattern: DNS_SUBDOMAIN }),
  ),
});

export const GatewayAPIRouting = object(
  'Split canary traffic by exact weights with a Gateway API HTTPRoute named after the model (needs the HTTPRoute CRD, gateway.networking.k8s.io/v1).',
  {
    parentRefs: array('Gateways the HTTPRoute attaches to.', ParentRef, {
      minItems: 1,
      maxItems: 16,
      listType: 'atomic',
      rules: [
        {
          // `namespace` is a CEL keyword, hence __namespace__.
          rule: "self.all(a, self.exists_one(b, a.name == b.name && (has(a.__namespace__) ? a.__namespace__ : '') == (has(b.__namespace__) ? b.__namespace__ : '') && (has(a.sectionName) ? a.sectionName : '') == (has(b.sectionName) ? b.sectionName : '')))",
          message:
            'rollout.canary.trafficRouting.gatewayAPI.parentRefs names the same Gateway listener twice',
        },
      ],
    }),
    hostnames: optional(
      array(
        'Host names the route matches; all of the Gateway listener when empty.',
        string('A host name, e.g. models.example.com.', {
          maxLength: 253,
          pattern: '^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
        }),
        { maxItems: 16, listType: 'atomic' },
      ),
    ),
  },
);

export const TrafficRouting = object(
  'How canary traffic is split. Without it, traffic follows the ratio of ready pods behind the model Service.',
  { gatewayAPI: GatewayAPIRouting },
);

export const Canary = object(
  'Canary rollout of a new version beside the stable one.',
  {
    steps: array(
      'Traffic steps, in increasing weight. After the last step passes, the canary is promoted.',
      CanaryStep,
      {
        minItems: 1,
        maxItems: 20,
        listType: 'atomic',
        rules: [
          {
            rule: 'self.all(a, self.exists_one(b, b.weight == a.weight)) && self.map(s, s.weight).isSorted()',
            message: 'rollout.canary.steps weights must be strictly increasing',
          },
        ],
      },
    ),
    analysis: CanaryAnalysis,
    trafficRouting: optional(TrafficRouting),
    paused: boolean(
      'Holds the canary at its current step: no promotion while true (a failing analysis still rolls back). Set to false to resume.',
      { default: false },
    ),
  },
  {
    rules: [
      {
        // At weight 100 no stable pod serves, so there is no accuracy to compare with.
        rule: '!(has(self.analysis.maxAccuracyDrop) || has(self.analysis.maxMeanAbsoluteErrorIncrease)) || self.steps.all(s, s.weight < 100)',
        message:
          "rollout.canary.steps weights must stay below 100 with a quality gate (maxAccuracyDrop, maxMeanAbsoluteErrorIncrease): the canary's quality is compared with the stable version's, served beside it",
      },
    ],
  },
);

export const Rollout = object(
  'How a new model version replaces the running one.',
  {
    strategy: stringEnum(
      'RollingUpdate replaces pods (GPU-aware: replaces in place when no GPU is free to surge); Canary runs the new version beside the stable one and promotes it step by step on metrics.',
      ROLLOUT_STRATEGIES,
      { default: 'RollingUpdate' },
    ),
    maxSurge: intOrString('Extra pods allowed during a rolling update (number or percent).', {
      default: 1,
      pattern: PERCENT_OR_INT,
    }),
    maxUnavailable: intOrString(
      'Pods allowed to be unavailable during a rolling update (number or percent).',
      {
        default: 0,
        pattern: PERCENT_OR_INT,
      },
    ),
    progressDeadlineSeconds: integer(
      'A rollout that makes no progress for this long is reported Stalled (ProgressDeadlineExceeded).',
      { default: 600, minimum: 30, format: 'int32' },
    ),
    canary: optional(Canary),
  },
  {
    default: {},
    rules: [
      {
        rule: "self.strategy == 'Canary' || !has(self.canary)",
        message: 'rollout.canary is only allowed when rollout.strategy is Canary',
      },
      {
        rule: "self.strategy != 'Canary' || has(self.canary)",
        message: 'rollout.strategy Canary needs rollout.canary.steps',
      },
    ],
  },
);

export const ServiceMonitor = object(
  'A Prometheus Operator ServiceMonitor for the runtime pods.',
  {
    enabled: stringEnum(
      'auto: created when the ServiceMonitor CRD exists; "true": always (a condition reports a missing CRD); "false": never. Quote true and false in YAML.',
      SERVICE_MONITOR_MODES,
      { default: 'auto' },
    ),
    interval: string('Scrape interval.', { default: '15s', pattern: DURATION, maxLength: 32 }),
    labels: optional(
      stringMap(
        'Labels for the ServiceMonitor, e.g. the release label your Prometheus selects on.',
        {
          maxProperties: 32,
        },
      ),
    ),
  },
  { default: {} },
);

export const Quality = object(
  'Model quality tracking: the runtime records each prediction under its request id, clients send the true label to the feedback endpoints, and the runtime exports accuracy (classification) or absolute error (regression) per version, which canary analysis can gate on (docs/runtime.md, Model quality).',
  {
    enabled: boolean('Record predictions for feedback (--quality-tracking).', {
      default: true,
    }),
    output: optional(
      string('The model output whose predictions feedback judges; the first output when empty.', {
        minLength: 1,
        maxLength: 256,
      }),
    ),
    kind: stringEnum(
      'classification: the argmax of each row is the predicted class; regression: the values; auto: classification when the output is [rows, classes] with classes > 1.',
      QUALITY_KINDS,
      { default: 'auto' },
    ),
    window: integer(
      'Last labelled predictions the tensorfleet_model_accuracy and tensorfleet_model_mean_absolute_error gauges cover, per replica.',
      { default: 1000, minimum: 1, maximum: 1_000_000, format: 'int32' },
    ),
  },
);

// Pod labels that are the operator's own: its selectors and status read them.
const RESERVED_LABEL_PREFIXES = ['app.kubernetes.io/', 'tensorfleet.dev/'] as const;
/** Pod label that AKS workload identity's webhook acts on. */
export const AZURE_WORKLOAD_IDENTITY_LABEL = 'azure.workload.identity/use';

export const PodMetadata = object(
  'Labels and annotations added to the serving pods, for the admission webhooks and agents that act on pods: AKS workload identity (label azure.workload.identity/use: "true"), service meshes, secret injectors. The operator\'s own annotations (kubectl.kubernetes.io/default-container, prometheus.io/*) take precedence. A change rolls the pods.',
  {
    labels: optional(
      stringMap(
        "Labels added to the pods (app.kubernetes.io/* and tensorfleet.dev/* are the operator's).",
        {
          maxProperties: 32,
          values: { maxLength: 63, pattern: LABEL_VALUE },
          rules: [
            {
              rule: `self.all(k, ${RESERVED_LABEL_PREFIXES.map((p) => `!k.startsWith('${p}')`).join(' && ')})`,
              message: `podMetadata.labels: ${RESERVED_LABEL_PREFIXES.map((p) => `${p}*`).join(' and ')} labels are the operator's own (its selectors use them); choose another key`,
            },
          ],
        },
      ),
    ),
    annotations: optional(stringMap('Annotations added to the pods.', { maxProperties: 64 })),
  },
);

/** CEL list of the request-duration bucket bounds, as doubles (a number field is a double in CEL). */
const LATENCY_BOUNDS_CEL = `[${LATENCY_BUCKETS.map((b) => (Number.isInteger(b) ? `${b}.0` : String(b))).join(', ')}]`;

/** An SLO objective in percent: 99.9 allows 0.1% of requests to be bad. */
const objective = (what: string) =>
  number(
    `Percentage of requests that must be ${what} over the window, e.g. 99.9; 100 minus it is the error budget. With a 30d window the fastest page (a 14.4x burn) can fire only above 93.06: below it, 14.4 budgets exceed every request.`,
    {
      minimum: 50,
      maximum: 100,
      rules: [
        {
          rule: 'self < 100.0',
          message: 'an SLO objective of 100% leaves no error budget to alert on; use e.g. 99.9',
        },
      ],
    },
  );

export const SloAvailability = object(
  "Availability SLO: the share of inference requests answered without a server-side failure. Bad: 5xx answers and 429 (the queue was full: the model had no capacity), over every protocol; gRPC calls are counted by the HTTP status of their error (UNAVAILABLE 503, DEADLINE_EXCEEDED 504, INTERNAL 500, RESOURCE_EXHAUSTED of a full queue 429). Other 4xx are the caller's mistakes and count as good.",
  { objective: objective('answered without a server-side failure') },
);

export const SloLatency = object(
  "Latency SLO: the share of inference requests answered within thresholdSeconds, from the runtime's request duration histogram (every answer counts, failed ones too).",
  {
    thresholdSeconds: number(
      `Latency a request must beat, in seconds: one of the histogram's bucket bounds (${LATENCY_BUCKETS.join(', ')}).`,
      {
        minimum: 0,
        rules: [
          {
            rule: `self in ${LATENCY_BOUNDS_CEL}`,
            message: `latency.thresholdSeconds must be one of the request duration histogram's bucket bounds: ${LATENCY_BUCKETS.join(', ')}`,
          },
        ],
      },
    ),
    objective: objective('answered within thresholdSeconds'),
  },
);

export const Slo = object(
  'Service level objectives for the model: the operator writes a Prometheus Operator PrometheusRule with recording rules and multi-window, multi-burn-rate alerts (docs/monitoring.md, SLO alerts).',
  {
    enabled: stringEnum(
      'auto: the PrometheusRule is created when its CRD exists; "true": always (a condition reports a missing CRD); "false": never. Quote true and false in YAML.',
      SERVICE_MONITOR_MODES,
      { default: 'auto' },
    ),
    availability: optional(SloAvailability),
    latency: optional(SloLatency),
    window: string(
      'Period the objectives cover, in days (7d to 90d); the burn rates that alert are those that spend 2% (page, over 1h), 5% (page, over 6h), 10% (ticket, over 1d) and 10% (ticket, over 3d) of its budget.',
      {
        default: '30d',
        maxLength: 3,
        rules: [
          {
            rule: "self.matches('^([7-9]|[1-8][0-9]|90)d$')",
            message: 'slo.window is a whole number of days from 7d to 90d, e.g. 28d or 30d',
          },
        ],
      },
    ),
    labels: optional(
      stringMap(
        'Labels added to every alert, to route it (e.g. team: fraud). The alerts carry namespace, model, slo and severity (page or ticket) themselves.',
        {
          maxProperties: 32,
          rules: [
            {
              rule: "self.all(k, k.matches('^[a-zA-Z_][a-zA-Z0-9_]*$'))",
              message:
                'slo.labels keys must be Prometheus label names: letters, digits and underscores, not starting with a digit',
            },
            {
              rule: `self.all(k, !(k in [${SLO_RESERVED_LABELS.map((l) => `'${l}'`).join(', ')}]))`,
              message: `slo.labels may not set ${SLO_RESERVED_LABELS.join(', ')}: the operator sets them on every alert`,
            },
          ],
        },
      ),
    ),
    ruleLabels: optional(
      stringMap(
        "Labels for the PrometheusRule object, e.g. the release label your Prometheus's ruleSelector matches.",
        { maxProperties: 32 },
      ),
    ),
    runbookUrl: optional(
      // No braces: Prometheus expands templates in annotations.
      string('Runbook linked from every alert (the runbook_url annotation).', {
        maxLength: 2048,
        pattern: '^https?://[^\\s{}]+$',
      }),
    ),
  },
  {
    rules: [
      {
        rule: 'has(self.availability) || has(self.latency)',
        message: 'monitoring.slo needs an availability or a latency objective (or both)',
      },
    ],
  },
);

export const Monitoring = object(
  'Prometheus integration.',
  { serviceMonitor: ServiceMonitor, quality: optional(Quality), slo: optional(Slo) },
  { default: {} },
);

export const ModelDeploymentSpec = object(
  'Desired state of a served model.',
  {
    model: ModelSource,
    runtime: Runtime,
    resources: Resources,
    placement: Placement,
    serviceAccountName: optional(
      string(
        `ServiceAccount the serving pods run as, in the same namespace (it must exist); the namespace's default one when empty. Cloud workload identity is set on it, and the model download uses it: EKS IRSA (annotation eks.amazonaws.com/role-arn) or an EKS Pod Identity association; GKE Workload Identity (annotation iam.gke.io/gcp-service-account, or an IAM binding to its principal); AKS workload identity (annotation azure.workload.identity/client-id, and the pod label ${AZURE_WORKLOAD_IDENTITY_LABEL}: "true" in podMetadata.labels). The pods do not mount its API token; the identity webhooks project their own.`,
        { maxLength: 253, pattern: DNS_SUBDOMAIN },
      ),
    ),
    podMetadata: optional(PodMetadata),
    replicas: integer(
      'Desired pods (the scale subresource). Owned by the autoscaler while autoscaling.engine is not none.',
      { default: 1, minimum: 0, format: 'int32' },
    ),
    autoscaling: Autoscaling,
    rollout: Rollout,
    monitoring: Monitoring,
  },
  {
    rules: [
      {
        rule: `!has(self.podMetadata) || !has(self.podMetadata.labels) || !('${AZURE_WORKLOAD_IDENTITY_LABEL}' in self.podMetadata.labels) || has(self.serviceAccountName)`,
        message: `podMetadata.labels['${AZURE_WORKLOAD_IDENTITY_LABEL}'] needs serviceAccountName: the ServiceAccount annotated with azure.workload.identity/client-id that the pods federate as`,
      },
      {
        rule: `!(has(self.resources.gpu) && has(self.resources.gpu.product) && has(self.placement.nodeSelector) && '${GPU_PRODUCT_LABEL}' in self.placement.nodeSelector)`,
        message: `set the GPU product in resources.gpu.product or in placement.nodeSelector['${GPU_PRODUCT_LABEL}'], not both`,
      },
      {
        // The runtime switches versions inside each pod: there is no second version of pods to canary.
        rule: "!has(self.model.versionPolicy) || self.rollout.strategy != 'Canary'",
        message:
          'rollout.strategy Canary needs one model.version: with model.versionPolicy each pod moves to a new version directory itself, so there is no new set of pods to canary; use RollingUpdate',
      },
      {
        rule: `!has(self.rollout.canary) || !has(self.rollout.canary.analysis.maxAccuracyDrop) || (${QUALITY_ON} && self.monitoring.quality.kind != 'regression')`,
        message:
          "rollout.canary.analysis.maxAccuracyDrop needs monitoring.quality enabled with kind auto or classification: accuracy comes from feedback on a classifier's predictions",
      },
      {
        rule: `!has(self.rollout.canary) || !has(self.rollout.canary.analysis.maxMeanAbsoluteErrorIncrease) || (${QUALITY_ON} && self.monitoring.quality.kind != 'classification')`,
        message:
          "rollout.canary.analysis.maxMeanAbsoluteErrorIncrease needs monitoring.quality enabled with kind auto or regression: the error comes from feedback on a regression model's predictions",
      },
    ],
  },
);

export type ModelDeploymentSpec = Static<typeof ModelDeploymentSpec>;
export type ModelSource = Static<typeof ModelSource>;
export type VersionPolicy = Static<typeof VersionPolicy>;
export type Runtime = Static<typeof Runtime>;
export type Gpu = Static<typeof Gpu>;
export type GpuDra = Static<typeof GpuDra>;
export type Resources = Static<typeof Resources>;
export type Placement = Static<typeof Placement>;
export type Autoscaling = Static<typeof Autoscaling>;
export type Metric = Static<typeof Metric>;
export type Rollout = Static<typeof Rollout>;
export type Canary = Static<typeof Canary>;
export type GatewayAPIRouting = Static<typeof GatewayAPIRouting>;
export type CanaryStep = Static<typeof CanaryStep>;
export type Toleration = Static<typeof Toleration>;
export type Monitoring = Static<typeof Monitoring>;
export type Quality = Static<typeof Quality>;
export type PodMetadata = Static<typeof PodMetadata>;
export type Slo = Static<typeof Slo>;

// Re-exported so that the generator and tests can check a name against the
// DNS-1035 rule the root of the CRD enforces.
export { DNS_LABEL };
export const MODEL_NAME_MAX_LENGTH = 56;
