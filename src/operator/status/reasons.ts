// Every reason the operator writes, on a condition of ModelDeployment.status
// or on an Event, with where it shows and what it means for the person who
// reads it. The one source: code sets reasons through REASON, and the
// README's table is checked against this one (test/operator/status/reasons.test.ts).
import type { ConditionType } from '../../api/v1alpha1/index.js';

/** Where a reason shows: a condition of status, or an Event. */
export type ReasonSite = ConditionType | 'Event';

export interface ReasonEntry {
  on: readonly ReasonSite[];
  /** What it means for the user, and what to do about it when anything. */
  meaning: string;
}

export const REASONS = {
  // Serving, and on the way there.
  ModelServing: {
    on: ['Ready'],
    meaning: 'every desired replica serves the target version',
  },
  ScaledToZero: {
    on: ['Ready'],
    meaning: '`spec.replicas` is 0: nothing to serve, nothing wrong',
  },
  Creating: {
    on: ['Ready', 'Reconciling'],
    meaning: "the operator is creating the model's Deployment",
  },
  RollingOut: {
    on: ['Ready', 'Reconciling'],
    meaning: 'pods of the target version are starting; the message counts them',
  },
  WaitingForEndpoints: {
    on: ['Ready', 'Reconciling'],
    meaning: "the pods are ready but the Service's endpoints do not list them yet",
  },
  MinimumReplicasAvailable: {
    on: ['Available'],
    meaning: 'at least one replica serves',
  },
  RolloutInProgress: {
    on: ['Progressing'],
    meaning: 'a rollout of the target version is under way',
  },
  RolloutComplete: {
    on: ['Progressing'],
    meaning: 'the target version is rolled out',
  },
  ReplacingInPlace: {
    on: ['Progressing', 'Event'],
    meaning:
      'no GPU is free for a surge pod, so pods are replaced one at a time (maxSurge 0, maxUnavailable 1) until the rollout completes',
  },
  Idle: {
    on: ['Reconciling'],
    meaning: 'nothing left to do: the model is ready, or stalled',
  },
  Progressing: {
    on: ['Stalled'],
    meaning: 'not stalled',
  },
  RolloutStarted: {
    on: ['Event'],
    meaning: 'a new version (or model uri) started rolling out',
  },
  ModelReady: {
    on: ['Event'],
    meaning: 'a new version serves, or the model recovered from a failure',
  },

  // The pods' failures, in the words of the scheduler, kubelet or runtime.
  Unschedulable: {
    on: ['Ready', 'Progressing', 'Reconciling', 'Stalled', 'Event'],
    meaning:
      "no node fits a pod; the scheduler's message says why (e.g. `Insufficient nvidia.com/gpu`); it waits for capacity, and stalls once the progress deadline passes",
  },
  ImagePullBackOff: {
    on: ['Ready', 'Progressing', 'Stalled', 'Event'],
    meaning: 'an image cannot be pulled: its name, tag or registry credentials',
  },
  CrashLoopBackOff: {
    on: ['Ready', 'Progressing', 'Stalled', 'Event'],
    meaning: 'the runtime keeps crashing; the message has its exit code and last words',
  },
  CreateContainerConfigError: {
    on: ['Ready', 'Progressing', 'Stalled', 'Event'],
    meaning: 'a container cannot be created, most often for a Secret or ConfigMap that is missing',
  },
  ModelLoadFailed: {
    on: ['Ready', 'Progressing', 'Stalled', 'Event'],
    meaning:
      "the model cannot be fetched or loaded; the message is the runtime's own error (e.g. `MODEL_NOT_FOUND`)",
  },
  FailedCreate: {
    on: ['Ready', 'Progressing', 'Stalled', 'Event'],
    meaning:
      "the Deployment cannot create pods (quota, admission webhook, Pod Security); reason and message are the Deployment's",
  },
  FailedDelete: {
    on: ['Ready', 'Progressing', 'Stalled', 'Event'],
    meaning: "the Deployment cannot delete pods; reason and message are the Deployment's",
  },
  ProgressDeadlineExceeded: {
    on: ['Ready', 'Progressing', 'Stalled', 'Event'],
    meaning: 'the rollout made no progress within `rollout.progressDeadlineSeconds`',
  },

  // What stops the operator itself.
  InvalidSpec: {
    on: ['Ready', 'Reconciling', 'Stalled', 'Event'],
    meaning: 'the spec breaks a rule the schema cannot express; the message names the field',
  },
  ApplyFailed: {
    on: ['Ready', 'Reconciling', 'Stalled', 'Event'],
    meaning:
      'the API server refused an object built from the spec (e.g. an affinity it finds invalid); retried with backoff',
  },
  NameConflict: {
    on: ['Ready', 'Stalled', 'Event'],
    meaning: 'an object the model needs already exists and is not owned by it: rename or remove it',
  },
  ServiceMonitorCRDMissing: {
    on: ['Ready', 'Stalled', 'Event'],
    meaning:
      '`monitoring.serviceMonitor.enabled` is `"true"` but the Prometheus Operator (its ServiceMonitor CRD) is not installed',
  },
  PrometheusRuleCRDMissing: {
    on: ['Ready', 'Stalled', 'Event'],
    meaning:
      '`monitoring.slo.enabled` is `"true"` but the Prometheus Operator (its PrometheusRule CRD) is not installed',
  },
  DRANotServed: {
    on: ['Ready', 'Stalled', 'Event'],
    meaning:
      '`resources.gpu.dra` is set but the cluster does not serve Dynamic Resource Allocation (resource.k8s.io/v1, Kubernetes 1.34+)',
  },
  KEDANotInstalled: {
    on: ['Ready', 'Stalled', 'Event'],
    meaning: '`autoscaling.engine` is `keda` but KEDA (its ScaledObject CRD) is not installed',
  },
  PrometheusNotConfigured: {
    on: ['Ready', 'Stalled', 'Event'],
    meaning:
      '`autoscaling.engine` `keda` with a Prometheus metric, but the operator has no `--prometheus-url`',
  },
  GatewayAPINotInstalled: {
    on: ['Ready', 'Stalled', 'Event'],
    meaning:
      '`trafficRouting.gatewayAPI` is set but the HTTPRoute CRD is not installed; canary traffic follows the pod ratio',
  },
  HTTPRouteNotAccepted: {
    on: ['Ready', 'Stalled', 'Event'],
    meaning:
      "a Gateway does not accept the model's HTTPRoute, so exact canary weights are not in force there",
  },
  HTTPRouteRefsNotResolved: {
    on: ['Ready', 'Stalled', 'Event'],
    meaning: "a Gateway cannot resolve the HTTPRoute's backends",
  },

  // Versions a model.versionPolicy serves (status.model).
  VersionLoadFailed: {
    on: ['Event'],
    meaning:
      'a version under the base path failed to load on some pods (`status.model.versions` shows it FAILED); the other versions go on serving',
  },
  ModelVersionsUnread: {
    on: ['Event'],
    meaning:
      "the versions could not be read from some running pods' /metrics; `status.model.message` says which and why, and the counts leave them out",
  },

  // Canary rollouts.
  CanaryProgressing: {
    on: ['Ready', 'Progressing', 'Reconciling'],
    meaning: 'a canary serves its step; the message names the step and what it waits for',
  },
  CanaryPaused: {
    on: ['Ready', 'Progressing', 'Reconciling'],
    meaning: '`rollout.canary.paused` holds the canary at its step',
  },
  CanaryStepPassed: {
    on: ['Event'],
    meaning: "a step's analysis passed; the canary moves to the next weight",
  },
  CanaryPromoted: {
    on: ['Event'],
    meaning: 'the canary passed every step (or the promote annotation): the stable pods move to it',
  },
  CanaryRolledBack: {
    on: ['Ready', 'Progressing', 'Stalled', 'Event'],
    meaning:
      'the canary failed (error, latency or accuracy analysis, failed pods, abort annotation) and was rolled back; the old version serves till the spec names another',
  },
} as const satisfies Record<string, ReasonEntry>;

export type Reason = keyof typeof REASONS;

/** The reasons as constants: `REASON.ModelServing === 'ModelServing'`. */
export const REASON = Object.fromEntries(Object.keys(REASONS).map((r) => [r, r])) as {
  readonly [R in Reason]: R;
};
