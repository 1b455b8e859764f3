// ModelDeployment.status, written only by the operator. Conditions follow
// kstatus (Ready, Reconciling, Stalled with observedGeneration) so that Flux,
// Argo CD and `kubectl wait --for=condition=Ready` read them unchanged.
import type { Static } from '@sinclair/typebox';
import { array, integer, number, object, optional, string, stringEnum } from '../schema-builder.js';

export const CONDITION_TYPES = [
  'Ready',
  'Available',
  'Progressing',
  'Reconciling',
  'Stalled',
] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

export const ROLLOUT_OUTCOMES = [
  'Progressing',
  'Succeeded',
  'Failed',
  'RolledBack',
  'Superseded',
] as const;

const timestamp = (description: string) => string(description, { format: 'date-time' });

export const Condition = object('A metav1.Condition.', {
  type: string('Condition type: Ready, Available, Progressing, Reconciling or Stalled.', {
    maxLength: 316,
  }),
  status: stringEnum('True, False or Unknown.', ['True', 'False', 'Unknown']),
  observedGeneration: optional(
    integer('metadata.generation the condition was computed from.', {
      minimum: 0,
      format: 'int64',
    }),
  ),
  lastTransitionTime: timestamp('When the status last changed.'),
  reason: string('CamelCase reason, e.g. Unschedulable, ModelLoadFailed, ImagePullBackOff.', {
    maxLength: 1024,
    minLength: 1,
  }),
  message: string('What happened, for people.', { maxLength: 32768 }),
});

export const HistoryEntry = object('One rollout of a model version.', {
  version: string('Version rolled out.', { maxLength: 63 }),
  uri: string('Model uri rolled out.', { maxLength: 2048 }),
  startedAt: timestamp('When the rollout started.'),
  finishedAt: optional(timestamp('When the rollout ended.')),
  outcome: stringEnum(
    'Progressing while it runs; Succeeded, Failed (stalled), RolledBack (canary analysis failed or aborted) or Superseded (a newer version started first).',
    ROLLOUT_OUTCOMES,
  ),
  reason: optional(string('Why it ended that way.', { maxLength: 1024 })),
});

export const CanaryAnalysisResult = object('Figures of the last canary analysis.', {
  time: timestamp('When the analysis ran.'),
  passed: optional(stringEnum('True when the thresholds held.', ['True', 'False', 'Unknown'])),
  canaryRequests: optional(number('Requests the canary served in the window.')),
  canaryErrorRate: optional(number('Share of the canary requests that failed.')),
  canaryLatencyP99Ms: optional(number('Canary p99 latency in milliseconds.')),
  stableErrorRate: optional(number('Share of the stable requests that failed.')),
  stableLatencyP99Ms: optional(number('Stable p99 latency in milliseconds.')),
  canaryLabelled: optional(number('Canary predictions labelled by feedback in the window.')),
  stableLabelled: optional(number('Stable predictions labelled by feedback in the window.')),
  canaryAccuracy: optional(number('Share of the labelled canary predictions that were correct.')),
  stableAccuracy: optional(number('Share of the labelled stable predictions that were correct.')),
  canaryMeanAbsoluteError: optional(
    number('Mean absolute error of the labelled canary predictions.'),
  ),
  stableMeanAbsoluteError: optional(
    number('Mean absolute error of the labelled stable predictions.'),
  ),
  message: optional(string('Verdict in words.', { maxLength: 1024 })),
});

export const CANARY_PHASES = ['Progressing', 'Paused', 'Promoting', 'RolledBack'] as const;

export const CanaryStatus = object('Progress of a canary rollout.', {
  phase: stringEnum(
    'Progressing through the steps; Paused (rollout.canary.paused); Promoting (the stable pods move to the new version); RolledBack (analysis failed or aborted: the stable version serves everything until the spec names another version).',
    CANARY_PHASES,
  ),
  version: string('Version under test.', { maxLength: 63 }),
  uri: string('Model uri under test.', { maxLength: 2048 }),
  stableVersion: string('Version the stable pods serve.', { maxLength: 63 }),
  step: integer('Index of the current step (0-based).', { minimum: 0, format: 'int32' }),
  stepProgress: optional(
    string(
      'The current step counted from 1, over the number of steps ("1/2"), as messages say it.',
      {
        maxLength: 16,
      },
    ),
  ),
  weight: integer('Percent of traffic on the canary.', {
    minimum: 0,
    maximum: 100,
    format: 'int32',
  }),
  stepStartedAt: optional(timestamp('When the current step started.')),
  canaryReplicas: optional(integer('Pods of the canary version.', { minimum: 0, format: 'int32' })),
  stableReplicas: optional(integer('Pods of the stable version.', { minimum: 0, format: 'int32' })),
  lastAnalysis: optional(CanaryAnalysisResult),
  message: optional(
    string('What the canary is doing or why it ended, for people.', { maxLength: 1024 }),
  ),
});

