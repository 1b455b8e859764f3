// Reads why pods are not serving, in the words a user needs: the scheduler's
// message, the image pull error, the runtime's own termination message.
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import type { Reason } from './reasons.js';
import { REASON } from './reasons.js';

export type FailureReason = Extract<
  Reason,
  | 'Unschedulable'
  | 'ImagePullBackOff'
  | 'CrashLoopBackOff'
  | 'ModelLoadFailed'
  | 'CreateContainerConfigError'
>;

export interface PodFailure {
  reason: FailureReason;
  message: string;
  pod: string;
  /** Needs a person (bad image, bad model, missing Secret), not time. */
  persistent: boolean;
}

const PULL_REASONS = new Set([
  'ImagePullBackOff',
  'ErrImagePull',
  'InvalidImageName',
  'ErrImageNeverPull',
]);
const CONFIG_REASONS = new Set(['CreateContainerConfigError', 'CreateContainerError']);

function lastTermination(cs: V1ContainerStatus) {
  return cs.state?.terminated ?? cs.lastState?.terminated;
}

/**
 * Error codes the runtime (and its `fetch` init command) writes as
 * "<CODE>: <message>" to the termination log, or prints to stderr as
 * "tensorfleet-runtime: <CODE>: <message>" (which FallbackToLogsOnError
 * surfaces): the model could not be fetched or loaded.
 */
const MODEL_FAILURE =
  /(?:^|tensorfleet-runtime: )((?:MODEL_LOAD_FAILED|MODEL_NOT_FOUND|SIGNATURE_NOT_FOUND|FORMAT_[A-Z_]+|BACKEND_UNAVAILABLE|FETCH_[A-Z_]+)): ([^\n]*)/m;

function isModelLoadFailure(cs: V1ContainerStatus): string | undefined {
  const message = (lastTermination(cs)?.message ?? '').trim();
  const m = MODEL_FAILURE.exec(message);
  return m ? `${m[1]}: ${m[2]!.trim()}` : undefined;
}

/** Words of the scheduler's DRA plugin ("cannot allocate all claims", "device class ... does not exist", ...). */
const DRA_MESSAGE = /claim|device/i;

/**
 * The scheduler's message names no claim: with DRA, add which of the pod's
 * ResourceClaims (or, before one is made, their templates) it is about.
 */
function withClaims(pod: V1Pod, message: string): string {
  const claims = pod.spec?.resourceClaims ?? [];
  if (claims.length === 0 || !DRA_MESSAGE.test(message)) return message;
  const made = new Map(
    (pod.status?.resourceClaimStatuses ?? []).map((s) => [s.name, s.resourceClaimName]),
  );
  const named = claims.map((c) => {
    const claim = made.get(c.name) ?? c.resourceClaimName;
    if (claim) return `ResourceClaim ${claim}`;
    return `ResourceClaim from ResourceClaimTemplate ${c.resourceClaimTemplateName ?? c.name}`;
  });
  return `${message} (${named.join(', ')})`;
}

/** The most telling failure of one pod, or undefined when it is fine or just starting. */
export function podFailure(pod: V1Pod): PodFailure | undefined {
  const name = pod.metadata?.name ?? '';
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    return {
      reason: REASON.Unschedulable,
      message: withClaims(pod, scheduled.message ?? 'no node fits the pod'),
      pod: name,
      persistent: false,
    };
  }
  const statuses = [
    ...(pod.status?.initContainerStatuses ?? []).map((cs) => ({ cs, init: true })),
    ...(pod.status?.containerStatuses ?? []).map((cs) => ({ cs, init: false })),
  ];
  for (const { cs, init } of statuses) {
    const waiting = cs.state?.waiting;
    const where = `${init ? 'init container' : 'container'} ${cs.name}`;
    if (waiting?.reason && PULL_REASONS.has(waiting.reason)) {
      return {
        reason: REASON.ImagePullBackOff,
        message: `${where}: ${waiting.message ?? `cannot pull image ${cs.image}`}`,
        pod: name,
        persistent: true,
      };
    }
    if (waiting?.reason && CONFIG_REASONS.has(waiting.reason)) {
      return {
        reason: REASON.CreateContainerConfigError,
        message: `${where}: ${waiting.message ?? waiting.reason}`,
        pod: name,
        persistent: true,
      };
    }
    const loadFailure = isModelLoadFailure(cs);
    if (
      loadFailure !== undefined &&
      (waiting?.reason === 'CrashLoopBackOff' || cs.state?.terminated)
    ) {
      return {
        reason: REASON.ModelLoadFailed,
        message: `${where}: ${loadFailure}`,
        pod: name,
        persistent: true,
      };
    }
    if (waiting?.reason === 'CrashLoopBackOff') {
      const t = lastTermination(cs);
      const detail = t
        ? `exit code ${t.exitCode}${t.message ? `: ${t.message.trim()}` : ''}`
        : waiting.message;
      return {
        reason: REASON.CrashLoopBackOff,
        message: `${where} keeps crashing (${cs.restartCount} restarts): ${detail ?? 'no message'}`,
        pod: name,
        persistent: true,
      };
    }
  }
  return undefined;
}

const SEVERITY: Record<FailureReason, number> = {
  ModelLoadFailed: 5,
  CreateContainerConfigError: 4,
  ImagePullBackOff: 3,
  CrashLoopBackOff: 2,
  Unschedulable: 1,
};

/** The failure to report for a set of pods: the most severe, then the most common. */
export function worstFailure(pods: V1Pod[]): (PodFailure & { count: number }) | undefined {
  const failures = pods.map(podFailure).filter((f): f is PodFailure => f !== undefined);
  if (failures.length === 0) return undefined;
  failures.sort((a, b) => SEVERITY[b.reason] - SEVERITY[a.reason] || a.pod.localeCompare(b.pod));
  const worst = failures[0]!;
  return { ...worst, count: failures.filter((f) => f.reason === worst.reason).length };
}
