// Which status changes are transitions: the ones written at once (others
// wait to be folded into the next one, writer.ts), and the ones a user looks
// back for, recorded as Events. Pure.
import type { ModelDeploymentStatus } from '../../api/v1alpha1/index.js';
import type { EventType } from '../events.js';
import { REASON } from './reasons.js';

export interface TransitionEvent {
  type: EventType;
  reason: string;
  message: string;
  /** The Event's action; the recorder's default (Reconcile) when unset. */
  action?: string;
}

/** The parts of status whose change is a transition worth writing at once. */
export function significant(s: ModelDeploymentStatus): unknown {
  return {
    observedGeneration: s.observedGeneration,
    conditions: (s.conditions ?? []).map((c) => [c.type, c.status, c.reason]),
    targetVersion: s.targetVersion,
    history: s.history,
    canary: s.canary,
    autoscaling: s.autoscaling,
    selector: s.selector,
    url: s.url,
  };
}

/** The Events that the change from `before` to `after` deserves, in order. */
export function transitionEvents(
  before: ModelDeploymentStatus,
  after: ModelDeploymentStatus,
): TransitionEvent[] {
  const cond = (s: ModelDeploymentStatus, type: string) =>
    s.conditions?.find((c) => c.type === type);
  const readyBefore = cond(before, 'Ready');
  const readyAfter = cond(after, 'Ready');
  const stalledAfter = cond(after, 'Stalled');
  const stalledBefore = cond(before, 'Stalled');
  const head = after.history?.[0];
  const headBefore = before.history?.[0];
  const events: TransitionEvent[] = [];
  if (
    head &&
    (headBefore?.version !== head.version || headBefore.uri !== head.uri) &&
    before.history?.length
  ) {
    events.push({
      type: 'Normal',
      reason: REASON.RolloutStarted,
      message: `rolling out version ${head.version} from ${head.uri}`,
      action: 'Rollout',
    });
  }
  // A new model becoming ready shows in its status; an event marks what a
  // user looks back for: a new version serving, or recovery from a failure
  // (like Deployments, which record no event for their first availability).
  const firstRollout = (before.history?.length ?? 0) <= 1 && stalledBefore?.status !== 'True';
  if (readyAfter?.status === 'True' && readyBefore?.status !== 'True' && !firstRollout) {
    events.push({ type: 'Normal', reason: REASON.ModelReady, message: readyAfter.message });
  }
  if (
    stalledAfter?.status === 'True' &&
    (stalledBefore?.status !== 'True' || stalledBefore.reason !== stalledAfter.reason)
  ) {
    events.push({ type: 'Warning', reason: stalledAfter.reason, message: stalledAfter.message });
  } else if (
    readyAfter?.status === 'False' &&
    readyAfter.reason === REASON.Unschedulable &&
    readyBefore?.reason !== REASON.Unschedulable
  ) {
    events.push({ type: 'Warning', reason: REASON.Unschedulable, message: readyAfter.message });
  }
  return events;
}