export const AutoscalingStatus = object('What the autoscaler last saw and did.', {
  engine: string('Engine in use.', { maxLength: 32 }),
  currentValue: optional(number('Current signal per replica.')),
  desiredReplicas: optional(integer('Replicas the last decision asked for.', { format: 'int32' })),
  lastScaleTime: optional(timestamp('When replicas last changed.')),
  lastDecision: optional(string('The last decision and its reason.', { maxLength: 1024 })),
});

export const MODEL_VERSION_STATES = ['LOADING', 'AVAILABLE', 'UNLOADING', 'FAILED'] as const;
export type ModelVersionState = (typeof MODEL_VERSION_STATES)[number];

export const ModelVersionStatus = object(
  'A version of the model in one state, with the number of pods holding it so.',
  {
    version: integer('Version number (its directory under the base path).', {
      minimum: 1,
      format: 'int64',
    }),
    state: stringEnum(
      "As the runtime's /v1/models/<name> reports it (TF Serving's model_version_status): LOADING, AVAILABLE (warm, serving), UNLOADING (finishing its requests); FAILED is a load that failed (END with an error there).",
      MODEL_VERSION_STATES,
    ),
    replicas: integer('Pods holding the version in this state.', { minimum: 0, format: 'int32' }),
  },
);

export const ModelVersionsStatus = object(
  "The versions the pods serve under model.versionPolicy, read from each running pod's /metrics.",
  {
    versions: optional(
      array('By version (newest first), then state.', ModelVersionStatus, {
        maxItems: 256,
        listType: 'atomic',
      }),
    ),
    available: optional(
      string('Versions AVAILABLE on at least one pod, newest first, e.g. "4,3".', {
        maxLength: 1024,
      }),
    ),
    message: optional(
      string('Why the versions could not be read from every pod, when they could not.', {
        maxLength: 1024,
      }),
    ),
  },
);

export const ModelDeploymentStatus = object('Observed state, written by the operator.', {
  observedGeneration: optional(
    integer('metadata.generation the status was computed from.', { format: 'int64' }),
  ),
  conditions: optional(
    array('kstatus conditions: Ready, Available, Progressing, Reconciling, Stalled.', Condition, {
      maxItems: 16,
      listType: 'map',
      listMapKeys: ['type'],
    }),
  ),
  replicas: optional(integer('Pods of this model (all versions).', { format: 'int32' })),
  readyReplicas: optional(integer('Pods ready to serve.', { format: 'int32' })),
  updatedReplicas: optional(integer('Pods of the target version.', { format: 'int32' })),
  availableReplicas: optional(integer('Pods available for minReadySeconds.', { format: 'int32' })),
  selector: optional(
    string('Label selector of the pods (for the scale subresource and HPA).', { maxLength: 1024 }),
  ),
  url: optional(string('In-cluster URL of the model Service.', { maxLength: 1024 })),
  currentVersion: optional(string('Version all ready pods serve.', { maxLength: 63 })),
  targetVersion: optional(string('Version being rolled out.', { maxLength: 63 })),
  backend: optional(string('Backend reported by the runtime pods.', { maxLength: 63 })),
  model: optional(ModelVersionsStatus),
  canary: optional(CanaryStatus),
  autoscaling: optional(AutoscalingStatus),
  history: optional(
    array('Recent rollouts, newest first.', HistoryEntry, { maxItems: 32, listType: 'atomic' }),
  ),
});

export type Condition = Static<typeof Condition>;
export type HistoryEntry = Static<typeof HistoryEntry>;
export type CanaryStatus = Static<typeof CanaryStatus>;
export type CanaryAnalysisResult = Static<typeof CanaryAnalysisResult>;
export type CanaryPhase = (typeof CANARY_PHASES)[number];
export type ModelDeploymentStatus = Static<typeof ModelDeploymentStatus>;
export type ModelVersionStatus = Static<typeof ModelVersionStatus>;
export type ModelVersionsStatus = Static<typeof ModelVersionsStatus>;
