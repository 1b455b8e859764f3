// Computes ModelDeployment.status from what the cluster shows, or from a
// failure to act on the spec: every status the operator writes is assembled
// here. Pure: the same inputs give the same status, and timestamps only move
// on real transitions, so an idle cluster produces no status writes.
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import type {
  CanaryStatus,
  Condition,
  ConditionType,
  HistoryEntry,
  ModelDeployment,
  ModelDeploymentStatus,
  ModelVersionsStatus,
} from '../../api/v1alpha1/index.js';
import { LABEL_VERSION, modelSelector, modelVersion, selectorString } from '../builders/labels.js';
import { serviceURL } from '../builders/service.js';
import type { CanaryVerdict } from '../rollout/canary.js';
import { deploymentComplete } from '../rollout/deployment-progress.js';
import { worstFailure } from './pod-failures.js';
import { routable } from './routed-pods.js';
import { podReady } from '../kube/pod-ready.js';
import type { Reason } from './reasons.js';
import { REASON } from './reasons.js';

/** A problem of the operator's own (not the pods'), such as a missing optional CRD. */
export interface Problem {
  reason: Reason;
  message: string;
}

export interface ObservedState {
  /** The stable Deployment, as last read. */
  deployment?: V1Deployment;
  /** The canary Deployment, while there is one. */
  canaryDeployment?: V1Deployment;
  /** While a canary runs or was rolled back: what status should say instead. */
  canary?: CanaryVerdict & { stableVersion: string };
  /** status.canary as the canary's decision leaves it; unset removes it. */
  canaryStatus?: CanaryStatus;
  /** status.autoscaling from the engine in charge of replicas; unset removes it. */
  autoscaling?: ModelDeploymentStatus['autoscaling'];
  /** status.model: the versions the pods hold (with spec.model.versionPolicy only). */
  modelVersions?: ModelVersionsStatus;
  /** Pods of the model (all versions). */
  pods: V1Pod[];
  /** Pods the model's Service routes to (routed-pods.ts); unset skips that check. */
  routed?: ReadonlySet<string>;
  problems: Problem[];
  /** Current time, ISO 8601 with second precision. */
  now: string;
  /** How the rollout is being carried out, when it differs from the spec (e.g. in place). */
  rolloutNote?: Problem;
}

export const HISTORY_LIMIT = 10;

interface Verdict {
  ready: boolean;
  available: boolean;
  stalled: boolean;
  rolling: boolean;
  reason: Reason;
  message: string;
  /** Set when the target version was rolled back, with why. */
  rolledBack?: string;
}

