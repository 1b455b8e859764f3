// Reads why pods are not serving, in the words a user needs: the scheduler's
// message, the image pull error, the runtime's own termination message.
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';

export type FailureReason =
  | 'Unschedulable'
  | 'ImagePullBackOff'
  | 'CrashLoopBackOff'
  | 'ModelLoadFailed'
  | 'CreateContainerConfigError';

export interface PodFailure {
  reason: FailureReason;
  message: string;
  pod: string;
  /** Needs a person (bad image, bad model, missing Secret), not time. */
  persistent: boolean;
}

/** Exit code and termination-message prefix the runtime uses when a model cannot be loaded. */
export const MODEL_LOAD_EXIT_CODE = 3;
export const MODEL_LOAD_PREFIX = 'ModelLoadFailed:';

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

function isModelLoadFailure(cs: V1ContainerStatus): string | undefined {
  const t = lastTermination(cs);
  if (!t) return undefined;
  const message = (t.message ?? '').trim();
  if (message.startsWith(MODEL_LOAD_PREFIX)) return message.slice(MODEL_LOAD_PREFIX.length).trim();
  if (t.exitCode === MODEL_LOAD_EXIT_CODE) return message || `exit code ${MODEL_LOAD_EXIT_CODE}`;
  return undefined;
}

/** The most telling failure of one pod, or undefined when it is fine or just starting. */
export function podFailure(pod: V1Pod): PodFailure | undefined {
  const name = pod.metadata?.name ?? '';
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    return {
      reason: 'Unschedulable',
      message: scheduled.message ?? 'no node fits the pod',
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
        reason: 'ImagePullBackOff',
        message: `${where}: ${waiting.message ?? `cannot pull image ${cs.image}`}`,
        pod: name,
        persistent: true,
      };
    }
    if (waiting?.reason && CONFIG_REASONS.has(waiting.reason)) {
      return {
        reason: 'CreateContainerConfigError',
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
        reason: 'ModelLoadFailed',
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
        reason: 'CrashLoopBackOff',
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
