// The canary rollout's decisions, as a pure function of the ModelDeployment,
// the two Deployments (stable `<name>`, canary `<name>-canary`) and the time.
// The state lives where a restart finds it: which model the stable pods run is
// read from the stable Deployment, and the step from status.canary.
//
// A step: scale the canary to its share of spec.replicas (traffic follows the
// ready pods behind the one Service), wait until they are ready, let them serve
// for pauseSeconds, then analyse. Pass: next step, or promote after the last
// (the stable Deployment moves to the new model; the canary goes once it has).
// Fail, persistent pod failure or abort: roll back (the stable track takes all
// replicas again, the canary goes) and stay rolled back until the spec names
// another version.
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import type {
  CanaryAnalysisResult,
  CanaryStatus,
  ModelDeployment,
} from '../../api/v1alpha1/index.js';
import {
  LABEL_TRACK,
  LABEL_VERSION,
  MODEL_URI_ANNOTATION,
  modelVersion,
} from '../builders/labels.js';
import { rfc3339 } from '../kube/time.js';
import { worstFailure } from '../status/pod-failures.js';
import type { Reason } from '../status/reasons.js';
import { REASON } from '../status/reasons.js';
import { deploymentComplete } from './deployment-progress.js';

/** Annotations for GitOps and kubectl: their value is the version they act on, so they can stay committed. */
export const PROMOTE_ANNOTATION = 'tensorfleet.dev/canary-promote';
export const ABORT_ANNOTATION = 'tensorfleet.dev/canary-abort';

export interface ModelRef {
  uri: string;
  version: string;
}

export interface CanaryObserved {
  stable?: V1Deployment;
  canary?: V1Deployment;
  pods: V1Pod[];
  now: Date;
}

export interface CanaryEvent {
  type: 'Normal' | 'Warning';
  reason: Reason;
  message: string;
}

/** How status should read while the canary runs (overrides the Deployment-based verdict). */
export interface CanaryVerdict {
  reason: Extract<Reason, 'CanaryProgressing' | 'CanaryPaused' | 'CanaryRolledBack'>;
  message: string;
  stalled: boolean;
  /** History outcome for the target version, when it ended this way. */
  rolledBack?: string;
}

export interface CanaryDecision {
  /** True while a canary is running or rolled back (the stable track serves the old model). */
  active: boolean;
  stable: { model: ModelRef; replicas: number };
  /** Apply the canary track, delete it, or leave it as it is (while the stable track catches up). */
  canary: { model: ModelRef; replicas: number } | 'delete' | 'keep';
  status?: CanaryStatus;
  verdict?: CanaryVerdict;
  events: CanaryEvent[];
  /** Set when an analysis is due: read the figures since then and decide again with them. */
  analysisSince?: Date;
  requeueAfterMs?: number;
}

/** The model a Deployment's pods serve, from its labels and annotations. */
export function deployedModel(d: V1Deployment | undefined): ModelRef | undefined {
  const version = d?.spec?.template?.metadata?.labels?.[LABEL_VERSION];
  const uri = d?.metadata?.annotations?.[MODEL_URI_ANNOTATION];
  return version && uri ? { uri, version } : undefined;
}

/** Replicas of each track at a weight: the canary gets its share (at least one), stable keeps at least one until 100. */
export function trackReplicas(total: number, weight: number): { canary: number; stable: number } {
  if (total <= 0) return { canary: 0, stable: 0 };
  const canary = Math.min(total, Math.max(1, Math.round((total * weight) / 100)));
  return { canary, stable: weight >= 100 ? 0 : Math.max(1, total - canary) };
}

/** How soon to look again while an analysis waits for figures. */
export const analysisRetryMs = (pauseSeconds: number) =>
  Math.min(10_000, Math.max(1_000, (pauseSeconds * 1000) / 2));