function judge(md: ModelDeployment, observed: ObservedState, target: string): Verdict {
  const d = observed.deployment;
  const desired = md.spec.replicas;
  const ready = d?.status?.readyReplicas ?? 0;
  const available = (d?.status?.availableReplicas ?? 0) > 0 || desired === 0;
  const complete = deploymentComplete(d, desired);
  const targetPods = observed.pods.filter((p) => p.metadata?.labels?.[LABEL_VERSION] === target);
  const failure = worstFailure(targetPods.length ? targetPods : observed.pods);
  const deadline = d?.status?.conditions?.find(
    (c) =>
      c.type === 'Progressing' && c.status === 'False' && c.reason === 'ProgressDeadlineExceeded',
  );
  const replicaFailure = d?.status?.conditions?.find(
    (c) => c.type === 'ReplicaFailure' && c.status === 'True',
  );
  const problem = observed.problems[0];

  if (observed.canary) {
    const c = observed.canary;
    const canaryAvailable = (observed.canaryDeployment?.status?.availableReplicas ?? 0) > 0;
    return {
      ready: false,
      available: available || canaryAvailable,
      stalled: c.stalled,
      rolling: true,
      reason: c.reason,
      // A problem with an owned object (e.g. no HTTPRoute CRD) still shows.
      message: problem ? `${c.message}; ${problem.reason}: ${problem.message}` : c.message,
      ...(c.rolledBack ? { rolledBack: c.rolledBack } : {}),
    };
  }
  if (!d) {
    return {
      ready: false,
      available: false,
      stalled: false,
      rolling: true,
      reason: REASON.Creating,
      message: 'creating the Deployment',
    };
  }
  const unrouted =
    observed.routed === undefined
      ? 0
      : targetPods.filter(
          (p) =>
            !p.metadata?.deletionTimestamp &&
            podReady(p) &&
            routable(p) &&
            !observed.routed?.has(p.metadata?.name ?? ''),
        ).length;
  if (complete && !problem && unrouted > 0) {
    return {
      ready: false,
      available,
      stalled: false,
      rolling: true,
      reason: REASON.WaitingForEndpoints,
      message: `${unrouted} ready pod${unrouted > 1 ? 's are' : ' is'} not yet in the Service's endpoints`,
    };
  }
  if (complete && !problem) {
    return {
      ready: true,
      available: true,
      stalled: false,
      rolling: false,
      reason: desired === 0 ? REASON.ScaledToZero : REASON.ModelServing,
      message:
        desired === 0
          ? 'scaled to zero replicas'
          : `${ready}/${desired} replicas serving version ${target}`,
    };
  }
  if (failure) {
    const of = failure.count > 1 ? ` (${failure.count} pods)` : '';
    return {
      ready: false,
      available,
      stalled: failure.persistent || deadline !== undefined,
      rolling: !complete,
      reason: failure.reason,
      message: `${failure.message}${of}`,
    };
  }
  if (replicaFailure) {
    return {
      ready: false,
      available,
      stalled: true,
      rolling: !complete,
      // The Deployment's own reason, FailedCreate or FailedDelete (its ReplicaSet's).
      reason: (replicaFailure.reason ?? REASON.FailedCreate) as Reason,
      message: replicaFailure.message ?? 'pods cannot be created',
    };
  }
  if (deadline) {
    return {
      ready: false,
      available,
      stalled: true,
      rolling: true,
      reason: REASON.ProgressDeadlineExceeded,
      message: deadline.message ?? `no progress in ${md.spec.rollout.progressDeadlineSeconds}s`,
    };
  }
  if (problem) {
    return {
      ready: complete,
      available,
      stalled: true,
      rolling: false,
      reason: problem.reason,
      message: problem.message,
    };
  }
  return {
    ready: false,
    available,
    stalled: false,
    rolling: true,
    reason: REASON.RollingOut,
    message: `${ready}/${desired} replicas ready, ${d.status?.updatedReplicas ?? 0} on version ${target}`,
  };
}

/** Sets a condition, keeping lastTransitionTime when the status did not change. */
function setCondition(
  conditions: Condition[],
  type: ConditionType,
  status: boolean,
  reason: Reason,
  message: string,
  generation: number,
  now: string,
): Condition[] {
  const value = status ? 'True' : 'False';
  const old = conditions.find((c) => c.type === type);
  const next: Condition = {
    type,
    status: value,
    observedGeneration: generation,
    lastTransitionTime: old && old.status === value ? old.lastTransitionTime : now,
    reason,
    message,
  };
  return [...conditions.filter((c) => c.type !== type), next];
}

const CONDITION_ORDER: ConditionType[] = [
  'Ready',
  'Available',
  'Progressing',
  'Reconciling',
  'Stalled',
];

function updateHistory(
  history: HistoryEntry[],
  md: ModelDeployment,
  target: string,
  verdict: Verdict,
  now: string,
): HistoryEntry[] {
  let out = history.map((h) => ({ ...h }));
  const head = out[0];
  if (!head || head.version !== target || head.uri !== md.spec.model.uri) {
    if (head?.outcome === 'Progressing') {
      Object.assign(head, {
        outcome: 'Superseded',
        finishedAt: now,
        reason: `superseded by version ${target}`,
      });
    }
    out = [
      { version: target, uri: md.spec.model.uri, startedAt: now, outcome: 'Progressing' },
      ...out,
    ];
  }
  const current = out[0]!;
  if (current.outcome === 'Progressing' && verdict.rolledBack) {
    Object.assign(current, {
      outcome: 'RolledBack',
      finishedAt: now,
      reason: verdict.rolledBack.slice(0, 1024),
    });
  } else if (current.outcome === 'Progressing' && verdict.ready) {
    Object.assign(current, { outcome: 'Succeeded', finishedAt: now });
  } else if (current.outcome === 'Progressing' && verdict.stalled && verdict.rolling) {
    Object.assign(current, {
      outcome: 'Failed',
      finishedAt: now,
      reason: `${verdict.reason}: ${verdict.message}`.slice(0, 1024),
    });
  } else if (current.outcome === 'Failed' && verdict.ready) {
    // Recovered on its own (e.g. capacity arrived): the rollout did finish.
    Object.assign(current, { outcome: 'Succeeded', finishedAt: now });
    delete current.reason;
  }
  return out.slice(0, HISTORY_LIMIT);
}