export function decideCanary(
  md: ModelDeployment,
  observed: CanaryObserved,
  analysis?: CanaryAnalysisResult,
): CanaryDecision {
  const target: ModelRef = { uri: md.spec.model.uri, version: modelVersion(md) };
  const total = md.spec.replicas;
  const spec = md.spec.rollout.canary;
  const stableModel = deployedModel(observed.stable);
  const prev = md.status?.canary;

  const isCanary =
    md.spec.rollout.strategy === 'Canary' &&
    spec !== undefined &&
    stableModel !== undefined &&
    stableModel.version !== target.version;
  if (!isCanary) {
    // No canary (first rollout, RollingUpdate, nothing new), or the stable
    // track now runs the target: a promoted canary stays until it has.
    const decision: CanaryDecision = {
      active: false,
      stable: { model: target, replicas: total },
      canary: 'delete',
      events: [],
    };
    if (observed.canary) {
      const caughtUp =
        deployedModel(observed.stable)?.version === target.version &&
        deploymentComplete(observed.stable, total);
      if (!caughtUp) {
        decision.canary = 'keep';
        if (prev?.version === target.version) {
          decision.status = {
            ...prev,
            phase: 'Promoting',
            message: `promoted: stable pods moving to version ${target.version}`,
          };
        }
      }
    }
    return decision;
  }

  const annotations = md.metadata.annotations ?? {};
  const fresh = prev?.version !== target.version || prev.uri !== target.uri;
  const step = fresh ? 0 : Math.min(prev.step, spec.steps.length - 1);
  const { weight, pauseSeconds } = spec.steps[step]!;
  const base = {
    version: target.version,
    uri: target.uri,
    stableVersion: stableModel.version,
    ...(fresh || !prev.lastAnalysis ? {} : { lastAnalysis: prev.lastAnalysis }),
  };
  const stepStartedAt = !fresh && prev.step === step ? prev.stepStartedAt : undefined;
  /** The step as status holds it: its index, and counted from 1 for people. */
  const at = (index: number): { step: number; stepProgress: string } => ({
    step: index,
    stepProgress: `${index + 1}/${spec.steps.length}`,
  });

  const rollback = (why: string): CanaryDecision => ({
    active: true,
    stable: { model: stableModel, replicas: total },
    canary: 'delete',
    status: {
      ...base,
      ...(analysis ? { lastAnalysis: analysis } : {}),
      phase: 'RolledBack',
      ...at(step),
      ...(stepStartedAt ? { stepStartedAt } : {}),
      weight: 0,
      canaryReplicas: 0,
      stableReplicas: total,
      message: why,
    },
    verdict: {
      reason: REASON.CanaryRolledBack,
      message: `version ${target.version} rolled back, ${stableModel.version} serves: ${why}`,
      stalled: true,
      rolledBack: why,
    },
    events: [
      {
        type: 'Warning',
        reason: REASON.CanaryRolledBack,
        message: `version ${target.version} rolled back to ${stableModel.version}: ${why}`,
      },
    ],
  });
  const promote = (why: string): CanaryDecision => ({
    active: false,
    stable: { model: target, replicas: total },
    canary: 'keep',
    status: {
      ...base,
      ...(analysis ? { lastAnalysis: analysis } : {}),
      phase: 'Promoting',
      ...at(step),
      weight,
      message: `promoted: ${why}`,
    },
    events: [
      {
        type: 'Normal',
        reason: REASON.CanaryPromoted,
        message: `version ${target.version} promoted: ${why}`,
      },
    ],
  });

  if (!fresh && prev.phase === 'RolledBack') {
    const again = rollback(prev.message ?? 'rolled back');
    return { ...again, status: { ...prev, stableReplicas: total }, events: [] };
  }
  if (annotations[ABORT_ANNOTATION] === target.version) {
    return rollback(`aborted by annotation ${ABORT_ANNOTATION}`);
  }
  if (annotations[PROMOTE_ANNOTATION] === target.version) {
    return promote(`by annotation ${PROMOTE_ANNOTATION}`);
  }

  const canaryPods = observed.pods.filter((p) => p.metadata?.labels?.[LABEL_TRACK] === 'canary');
  const failure = worstFailure(canaryPods);
  if (failure?.persistent) {
    return rollback(`canary pods failed: ${failure.reason}: ${failure.message}`);
  }
  const deadline = observed.canary?.status?.conditions?.find(
    (c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded',
  );
  if (deadline && deployedModel(observed.canary)?.version === target.version) {
    return rollback(`canary pods did not become ready: ${deadline.message ?? 'progress deadline'}`);
  }

  const replicas = trackReplicas(total, weight);
  const ready =
    deployedModel(observed.canary)?.version === target.version &&
    deploymentComplete(observed.canary, replicas.canary);
  const startedAt = stepStartedAt ? new Date(stepStartedAt) : ready ? observed.now : undefined;
  const paused = spec.paused;
  const stepName = `step ${step + 1}/${spec.steps.length} (${weight}%)`;
  const running = (message: string, extra: Partial<CanaryDecision> = {}): CanaryDecision => ({
    active: true,
    stable: { model: stableModel, replicas: replicas.stable },
    canary: { model: target, replicas: replicas.canary },
    status: {
      ...base,
      ...(analysis ? { lastAnalysis: analysis } : {}),
      phase: paused ? 'Paused' : 'Progressing',
      ...at(step),
      weight,
      ...(startedAt ? { stepStartedAt: rfc3339(startedAt) } : {}),
      canaryReplicas: replicas.canary,
      stableReplicas: replicas.stable,
      message,
    },
    verdict: {
      reason: paused ? REASON.CanaryPaused : REASON.CanaryProgressing,
      message: `canary ${target.version} at ${stepName}: ${message}`,
      stalled: false,
    },
    events: [],
    ...extra,
  });

  if (!startedAt) return running(`waiting for ${replicas.canary} canary pods to be ready`);
  const dueAt = startedAt.getTime() + pauseSeconds * 1000;
  if (observed.now.getTime() < dueAt) {
    return running(`serving; analysis at ${rfc3339(new Date(dueAt))}`, {
      requeueAfterMs: dueAt - observed.now.getTime(),
    });
  }
  if (!analysis) return running('analysing', { analysisSince: startedAt });

  if (analysis.passed === 'False') {
    return rollback(`analysis failed at ${stepName}: ${analysis.message ?? ''}`);
  }
  if (analysis.passed !== 'True') {
    return running(analysis.message ?? 'waiting for figures', {
      requeueAfterMs: analysisRetryMs(pauseSeconds),
    });
  }
  if (paused) {
    return running(`paused (rollout.canary.paused); analysis passing: ${analysis.message ?? ''}`, {
      requeueAfterMs: analysisRetryMs(pauseSeconds),
    });
  }
  if (step === spec.steps.length - 1) {
    return promote(`analysis passed at every step (${analysis.message ?? ''})`);
  }
  const next = spec.steps[step + 1]!;
  const nextReplicas = trackReplicas(total, next.weight);
  return {
    active: true,
    stable: { model: stableModel, replicas: nextReplicas.stable },
    canary: { model: target, replicas: nextReplicas.canary },
    status: {
      ...base,
      lastAnalysis: analysis,
      phase: 'Progressing',
      ...at(step + 1),
      weight: next.weight,
      canaryReplicas: nextReplicas.canary,
      stableReplicas: nextReplicas.stable,
      message: `${stepName} passed; waiting for ${nextReplicas.canary} canary pods to be ready`,
    },
    verdict: {
      reason: REASON.CanaryProgressing,
      message: `canary ${target.version} moving to step ${step + 2}/${spec.steps.length} (${next.weight}%)`,
      stalled: false,
    },
    events: [
      {
        type: 'Normal',
        reason: REASON.CanaryStepPassed,
        message: `${stepName} passed (${analysis.message ?? ''}); moving to ${next.weight}%`,
      },
    ],
  };
}