export function computeStatus(md: ModelDeployment, observed: ObservedState): ModelDeploymentStatus {
  const previous = md.status ?? {};
  const generation = md.metadata.generation ?? 0;
  const target = modelVersion(md);
  const v = judge(md, observed, target);
  const d = observed.deployment?.status;
  const cd = observed.canaryDeployment?.status;

  let conditions = previous.conditions ?? [];
  const set = (type: ConditionType, status: boolean, reason: Reason, message: string) => {
    conditions = setCondition(conditions, type, status, reason, message, generation, observed.now);
  };
  set('Ready', v.ready, v.reason, v.message);
  set(
    'Available',
    v.available,
    v.available ? REASON.MinimumReplicasAvailable : v.reason,
    v.available ? `${d?.availableReplicas ?? 0} replicas available` : v.message,
  );
  if (v.rolling && v.stalled) set('Progressing', false, v.reason, v.message);
  else if (v.rolling) {
    const note = observed.canary
      ? { reason: v.reason, message: v.message }
      : (observed.rolloutNote ?? {
          reason: REASON.RolloutInProgress,
          message: `rolling out version ${target}`,
        });
    set('Progressing', true, note.reason, note.message);
  } else set('Progressing', true, REASON.RolloutComplete, `version ${target} rolled out`);
  set(
    'Reconciling',
    !v.ready && !v.stalled,
    v.ready || v.stalled ? REASON.Idle : v.reason,
    v.ready || v.stalled ? '' : v.message,
  );
  set('Stalled', v.stalled, v.stalled ? v.reason : REASON.Progressing, v.stalled ? v.message : '');
  conditions.sort(
    (a, b) =>
      CONDITION_ORDER.indexOf(a.type as ConditionType) -
      CONDITION_ORDER.indexOf(b.type as ConditionType),
  );

  const readyVersions = new Set(
    observed.pods.filter(podReady).map((p) => p.metadata?.labels?.[LABEL_VERSION]),
  );
  const onlyVersion = readyVersions.size === 1 ? [...readyVersions][0] : undefined;
  const currentVersion = observed.canary
    ? observed.canary.stableVersion
    : v.ready
      ? target
      : (onlyVersion ?? previous.currentVersion);

  const status: ModelDeploymentStatus = {
    ...previous,
    observedGeneration: generation,
    conditions,
    replicas: (d?.replicas ?? 0) + (cd?.replicas ?? 0),
    readyReplicas: (d?.readyReplicas ?? 0) + (cd?.readyReplicas ?? 0),
    // While a canary runs, the pods of the target version are the canary's.
    updatedReplicas: observed.canary ? (cd?.updatedReplicas ?? 0) : (d?.updatedReplicas ?? 0),
    availableReplicas: (d?.availableReplicas ?? 0) + (cd?.availableReplicas ?? 0),
    selector: selectorString(modelSelector(md)),
    url: serviceURL(md),
    targetVersion: target,
    history: updateHistory(previous.history ?? [], md, target, v, observed.now),
  };
  if (currentVersion) status.currentVersion = currentVersion;
  if (observed.canaryStatus) status.canary = observed.canaryStatus;
  else delete status.canary;
  if (observed.autoscaling) status.autoscaling = observed.autoscaling;
  else delete status.autoscaling;
  if (md.spec.model.versionPolicy) {
    status.model = observed.modelVersions ?? { message: 'the versions have not been read yet' };
  } else delete status.model;
  return status;
}

/**
 * Status when the operator cannot act on the spec at all (it is invalid, or
 * the API server refuses what was built from it): Stalled with the reason,
 * neither Ready nor Reconciling; the rest as it was.
 */
export function failedStatus(
  md: ModelDeployment,
  reason: Reason,
  message: string,
  now: string,
): ModelDeploymentStatus {
  const previous = md.status ?? {};
  const generation = md.metadata.generation ?? 0;
  let conditions = previous.conditions ?? [];
  for (const [type, value] of [
    ['Ready', false],
    ['Reconciling', false],
    ['Stalled', true],
  ] as const) {
    conditions = setCondition(conditions, type, value, reason, message, generation, now);
  }
  return { ...previous, observedGeneration: generation, conditions };
}
